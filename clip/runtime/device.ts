/**
 * Device start-up: before any work, check that the chosen ONNX Runtime provider can start here, and name the
 * adapter it runs on (recorded in the run manifest and shown by `inspect`).
 *
 * The check runs a 2×2 MatMul in a child Node process, for two reasons: a WebGPU adapter that cannot start may
 * abort the process inside Dawn instead of throwing, and onnxruntime-node exposes no adapter info to JavaScript,
 * while the Vulkan loader, asked with VK_LOADER_DEBUG=driver, names the device Dawn opened ("Using "<name>" with
 * driver ..."). On Metal/D3D12 there is no such log, and the adapter is named by its backend only.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultCacheDir } from '../../util/cache-dir.ts';
import { UserError, errorMessage } from '../../util/errors.ts';
import { Graph } from '../graph/graph.ts';
import { matmul } from '../graph/ops.ts';
import { type Device, cachedGraphPath } from './onnx-session.ts';

export interface DeviceInfo {
  device: Device;
  /** the adapter's name, e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)', 'NVIDIA H100 80GB HBM3', or the CPU model */
  adapter: string;
  /** a software rasteriser (Mesa's lavapipe/llvmpipe, SwiftShader): correct, but slower than the CPU provider */
  software: boolean;
}

/** 'auto' picks a hardware GPU when one starts (WebGPU first, then CUDA), never a software adapter; else the CPU. */
export type DeviceChoice = Device | 'auto';

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|libvulkan_lvp/i;
const PROBE_TIMEOUT_MS = 120_000; // the first shader compile on lavapipe under load takes seconds

const INSTALL_HINT: Record<Exclude<Device, 'cpu'>, string> = {
  webgpu: 'install a Vulkan driver and loader (Linux: the GPU vendor\'s driver, or `apt-get install mesa-vulkan-drivers libvulkan1` with Mesa 23 or newer, e.g. from bookworm-backports; Windows: a D3D12 driver; macOS: Metal is built in); see docs/gpu.md',
  cuda: 'install onnxruntime-node\'s CUDA provider (libonnxruntime_providers_cuda.so, with CUDA 12 and cuDNN 9) or use --device webgpu; see docs/gpu.md',
};

/**
 * Dawn's Vulkan backend reads XDG_RUNTIME_DIR and warns on every start when it is unset (containers, cron, Slurm):
 * give it a private folder of this user.
 */
export function ensureRuntimeDir(env: NodeJS.ProcessEnv = process.env): void {
  if (env.XDG_RUNTIME_DIR) return;
  const dir = join(tmpdir(), `starword-runtime-${userInfo().uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  env.XDG_RUNTIME_DIR = dir;
}

/** Where onnxruntime-node keeps its native libraries for this platform. */
function ortNativeDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/** The CUDA provider library, when present and not the empty placeholder starword's preinstall leaves. */
export function cudaProviderLibrary(): string | null {
  const file = join(ortNativeDir(), process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
  return existsSync(file) && statSync(file).size > 0 ? file : null;
}

// The child: loads onnxruntime-node from the parent's install, runs y = a·w once on the provider alone, prints y.
const PROBE_SCRIPT = `
const [ortPath, modelPath, provider] = process.argv.slice(1);
const ort = require(ortPath);
(async () => {
  const s = await ort.InferenceSession.create(modelPath, { executionProviders: [provider], logSeverityLevel: 3 });
  const r = await s.run({ a: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [2, 2]) });
  process.stdout.write(JSON.stringify(Array.from(r.y.data)) + '\\n');
})().catch((e) => { process.stderr.write('probe-error: ' + String(e && e.message || e).split('\\n')[0] + '\\n'); process.exit(3); });
`;
const PROBE_EXPECTED = [7, 10, 15, 22]; // [[1,2],[3,4]]·[[1,2],[3,4]]

function probeModel(cacheDir: string): string {
  return cachedGraphPath({ kind: 'device-probe' }, () => {
    const G = new Graph();
    const a = G.input('a', 'float', [2, 2]);
    // external-data threshold is 1 KiB: this weight stays inline
    G.output(matmul(G, a, G.weight('w', [2, 2], Float32Array.from([1, 2, 3, 4]))), 'y');
    return G;
  }, cacheDir);
}

interface ProbeResult { ok: boolean; reason: string; loaderLog: string }

function runProbe(provider: string, cacheDir: string, baseEnv: NodeJS.ProcessEnv): ProbeResult {
  const require = createRequire(import.meta.url);
  const env = { ...baseEnv, VK_LOADER_DEBUG: 'driver' };
  const res = spawnSync(process.execPath, ['-e', PROBE_SCRIPT, require.resolve('onnxruntime-node'), probeModel(cacheDir), provider],
    { env, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, maxBuffer: 64 << 20 });
  const stderr = res.stderr ?? '';
  if (res.error) return { ok: false, reason: errorMessage(res.error), loaderLog: stderr };
  const probeError = /probe-error: (.*)/.exec(stderr)?.[1];
  if (res.status !== 0) {
    const why = probeError ?? (res.signal ? `the probe was killed by ${res.signal}` : `the probe exited with ${res.status}`);
    // ORT prefixes its message with the source line and the failed check: keep what follows
    return { ok: false, reason: why.replace(/^.*? was false\. /, '').trim(), loaderLog: stderr };
  }
  let y: unknown;
  try { y = JSON.parse(res.stdout.trim().split('\n').pop() ?? ''); } catch { y = null; }
  const right = Array.isArray(y) && y.length === 4 && y.every((v, i) => v === PROBE_EXPECTED[i]);
  return right ? { ok: true, reason: '', loaderLog: stderr } : { ok: false, reason: `a 2×2 MatMul gave ${JSON.stringify(y)}, not ${JSON.stringify(PROBE_EXPECTED)}`, loaderLog: stderr };
}

/** The Vulkan device Dawn opened, from the loader's log ("Using "<name>" with driver: "<lib>""). */
export function vulkanDeviceFromLog(log: string): { name: string; driver: string } | null {
  const matches = [...log.matchAll(/Using "([^"]+)" with driver: "([^"]+)"/g)];
  const last = matches.at(-1);
  return last ? { name: last[1], driver: last[2] } : null;
}

function backendName(): string {
  return process.platform === 'darwin' ? 'Metal' : process.platform === 'win32' ? 'D3D12' : 'Vulkan';
}

function nvidiaGpuName(): string | null {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim().split('\n')[0] || null;
  } catch {
    return null;
  }
}

/** The check itself, not memoised; `env` is the probe's environment (tests point VK_DRIVER_FILES nowhere). */
export async function startDevice(device: Device, cacheDir = defaultCacheDir(), env: NodeJS.ProcessEnv = process.env): Promise<DeviceInfo> {
  if (device === 'cpu') return { device, adapter: cpus()[0]?.model?.trim() || 'CPU', software: false };
  if (device === 'cuda' && !cudaProviderLibrary()) {
    throw new UserError(`--device cuda: onnxruntime-node's CUDA provider is not installed (no ${join(ortNativeDir(), 'libonnxruntime_providers_cuda.so')}); ${INSTALL_HINT.cuda}`);
  }
  if (device === 'webgpu') ensureRuntimeDir(env);
  const probe = runProbe(device, cacheDir, env);
  if (!probe.ok) throw new UserError(`--device ${device}: could not start (${probe.reason}); ${INSTALL_HINT[device]}`);
  if (device === 'cuda') return { device, adapter: nvidiaGpuName() ?? 'CUDA device 0', software: false };
  const vk = vulkanDeviceFromLog(probe.loaderLog);
  const adapter = vk ? vk.name : `${backendName()} adapter (name not reported)`;
  return { device, adapter, software: SOFTWARE_ADAPTER.test(vk ? `${vk.name} ${vk.driver}` : '') };
}

const started = new Map<string, Promise<DeviceInfo>>();

/**
 * Checks once per process that `device` starts, and names its adapter; a device that cannot start throws a
 * UserError of one line naming it and what to install (exit 2). 'auto' resolves to a hardware GPU or the CPU.
 */
export function openDevice(choice: DeviceChoice = 'cpu', cacheDir = defaultCacheDir()): Promise<DeviceInfo> {
  let p = started.get(choice);
  if (!p) {
    p = choice === 'auto' ? autoDevice(cacheDir) : startDevice(choice, cacheDir);
    started.set(choice, p);
    p.catch(() => started.delete(choice)); // a later call may retry (e.g. after the user fixed XDG_RUNTIME_DIR)
  }
  return p;
}

async function autoDevice(cacheDir: string): Promise<DeviceInfo> {
  for (const device of ['webgpu', 'cuda'] as const) {
    if (device === 'cuda' && !cudaProviderLibrary()) continue;
    try {
      const info = await openDevice(device, cacheDir);
      if (!info.software) return info; // never a software rasteriser: the CPU provider is faster than lavapipe
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
    }
  }
  return openDevice('cpu', cacheDir);
}

/** The device and its adapter, as run.json records them: 'webgpu on NVIDIA H100 80GB HBM3'. */
export function deviceName(info: DeviceInfo): string {
  return `${info.device} on ${info.adapter}`;
}

/** One line for logs: 'webgpu on llvmpipe (LLVM 15.0.6, 256 bits) (software adapter: correct but slow)'. */
export function describeDevice(info: DeviceInfo): string {
  return `${deviceName(info)}${info.software ? ' (software adapter: correct but slow)' : ''}`;
}
