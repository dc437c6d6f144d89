/**
 * The providers that the numeric tests (golden, finite differences, prefix cache, placement) run on: the CPU
 * always, and WebGPU where a Vulkan driver starts — Mesa's lavapipe on a machine without a GPU. WebGPU is
 * probed once per test process (ava runs each file in its own).
 *
 * Where WebGPU cannot start, its tests are never counted as passes: with CI=true each one FAILS with the reason
 * (.ci/run installs lavapipe, so CI must run them); elsewhere each is registered as skipped with the reason in
 * its title, and the reason is printed once.
 */
import test, { type ExecutionContext } from 'ava';
import { type DeviceInfo, openDevice } from '../../clip/runtime/device.ts';
import type { Device } from '../../clip/runtime/onnx-session.ts';
import { errorMessage } from '../../util/errors.ts';
import { testCacheDir } from './golden.ts';

export type DeviceStatus = { ok: true; info: DeviceInfo } | { ok: false; reason: string };

async function probeWebgpu(): Promise<DeviceStatus> {
  // STARWORD_TEST_DEVICES=cpu leaves WebGPU out on purpose (to time the CPU half); CI=true still fails on it
  const only = process.env.STARWORD_TEST_DEVICES;
  if (only && !only.split(',').includes('webgpu')) return { ok: false, reason: `STARWORD_TEST_DEVICES=${only}` };
  try {
    return { ok: true, info: await openDevice('webgpu', testCacheDir()) }; // memoised: sessions reuse this check
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
}

/** WebGPU's status in this process (a child process runs one MatMul; about 0.5 s on lavapipe). */
export const WEBGPU: DeviceStatus = await probeWebgpu();

export const inCi = (): boolean => process.env.CI === 'true' || process.env.CI === '1';

let skipReported = false;

/** The reason in a skipped test's title: its first 100 characters (the full line is printed once). */
const shortReason = (reason: string): string => (reason.length > 100 ? `${reason.slice(0, 97)}...` : reason);

type Body = (t: ExecutionContext) => Promise<void> | void;
export type DeviceTest = (title: string, body: Body) => void;

/**
 * Registers the tests that `register` declares once per device, each title prefixed with `[cpu]` or `[webgpu]`.
 * `register` should create its sessions lazily (see `lazy`), so a skipped device builds nothing.
 */
export function forEachDevice(register: (deviceTest: DeviceTest, device: Device) => void, devices: Device[] = ['cpu', 'webgpu']): void {
  for (const device of devices) {
    const status: DeviceStatus = device === 'webgpu' ? WEBGPU : { ok: true, info: { device, adapter: device, software: false } };
    if (status.ok) {
      register((title, body) => test(`[${device}] ${title}`, body), device);
    } else if (inCi()) {
      register((title) => test(`[${device}] ${title}`, (t) => t.fail(`CI=true and ${device} could not run: ${status.reason}`)), device);
    } else {
      if (!skipReported) console.warn(`${device} tests skipped: ${status.reason}`);
      skipReported = true;
      register((title) => test.skip(`[${device}] ${title} (skipped: ${shortReason(status.reason)})`, () => {}), device);
    }
  }
}

/** A value made on first use and shared: the per-device setup of a test file. */
export function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
}
