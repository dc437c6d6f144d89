/**
 * `starword bench oti`: DESIGN.md's yardstick workload on random weights of the given text dims: a batch
 * of images, template `<sot> a photo of $ <eot>` (6 ids), one phrase of `phraseLen` ids with `$` at
 * `dollarPos`, L_cos + 0.5·L_gpt, AdamW. Reports the median step time, model GFLOP/s and image-steps/s.
 */
import type { Device } from '../../clip/runtime/onnx-session.ts';
import { presetConfig } from '../../clip/weights/make-model.ts';
import { randomWeightSource } from '../../clip/weights/random-weights.ts';
import { PSEUDO_TOKEN_ID } from '../../clip/text/text-batch.ts';
import { Rng } from '../../util/rng.ts';
import { OtiSession } from './oti-session.ts';
import { SEARLE_OTI } from './stage.ts';

export interface OtiBenchOptions {
  width: number; layers: number; heads: number; mlp?: number; proj?: number;
  batch: number; phraseLen: number; dollarPos: number; steps: number; warmup: number;
  threads?: number; device?: Device; padTo77: boolean; prefixCache?: boolean; cacheDir?: string;
  /** keep v*, the moments and the EMA on the device (default: the stage's choice for the device) */
  stateOnDevice?: boolean;
}

export interface OtiBenchResult {
  stepMs: number[]; medianMs: number; gflops: number; imageStepsPerS: number; tokensPerStep: number;
  stateOnDevice: boolean;
  /** bytes fed from the host and read back in a step: what crosses the bus on a GPU */
  bytesPerStep: number;
}

/**
 * Forward FLOPs of the text tower for one row whose T positions are computed after `cached` positions
 * from the prefix cache (matmuls only; 2 per multiply-add). The last layer computes keys and values at
 * every position but the query, attention, output and MLP at the EOT alone (text-graph.ts's eotLayer).
 */
export function textForwardFlops(width: number, layers: number, mlp: number, proj: number, T: number, cached = 0): number {
  const perLayer = 2 * T * (4 * width * width + 2 * width * mlp) + 2 * 2 * T * (cached + T) * width;
  const last = 2 * T * 2 * width * width + 2 * (2 * width * width + 2 * width * mlp) + 2 * 2 * (cached + T) * width;
  return (layers - 1) * perLayer + last + 2 * width * proj;
}

export async function benchOti(o: OtiBenchOptions, log: (line: string) => void = () => {}): Promise<OtiBenchResult> {
  const mlp = o.mlp ?? 4 * o.width, proj = o.proj ?? o.width;
  const cfg = presetConfig('b32', { textWidth: o.width, textLayers: o.layers, textHeads: o.heads, textMlp: mlp, projectionDim: proj,
    visionWidth: 64, visionLayers: 1, visionHeads: 1, visionMlp: 64 });
  const src = randomWeightSource(cfg, 0);
  const t0 = performance.now();
  // positions before `$` come from the prefix cache when it is on (never with SEARLE's padding)
  const prefixOn = (o.prefixCache ?? true) && !o.padTo77;
  const session = await OtiSession.create(src, { threads: o.threads, device: o.device, cacheDir: o.cacheDir, prefixCache: prefixOn, stateOnDevice: o.stateOnDevice });
  log(`graph ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const rng = new Rng(1);
  const { bos, eos } = cfg.text;
  const template = [bos, 320, 1125, 539, PSEUDO_TOKEN_ID, eos]; // <sot> a photo of $ <eot>
  const phrase = [bos];
  for (let i = 1; i < o.phraseLen - 1; i++) phrase.push(i === o.dollarPos ? PSEUDO_TOKEN_ID : 300 + rng.int(40000));
  phrase.push(eos);
  const B = o.batch, W = cfg.text.width, P = cfg.projectionDim;
  const v = rng.fillNormal(new Float32Array(B * W), 0.02);
  const image = rng.fillNormal(new Float32Array(B * P));
  const all = Array.from({ length: B }, () => true);
  const draw = {
    target: rng.fillNormal(new Float32Array(B * P)), gptMask: all, active: all,
    templateIds: Array.from({ length: B }, () => Int32Array.from(template)), phraseIds: Array.from({ length: B }, () => Int32Array.from(phrase)),
  };
  // SEARLE pads every row to the context length; starword cuts at the longest EOT
  const state = await session.begin(v, image, { adamw: SEARLE_OTI.adamw, emaDecay: SEARLE_OTI.emaDecay, lambdaCos: 1, lambdaGpt: 0.5, gradScale: 1,
    padTo: o.padTo77 ? cfg.text.ctx : undefined });
  const times: number[] = [];
  for (let s = 0; s < o.warmup + o.steps; s++) {
    const t = performance.now();
    const out = await state.step(draw);
    const ms = performance.now() - t;
    if (s >= o.warmup) times.push(ms);
    log(`step ${s + 1}${s < o.warmup ? ' (warm-up)' : ''}: ${ms.toFixed(0)} ms, L_cos ${out.lcos[0].toFixed(5)}`);
  }
  const bytesPerStep = state.stepBytes;
  await state.finish();
  await session.release();
  const sorted = [...times].sort((a, b) => a - b);
  const medianMs = sorted[Math.floor(sorted.length / 2)];
  const Tt = o.padTo77 ? cfg.text.ctx : template.length, Tp = o.padTo77 ? cfg.text.ctx : phrase.length;
  const Pt = prefixOn ? template.indexOf(PSEUDO_TOKEN_ID) : 0, Pp = prefixOn ? o.dollarPos : 0;
  // forward of both towers + an input-only backward of about the same cost
  const flops = 2 * B * (textForwardFlops(W, o.layers, mlp, proj, Tt - Pt, Pt) + textForwardFlops(W, o.layers, mlp, proj, Tp - Pp, Pp));
  return {
    stepMs: times, medianMs, gflops: flops / (medianMs / 1000) / 1e9,
    imageStepsPerS: B / (medianMs / 1000), tokensPerStep: B * (Tt - Pt + Tp - Pp), stateOnDevice: session.stateOnDevice, bytesPerStep,
  };
}
