/**
 * AdamW exactly as torch.optim.AdamW (decoupled weight decay applied before the moment update, bias
 * corrections in the step size and denominator), over a flat Float32Array of parameters, plus SEARLE's
 * EMA of the parameters. State stays in Float32Arrays so OTI never leaves typed arrays between steps.
 */
export interface AdamWOptions { lr: number; betas: [number, number]; eps: number; weightDecay: number }

export class AdamW {
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** steps taken so far (PyTorch's `step`, per parameter group) */
  step = 0;
  constructor(size: number, readonly opts: AdamWOptions) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /**
   * One update of `params` with `grad`. `rows` (optional: [start, end) element ranges) restricts the
   * update, so stopped rows keep their values; the step counter is shared as in one torch param group.
   */
  update(params: Float32Array, grad: Float32Array, active?: (i: number) => boolean): void {
    this.step++;
    const { lr, betas: [b1, b2], eps, weightDecay } = this.opts;
    const bc1 = 1 - b1 ** this.step;
    const bc2 = 1 - b2 ** this.step;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    const decay = 1 - lr * weightDecay;
    const { m, v } = this;
    for (let i = 0; i < params.length; i++) {
      if (active && !active(i)) continue;
      const g = grad[i];
      const p = params[i] * decay;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      params[i] = p - stepSize * m[i] / (Math.sqrt(v[i]) / sqrtBc2 + eps);
    }
  }
}

/** ema ← decay·ema + (1 − decay)·x */
export function emaUpdate(ema: Float32Array, x: Float32Array, decay: number, active?: (i: number) => boolean): void {
  for (let i = 0; i < ema.length; i++) {
    if (active && !active(i)) continue;
    ema[i] = decay * ema[i] + (1 - decay) * x[i];
  }
}
