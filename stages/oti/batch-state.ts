/**
 * Where one OTI batch's state lives — v*, AdamW's two moments and the EMA — and how a step updates it.
 *   - HostBatchState: the gradient graph returns dLoss/dv* to JavaScript, AdamW and the EMA run there
 *     (clip/training/adamw.ts). The CPU provider's path: exact against PyTorch's float64 AdamW.
 *   - DeviceBatchState: the fused graph (oti-graph.ts's buildOtiDeviceGraph) takes the state and returns the next
 *     one, which stays on the device (WebGPU's gpu-buffer outputs) until the batch ends; a step uploads only the
 *     drawn ids, the phrase targets and a few scalars, and downloads the per-row losses.
 * Both stop a row whose loss or gradient turns non-finite (its v* is zeroed and no longer updated).
 */
import { type AdamWOptions, AdamW, emaUpdate } from '../../clip/training/adamw.ts';
import { adamwHyper } from '../../clip/training/adamw-graph.ts';
import { type DeviceTransfer, disposeTensor, hostBytes } from '../../clip/runtime/device-tensors.ts';
import { floatTensor, int64Tensor, type ort } from '../../clip/runtime/onnx-session.ts';
import { cacheablePrefix, prepareTextBatch } from '../../clip/text/text-batch.ts';

/** What a step draws for every row. */
export interface OtiDraw {
  /** [B × P] text features of the drawn phrases (rows without phrases: any finite values) */
  target: Float32Array;
  templateIds: ArrayLike<number>[];
  phraseIds: ArrayLike<number>[];
  /** per row: false drops the row's L_gpt term */
  gptMask: boolean[];
  /** per row: false for rows already stopped (their state is kept as it is) */
  active: boolean[];
}

export interface OtiStepResult {
  lcos: Float32Array;
  lgpt: Float32Array;
  /** per row: loss and gradient finite */
  ok: boolean[];
}

export interface OtiBatchSettings {
  adamw: AdamWOptions;
  emaDecay: number;
  lambdaCos: number;
  lambdaGpt: number;
  /** B/gradientBatch when the batch is larger than SEARLE's (optimize.ts), else 1 */
  gradScale: number;
  padTo?: number;
}

export interface OtiBatchState {
  step(draw: OtiDraw): Promise<OtiStepResult>;
  /** v* and its EMA [B × W], on the host; frees what the batch held on the device */
  finish(): Promise<{ v: Float32Array; ema: Float32Array }>;
  /** bytes fed from the host and read back in the last step (the transfers of a step on a GPU) */
  readonly stepBytes: number;
}

/** The gradient graph's run, as OtiSession.step gives it. */
export type GradientStep = (inp: {
  v: Float32Array; image: Float32Array; target: Float32Array; templateIds: ArrayLike<number>[]; phraseIds: ArrayLike<number>[];
  gptMask: boolean[]; lambdaCos: number; lambdaGpt: number; padTo?: number;
}) => Promise<{ lcos: Float32Array; lgpt: Float32Array; grad: Float32Array; bytes: number }>;

const finiteRow = (lcos: number, lgpt: number, grad: Float32Array, from: number, to: number): boolean => {
  if (!Number.isFinite(lcos) || !Number.isFinite(lgpt)) return false;
  for (let i = from; i < to; i++) if (!Number.isFinite(grad[i])) return false;
  return true;
};

export class HostBatchState implements OtiBatchState {
  private readonly v: Float32Array;
  private readonly ema: Float32Array;
  private readonly opt: AdamW;
  stepBytes = 0;

  constructor(private readonly run: GradientStep, v: Float32Array, private readonly image: Float32Array, private readonly width: number,
    private readonly s: OtiBatchSettings) {
    this.v = v;
    this.ema = v.slice();
    this.opt = new AdamW(v.length, s.adamw);
  }

  async step(d: OtiDraw): Promise<OtiStepResult> {
    const W = this.width, B = d.active.length, { v, s } = this;
    const out = await this.run({ v, image: this.image, target: d.target, templateIds: d.templateIds, phraseIds: d.phraseIds, gptMask: d.gptMask,
      lambdaCos: s.lambdaCos, lambdaGpt: s.lambdaGpt, padTo: s.padTo });
    this.stepBytes = out.bytes;
    const ok = Array.from({ length: B }, (_, r) => finiteRow(out.lcos[r], out.lgpt[r], out.grad, r * W, (r + 1) * W));
    const keep = ok.map((o, r) => o && d.active[r]);
    ok.forEach((o, r) => { if (!o && d.active[r]) v.fill(0, r * W, (r + 1) * W); }); // keep the batch finite
    // a power-of-two ratio (64/32, 256/32) is exact in float32: the gradient is the one a batch of gradientBatch gives
    if (s.gradScale !== 1) for (let i = 0; i < out.grad.length; i++) out.grad[i] *= s.gradScale;
    const active = (i: number) => keep[Math.floor(i / W)];
    this.opt.update(v, out.grad, active);
    emaUpdate(this.ema, v, s.emaDecay, active);
    return { lcos: out.lcos, lgpt: out.lgpt, ok };
  }

  async finish(): Promise<{ v: Float32Array; ema: Float32Array }> {
    return { v: this.v, ema: this.ema };
  }
}

/** Feeds of one tower whose prefix keys and values the graph computes: the step's distinct prefixes and each row's. */
export function devicePrefixFeeds(name: string, rows: ArrayLike<number>[], eotId: number, padTo = 0): Record<string, ort.Tensor> {
  const B = rows.length;
  // with a fixed length (padTo) every row's prefix is its SOT alone, so no row depends on its batch mates
  const P = padTo ? 1 : Math.max(1, cacheablePrefix(rows, eotId));
  const b = prepareTextBatch(rows, eotId, true, padTo, P);
  const keys = rows.map((r) => Array.prototype.slice.call(r, 0, P).join(','));
  const distinct = [...new Set(keys)];
  const ids = new BigInt64Array(distinct.length * P);
  distinct.forEach((key, u) => key.split(',').forEach((id, t) => { ids[u * P + t] = BigInt(id); }));
  const index = new Map(distinct.map((k, u) => [k, u]));
  return {
    [`${name}_ids`]: int64Tensor(b.ids, [B, b.len]),
    [`${name}_pmask`]: floatTensor(b.pmask, [B, b.len, 1]),
    [`${name}_eot`]: floatTensor(b.eot, [B, 1, b.len]),
    [`${name}_prefix_ids`]: int64Tensor(ids, [distinct.length, P]),
    [`${name}_prefix_row`]: int64Tensor(BigInt64Array.from(keys, (k) => BigInt(index.get(k)!)), [B]),
  };
}

const STATE = ['v', 'm', 's', 'ema'] as const;

export class DeviceBatchState implements OtiBatchState {
  private state: Record<typeof STATE[number], ort.Tensor>;
  private step1 = 0;
  stepBytes = 0;

  private constructor(private readonly session: ort.InferenceSession, private readonly transfer: DeviceTransfer, private readonly eotId: number,
    private readonly image: ort.Tensor, state: Record<typeof STATE[number], ort.Tensor>, private readonly s: OtiBatchSettings) {
    this.state = state;
  }

  /** Uploads v* (its copy is the EMA's start), zero moments and the image features: once per batch. */
  static async start(session: ort.InferenceSession, transfer: DeviceTransfer, eotId: number, v: Float32Array, image: Float32Array,
    width: number, dim: number, s: OtiBatchSettings): Promise<DeviceBatchState> {
    const B = v.length / width, dims = [B, width];
    const [tv, tm, ts, te, ti] = await Promise.all([
      transfer.upload(v, dims), transfer.upload(new Float32Array(v.length), dims), transfer.upload(new Float32Array(v.length), dims),
      transfer.upload(v.slice(), dims), transfer.upload(image, [B, dim]),
    ]);
    return new DeviceBatchState(session, transfer, eotId, ti, { v: tv, m: tm, s: ts, ema: te }, s);
  }

  async step(d: OtiDraw): Promise<OtiStepResult> {
    const B = d.active.length, { s } = this;
    this.step1++;
    const hostFeeds: Record<string, ort.Tensor> = {
      target: floatTensor(d.target, [B, this.image.dims[1]]),
      ...devicePrefixFeeds('tpl', d.templateIds, this.eotId, s.padTo),
      ...devicePrefixFeeds('phr', d.phraseIds, this.eotId, s.padTo),
      gpt_mask: floatTensor(Float32Array.from(d.gptMask, (m) => (m ? 1 : 0)), [B]),
      active: floatTensor(Float32Array.from(d.active, (a) => (a ? 1 : 0)), [B]),
      lambda_cos: floatTensor(Float32Array.of(s.lambdaCos), []),
      lambda_gpt: floatTensor(Float32Array.of(s.lambdaGpt), []),
      grad_scale: floatTensor(Float32Array.of(s.gradScale), []),
      hp: floatTensor(adamwHyper(s.adamw, this.step1), [8]),
      ema_decay: floatTensor(Float32Array.of(s.emaDecay, 1 - s.emaDecay), [2]),
    };
    const res = await this.session.run({ ...hostFeeds, ...this.state, image: this.image });
    for (const k of STATE) disposeTensor(this.state[k]);
    this.state = { v: res.v_next, m: res.m_next, s: res.s_next, ema: res.ema_next };
    const lcos = res.lcos.data as Float32Array, lgpt = res.lgpt.data as Float32Array, ok = res.ok.data as Float32Array;
    this.stepBytes = hostBytes(Object.values(hostFeeds)) + hostBytes([res.lcos, res.lgpt, res.ok, res.loss]);
    return { lcos, lgpt, ok: Array.from(ok, (x) => x === 1) };
  }

  async finish(): Promise<{ v: Float32Array; ema: Float32Array }> {
    const [v, ema] = await Promise.all([this.transfer.download(this.state.v), this.transfer.download(this.state.ema)]);
    for (const k of STATE) disposeTensor(this.state[k]);
    disposeTensor(this.image);
    return { v, ema };
  }
}
