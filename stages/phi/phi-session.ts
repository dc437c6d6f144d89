/**
 * Runs phi's training graph (with gradients) or eval graph (without): one session.run per batch. The
 * phrase rows are cut at their longest EOT; weights go in as they are (Float32Arrays in PyTorch layout), or as
 * the trainer's TrainedParams, which then receive the gradients (clip/training/graph-session.ts).
 */
import { floatTensor, int64Tensor, type ort, type SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { prepareTextBatch } from '../../clip/text/text-batch.ts';
import { type Traffic, TrainingGraphSession } from '../../clip/training/graph-session.ts';
import type { TrainedParams } from '../../clip/training/trained-params.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import { PHI_GRAPH_VERSION, buildPhiTrainGraph } from './phi-graph.ts';
import { PHI_PARAMS, type PhiDims, type PhiWeights, paramShape } from './phi-net.ts';

export interface PhiStepInput {
  weights: PhiWeights | TrainedParams;
  /** [B × d] raw image features */
  image: Float32Array;
  /** [B × D] OTI EMA tokens */
  oti: Float32Array;
  /** per row: the phrase ids with `$` (259) where phi's token goes */
  phraseIds: ArrayLike<number>[];
  /** [B × P] text(original phrase) */
  target: Float32Array;
  /** per row: false drops the row from L_gpt (an image without phrases); default all true */
  gptMask?: boolean[];
  /** dropout masks [B × 4d] each, or null/absent for eval mode (all ones) */
  masks?: [Float32Array, Float32Array] | null;
  lambdaDistil: number;
  lambdaGpt: number;
  temperature: number;
}

export interface PhiStepOutput {
  phiOut: Float32Array;
  distil: number;
  gpt: number;
  total: number;
  lgpt: Float32Array;
  cosine: Float32Array;
  /** d total / d weight, PyTorch layout (training session with host weights only: TrainedParams keep their own) */
  grads: PhiWeights | null;
}

export class PhiSession {
  private constructor(private readonly session: TrainingGraphSession, readonly dims: PhiDims, readonly featureDim: number,
    private readonly eotId: number, readonly withGradients: boolean) {}

  static async create(src: WeightSource, dims: PhiDims, withGradients: boolean, opts: SessionOptions = {}): Promise<PhiSession> {
    const session = await TrainingGraphSession.create({ kind: withGradients ? 'phi-train' : 'phi-eval', model: src.hash, dims, version: PHI_GRAPH_VERSION },
      () => buildPhiTrainGraph(src, dims, withGradients), PHI_PARAMS.map((n) => ({ name: n, shape: paramShape(dims, n) })), withGradients, opts);
    return new PhiSession(session, dims, src.config.projectionDim, src.config.text.eos, withGradients);
  }

  /** Frees the native session now rather than at garbage collection. */
  async release(): Promise<void> { await this.session.release(); }

  /** bytes this session's runs moved between host and device, as placed */
  get traffic(): Traffic { return this.session.traffic; }

  async step(inp: PhiStepInput): Promise<PhiStepOutput> {
    const B = inp.phraseIds.length;
    const { input: d, hidden: h, output: D } = this.dims;
    const P = this.featureDim;
    if (inp.image.length !== B * d) throw new Error(`image: ${inp.image.length} values for ${B} rows of ${d}`);
    if (inp.oti.length !== B * D) throw new Error(`oti: ${inp.oti.length} values for ${B} rows of ${D}`);
    if (inp.target.length !== B * P) throw new Error(`target: ${inp.target.length} values for ${B} rows of ${P}`);
    const phr = prepareTextBatch(inp.phraseIds, this.eotId, true);
    const used = Array.from({ length: B }, (_, r) => !inp.gptMask || inp.gptMask[r]);
    const n = used.filter(Boolean).length;
    const gptWeight = Float32Array.from(used, (u) => (u ? 1 / n : 0));
    const masks = inp.masks ?? [new Float32Array(B * h).fill(1), new Float32Array(B * h).fill(1)];
    const feeds: Record<string, ort.Tensor> = {
      image: floatTensor(inp.image, [B, d]),
      oti: floatTensor(inp.oti, [B, D]),
      mask1: floatTensor(masks[0], [B, h]),
      mask2: floatTensor(masks[1], [B, h]),
      phr_ids: int64Tensor(phr.ids, [B, phr.len]), phr_pmask: floatTensor(phr.pmask, [B, phr.len, 1]), phr_eot: floatTensor(phr.eot, [B, 1, phr.len]),
      target: floatTensor(inp.target, [B, P]),
      gpt_weight: floatTensor(gptWeight, [B]),
      lambda_distil: floatTensor(Float32Array.of(inp.lambdaDistil), []),
      lambda_gpt: floatTensor(Float32Array.of(inp.lambdaGpt), []),
      temperature: floatTensor(Float32Array.of(inp.temperature), []),
    };
    const { outputs: res, grads } = await this.session.run(feeds, inp.weights);
    const scalar = (k: string) => (res[k].data as Float32Array)[0];
    return {
      phiOut: res.phi_out.data as Float32Array, distil: scalar('distil'), gpt: scalar('gpt'), total: scalar('total'),
      lgpt: res.lgpt.data as Float32Array, cosine: res.cosine.data as Float32Array, grads: grads as PhiWeights | null,
    };
  }
}
