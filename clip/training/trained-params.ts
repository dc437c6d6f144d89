/**
 * A network's trained parameters as the trainer hands them to a training graph (clip/training/graph-session.ts):
 * each one a tensor to feed (over the host's Float32Array, or left on the device by the optimizer graph), and the
 * gradient the graph's last run gave of it, kept here for the optimizer as PyTorch keeps `.grad` on a parameter.
 * Tensors that live on the device are disposed when replaced.
 */
import { disposeTensor } from '../runtime/device-tensors.ts';
import type { ort } from '../runtime/onnx-session.ts';

export interface ParamSpec { name: string; shape: number[] }

export class TrainedParams {
  private readonly values = new Map<string, ort.Tensor>();
  private readonly grads = new Map<string, ort.Tensor>();

  constructor(readonly specs: readonly ParamSpec[]) {}

  /** The tensor fed as parameter `name`. */
  value(name: string): ort.Tensor {
    const t = this.values.get(name);
    if (!t) throw new Error(`trained parameter ${name} has no value`);
    return t;
  }

  /** Replaces `name`'s value (the old one, on the device, is freed). */
  setValue(name: string, t: ort.Tensor): void {
    const old = this.values.get(name);
    if (old !== t) disposeTensor(old);
    this.values.set(name, t);
  }

  /** The gradient of `name` from the last training run. */
  grad(name: string): ort.Tensor {
    const t = this.grads.get(name);
    if (!t) throw new Error(`trained parameter ${name} has no gradient: no training graph ran with these parameters`);
    return t;
  }

  setGrad(name: string, t: ort.Tensor): void {
    disposeTensor(this.grads.get(name));
    this.grads.set(name, t);
  }

  /** Frees the gradients (the optimizer has used them). */
  clearGrads(): void {
    for (const t of this.grads.values()) disposeTensor(t);
    this.grads.clear();
  }

  /** Frees every tensor held on the device. */
  dispose(): void {
    for (const t of [...this.values.values(), ...this.grads.values()]) disposeTensor(t);
    this.values.clear();
    this.grads.clear();
  }
}
