/** Device start-up: the check before any work, its one-line refusals, the adapter's name, and where it is recorded. */
import test from 'ava';
import { join } from 'node:path';
import { cudaProviderLibrary, ensureRuntimeDir, openDevice, startDevice, vulkanDeviceFromLog } from '../../clip/runtime/device.ts';
import { formatReport, inspectRun } from '../../pipeline/inspect-run.ts';
import { configFingerprint, openRunManifest, type RunRequest } from '../../pipeline/run-manifest.ts';
import { UserError } from '../../util/errors.ts';
import { forEachDevice } from '../helpers/devices.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { tempDir } from '../embed/helpers.ts';

const cacheDir = testCacheDir();

test('the Vulkan loader\'s log names the device Dawn opened (the last one used)', (t) => {
  const log = [
    'INFO | DRIVER:    linux_read_sorted_physical_devices:',
    'INFO | DRIVER:               [0] NVIDIA H100 80GB HBM3',
    'INFO | DRIVER:               [1] llvmpipe (LLVM 15.0.6, 256 bits)',
    'DRIVER | LAYER:          Using "NVIDIA H100 80GB HBM3" with driver: "libGLX_nvidia.so.0"',
  ].join('\n');
  t.deepEqual(vulkanDeviceFromLog(log), { name: 'NVIDIA H100 80GB HBM3', driver: 'libGLX_nvidia.so.0' });
  t.is(vulkanDeviceFromLog('nothing here'), null);
});

test('cpu starts and is named by the CPU model', async (t) => {
  const info = await openDevice('cpu', cacheDir);
  t.is(info.device, 'cpu');
  t.false(info.software);
  t.true(info.adapter.length > 0);
});

test('webgpu with no Vulkan driver: one line naming the device and what to install', async (t) => {
  const env = { ...process.env, VK_DRIVER_FILES: join(cacheDir, 'no-such-icd.json'), VK_ICD_FILENAMES: join(cacheDir, 'no-such-icd.json') };
  const err = await t.throwsAsync(startDevice('webgpu', cacheDir, env), { instanceOf: UserError });
  t.is(err!.exitCode, 2);
  t.false(err!.message.includes('\n'));
  t.regex(err!.message, /^--device webgpu: could not start \(.*adapter.*\); install a Vulkan driver/);
  t.false(err!.message.includes('onnxruntime_src'), 'ORT\'s source path is trimmed');
});

test('cuda: refused in one line naming the CUDA provider when it is not installed', async (t) => {
  if (cudaProviderLibrary()) {
    t.log('this machine has the CUDA provider: the refusal is not reachable here');
    t.pass();
    return;
  }
  const err = await t.throwsAsync(openDevice('cuda', cacheDir), { instanceOf: UserError });
  t.regex(err!.message, /^--device cuda: onnxruntime-node's CUDA provider is not installed .*--device webgpu/);
  t.false(err!.message.includes('\n'));
});

test('XDG_RUNTIME_DIR is set to a private folder when unset, and kept when set', (t) => {
  const env: NodeJS.ProcessEnv = {};
  ensureRuntimeDir(env);
  t.truthy(env.XDG_RUNTIME_DIR);
  const set: NodeJS.ProcessEnv = { XDG_RUNTIME_DIR: '/somewhere' };
  ensureRuntimeDir(set);
  t.is(set.XDG_RUNTIME_DIR, '/somewhere');
});

forEachDevice((deviceTest) => {
  deviceTest('webgpu starts, names its adapter, and auto never picks a software one', async (t) => {
    const info = await openDevice('webgpu', cacheDir);
    t.log(`adapter: ${info.adapter} (software: ${info.software})`);
    t.is(info.device, 'webgpu');
    t.notRegex(info.adapter, /not reported/, 'on Linux the loader names the device');
    const auto = await openDevice('auto', cacheDir);
    if (info.software) t.not(auto.device, 'webgpu', 'lavapipe is never chosen by auto');
    else t.is(auto.device, 'webgpu');
  });
}, ['webgpu']);

test('the device and adapter go to run.json\'s runtime, outside the fingerprint, and inspect shows them', (t) => {
  const req = (device: string, adapter: string): RunRequest => ({
    config: { oti: { steps: 350 } }, model: { dir: '/m', hash: 'aa' }, sources: {}, seeds: { oti: 0 }, shard: { index: 0, count: 1 },
    runtime: { device, adapter },
  });
  t.is(configFingerprint(req('cpu', 'AMD EPYC')), configFingerprint(req('webgpu', 'NVIDIA H100 80GB HBM3')));
  const dir = tempDir('device-manifest');
  openRunManifest(dir, req('cpu', 'AMD EPYC'));
  // a run started on the CPU resumes on a GPU: no refusal, the runtime shows the latest start
  const again = openRunManifest(dir, req('webgpu', 'NVIDIA H100 80GB HBM3'));
  t.is(again.runtime.adapter, 'NVIDIA H100 80GB HBM3');
  t.regex(formatReport(inspectRun(dir)), /^device: webgpu on NVIDIA H100 80GB HBM3$/m);
});

test('--device auto: a command runs on what openDevice(\'auto\') picks, and a misspelt device is one line, exit 2', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const bin = join(import.meta.dirname, '../../bin/starword.js');
  const bench = (device: string) => spawnSync(process.execPath, [bin, 'bench', 'matmul', '--device', device, '--size', '32', '--chain', '1', '--rounds', '1', '--cache-dir', cacheDir],
    { encoding: 'utf8' });
  const picked = (await openDevice('auto', cacheDir)).device;
  const r = bench('auto');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`^--device auto: ${picked}$`, 'm'));
  t.regex(r.stdout, new RegExp(`^device: ${picked} on `, 'm'));
  const bad = bench('gpu');
  t.is(bad.status, 2);
  t.is(bad.stderr.trim(), 'starword: --device must be one of cpu, webgpu, cuda, auto, got \'gpu\'');
});
