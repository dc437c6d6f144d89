/** Runs LinCIR's training graph (with gradients) or eval graph (without): one session.run per batch. */
import { floatTensor, int64Tensor, type ort, type SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { prepareTextBatch } from '../../clip/text/text-batch.ts';
import { TrainingGraphSession } from '../../clip/training/graph-session.ts';
import type { TrainedParams } from '../../clip/training/trained-params.ts';
import { PHI_PARAMS, type PhiDims, type PhiWeights, paramShape } from '../../clip/training/searle-phi-net.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import { LINCIR_GRAPH_VERSION, buildLincirTrainGraph } from './lincir-graph.ts';

export interface LincirStepInput {
  /** host arrays, or the trainer's TrainedParams (which then receive the gradients) */
  weights: PhiWeights | TrainedParams;
  /** [B × d] the text features φ reads (noise already added) */
  input: Float32Array;
  /** per row: the masked phrase's ids, `$` (259) where φ's token goes */
  maskedIds: ArrayLike<number>[];
  /** [B × d] unnormalised text(original phrase) */
  target: Float32Array;
  /** dropout masks [B × 4d] each, or null/absent for eval mode */
  masks?: [Float32Array, Float32Array] | null;
}

export interface LincirStepOutput {
  token: Float32Array;
  text: Float32Array;
  loss: number;
  cosine: Float32Array;
  /** d loss / d weight (training session with host weights only) */
  grads: PhiWeights | null;
}

export class LincirSession {
  private constructor(private readonly session: TrainingGraphSession, readonly dims: PhiDims, private readonly eotId: number) {}

  static async create(src: WeightSource, dims: PhiDims, withGradients: boolean, opts: SessionOptions = {}): Promise<LincirSession> {
    const session = await TrainingGraphSession.create({ kind: withGradients ? 'lincir-train' : 'lincir-eval', model: src.hash, dims, version: LINCIR_GRAPH_VERSION },
      () => buildLincirTrainGraph(src, dims, withGradients), PHI_PARAMS.map((n) => ({ name: n, shape: paramShape(dims, n) })), withGradients, opts);
    return new LincirSession(session, dims, src.config.text.eos);
  }

  async release(): Promise<void> { await this.session.release(); }

  async step(inp: LincirStepInput): Promise<LincirStepOutput> {
    const B = inp.maskedIds.length;
    const { input: d, hidden: h } = this.dims;
    if (inp.input.length !== B * d) throw new Error(`input: ${inp.input.length} values for ${B} rows of ${d}`);
    if (inp.target.length !== B * d) throw new Error(`target: ${inp.target.length} values for ${B} rows of ${d}`);
    const msk = prepareTextBatch(inp.maskedIds, this.eotId, true);
    const masks = inp.masks ?? [new Float32Array(B * h).fill(1), new Float32Array(B * h).fill(1)];
    const feeds: Record<string, ort.Tensor> = {
      input: floatTensor(inp.input, [B, d]),
      mask1: floatTensor(masks[0], [B, h]), mask2: floatTensor(masks[1], [B, h]),
      msk_ids: int64Tensor(msk.ids, [B, msk.len]), msk_pmask: floatTensor(msk.pmask, [B, msk.len, 1]), msk_eot: floatTensor(msk.eot, [B, 1, msk.len]),
      target: floatTensor(inp.target, [B, d]),
    };
    const { outputs: res, grads } = await this.session.run(feeds, inp.weights);
    return {
      token: res.token.data as Float32Array, text: res.text.data as Float32Array, loss: (res.loss.data as Float32Array)[0],
      cosine: res.cosine.data as Float32Array, grads: grads as PhiWeights | null,
    };
  }
}
