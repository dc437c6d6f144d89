/**
 * Runs Pic2Word's training graph (with gradients) or eval graph (without): one session.run per batch.
 * The prompt ("a photo of $" tokenized) is the same for every row and step, so the keys and values of
 * its positions before `$` are computed once when the session opens and the tower runs only from `$`
 * on (exact for a causal encoder). Weights go in as they are (Float32Arrays in PyTorch layout), or as the
 * trainer's TrainedParams, which then receive the gradients (clip/training/graph-session.ts).
 */
import { floatTensor, int64Tensor, type ort, type SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { TrainingGraphSession } from '../../clip/training/graph-session.ts';
import type { TrainedParams } from '../../clip/training/trained-params.ts';
import { PrefixCache } from '../../clip/towers/prefix-cache.ts';
import { PSEUDO_TOKEN_ID, cacheablePrefix, prepareTextBatch } from '../../clip/text/text-batch.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import { type Im2TextDims, type Im2TextWeights, paramNames, paramShape } from './im2text.ts';
import { PIC2WORD_GRAPH_VERSION, buildPic2WordTrainGraph, maskName } from './pic2word-graph.ts';

export interface Pic2WordStepInput {
  weights: Im2TextWeights | TrainedParams;
  /** [B × d] raw image features */
  image: Float32Array;
  /** one dropout mask [B × middle] per block, or null/absent for eval mode (all ones) */
  masks?: Float32Array[] | null;
  /** exp(logit_scale) */
  logitScale: number;
}

export interface Pic2WordStepOutput {
  token: Float32Array;
  loss: number;
  lossImageToText: number;
  lossTextToImage: number;
  cosine: Float32Array;
  /** [B × P] raw text features of the prompt with each row's token */
  text: Float32Array;
  /** d loss / d weight, PyTorch layout (training session with host weights only) */
  grads: Im2TextWeights | null;
}

export class Pic2WordSession {
  private constructor(private readonly session: TrainingGraphSession, readonly dims: Im2TextDims, private readonly prompt: number[],
    private readonly eotId: number, readonly withGradients: boolean,
    private readonly prefix: { k: ort.Tensor; v: ort.Tensor; length: number }) {}

  /** `promptIds`: the prompt's ids with one `$` (259), SOT to EOT. */
  static async create(src: WeightSource, dims: Im2TextDims, promptIds: ArrayLike<number>, withGradients: boolean,
    opts: SessionOptions = {}): Promise<Pic2WordSession> {
    const prompt = Array.from(promptIds);
    if (!prompt.includes(PSEUDO_TOKEN_ID)) throw new Error(`the Pic2Word prompt's ids [${prompt}] hold no $ (${PSEUDO_TOKEN_ID})`);
    const session = await TrainingGraphSession.create({ kind: withGradients ? 'pic2word-train' : 'pic2word-eval', model: src.hash, dims, version: PIC2WORD_GRAPH_VERSION },
      () => buildPic2WordTrainGraph(src, dims, withGradients), paramNames(dims).map((n) => ({ name: n, shape: paramShape(dims, n) })), withGradients, opts);
    const P = cacheablePrefix([prompt], src.config.text.eos);
    const cache = await PrefixCache.create(src, opts);
    let kv: { k: Float32Array; v: Float32Array };
    try { kv = await cache.gather([prompt], P); } finally { await cache.release(); }
    const t = src.config.text, shape = [t.layers, 1, t.heads, P, t.width / t.heads];
    const prefix = { k: floatTensor(kv.k, shape), v: floatTensor(kv.v, shape), length: P };
    return new Pic2WordSession(session, dims, prompt, src.config.text.eos, withGradients, prefix);
  }

  /** Frees the native session now rather than at garbage collection. */
  async release(): Promise<void> { await this.session.release(); }

  async step(inp: Pic2WordStepInput): Promise<Pic2WordStepOutput> {
    const { input: d, middle: h } = this.dims;
    const B = inp.image.length / d;
    if (!Number.isInteger(B) || B < 1) throw new Error(`image: ${inp.image.length} values are not rows of ${d}`);
    const txt = prepareTextBatch(Array.from({ length: B }, () => this.prompt), this.eotId, true, 0, this.prefix.length);
    const feeds: Record<string, ort.Tensor> = {
      image: floatTensor(inp.image, [B, d]),
      txt_ids: int64Tensor(txt.ids, [B, txt.len]), txt_pmask: floatTensor(txt.pmask, [B, txt.len, 1]), txt_eot: floatTensor(txt.eot, [B, 1, txt.len]),
      txt_pk: this.prefix.k, txt_pv: this.prefix.v,
      logit_scale: floatTensor(Float32Array.of(inp.logitScale), []),
    };
    for (let i = 0; i < this.dims.layers; i++) {
      const m = inp.masks ? inp.masks[i] : new Float32Array(B * h).fill(1);
      if (m.length !== B * h) throw new Error(`mask ${i}: ${m.length} values for ${B} rows of ${h}`);
      feeds[maskName(i)] = floatTensor(m, [B, h]);
    }
    const { outputs: res, grads } = await this.session.run(feeds, inp.weights);
    const scalar = (k: string) => (res[k].data as Float32Array)[0];
    return {
      token: res.token.data as Float32Array, loss: scalar('loss'), lossImageToText: scalar('loss_i2t'), lossTextToImage: scalar('loss_t2i'),
      cosine: res.cosine.data as Float32Array, text: res.text.data as Float32Array, grads,
    };
  }
}
