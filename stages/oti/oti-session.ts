/**
 * Runs the OTI step graph: one session.run per step for the whole batch. The template and phrase rows
 * are cut at their own longest EOT; v*, image and target features come in as Float32Arrays.
 */
import { cachedGraphPath, createSession, floatTensor, int64Tensor, type ort, type SessionOptions } from '../../clip/onnx-session.ts';
import { prepareTextBatch } from '../../clip/text-batch.ts';
import type { WeightSource } from '../../clip/weight-source.ts';
import { buildOtiGraph } from './oti-graph.ts';

export interface OtiStepInput {
  /** [B × W] pseudo-tokens */
  v: Float32Array;
  /** [B × P] raw image features */
  image: Float32Array;
  /** [B × P] text features of the phrases (the L_gpt targets) */
  target: Float32Array;
  /** per row: template ids with `$` (SOT … EOT) */
  templateIds: ArrayLike<number>[];
  /** per row: phrase ids with `$` */
  phraseIds: ArrayLike<number>[];
  /** per row: false drops the row's L_gpt term (an image without phrases); default all true */
  gptMask?: boolean[];
  lambdaCos: number;
  lambdaGpt: number;
  /** pad both towers to this length instead of cutting at the longest EOT (benchmark only) */
  padTo?: number;
}

export interface OtiStepOutput { lcos: Float32Array; lgpt: Float32Array; loss: number; grad: Float32Array }

export class OtiSession {
  private constructor(private readonly session: ort.InferenceSession, readonly width: number, readonly dim: number, private readonly eotId: number) {}

  static async create(src: WeightSource, opts: SessionOptions = {}): Promise<OtiSession> {
    const path = cachedGraphPath({ kind: 'oti', model: src.hash }, () => buildOtiGraph(src), opts.cacheDir);
    return new OtiSession(await createSession(path, opts), src.config.text.width, src.config.projectionDim, src.config.text.eos);
  }

  async step(inp: OtiStepInput): Promise<OtiStepOutput> {
    const B = inp.templateIds.length;
    const tpl = prepareTextBatch(inp.templateIds, this.eotId, true, inp.padTo);
    const phr = prepareTextBatch(inp.phraseIds, this.eotId, true, inp.padTo);
    const res = await this.session.run({
      v: floatTensor(inp.v, [B, this.width]),
      image: floatTensor(inp.image, [B, this.dim]),
      target: floatTensor(inp.target, [B, this.dim]),
      tpl_ids: int64Tensor(tpl.ids, [B, tpl.len]), tpl_pmask: floatTensor(tpl.pmask, [B, tpl.len, 1]), tpl_eot: floatTensor(tpl.eot, [B, 1, tpl.len]),
      phr_ids: int64Tensor(phr.ids, [B, phr.len]), phr_pmask: floatTensor(phr.pmask, [B, phr.len, 1]), phr_eot: floatTensor(phr.eot, [B, 1, phr.len]),
      gpt_mask: floatTensor(Float32Array.from({ length: B }, (_, r) => (inp.gptMask && !inp.gptMask[r] ? 0 : 1)), [B]),
      lambda_cos: floatTensor(Float32Array.of(inp.lambdaCos), []),
      lambda_gpt: floatTensor(Float32Array.of(inp.lambdaGpt), []),
    });
    return {
      lcos: res.lcos.data as Float32Array,
      lgpt: res.lgpt.data as Float32Array,
      loss: (res.loss.data as Float32Array)[0],
      grad: res.grad.data as Float32Array,
    };
  }
}
