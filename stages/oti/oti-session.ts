/**
 * Runs the OTI step graph: one session.run per step for the whole batch. The template and phrase rows
 * are cut at their own longest EOT; v*, image and target features come in as Float32Arrays.
 */
import { cachedGraphPath, createSession, floatTensor, int64Tensor, type ort, type SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { PrefixCache } from '../../clip/towers/prefix-cache.ts';
import { cacheablePrefix, prepareTextBatch } from '../../clip/text/text-batch.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
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
  /** pad both towers to this length instead of cutting at the longest EOT (the benchmark's --pad77; OTI's padTo, for batch invariance) */
  padTo?: number;
}

export interface OtiStepOutput { lcos: Float32Array; lgpt: Float32Array; loss: number; grad: Float32Array }

export interface OtiSessionOptions extends SessionOptions {
  /** reuse the keys/values of the positions before `$` (exact; default true) */
  prefixCache?: boolean;
  /** bound of the prefix cache in bytes (default DEFAULT_PREFIX_CACHE_BYTES) */
  prefixCacheBytes?: number;
}

export class OtiSession {
  private constructor(private readonly session: ort.InferenceSession, readonly width: number, readonly dim: number,
    private readonly eotId: number, private readonly layout: { layers: number; heads: number; dh: number },
    readonly prefixes: PrefixCache | null) {}

  static async create(src: WeightSource, opts: OtiSessionOptions = {}): Promise<OtiSession> {
    const usePrefix = opts.prefixCache ?? true;
    const path = cachedGraphPath({ kind: usePrefix ? 'oti-prefix' : 'oti', model: src.hash }, () => buildOtiGraph(src, usePrefix), opts.cacheDir);
    const t = src.config.text;
    const [session, prefixes] = await Promise.all([createSession(path, opts), usePrefix ? PrefixCache.create(src, opts, opts.prefixCacheBytes) : null]);
    return new OtiSession(session, t.width, src.config.projectionDim, t.eos, { layers: t.layers, heads: t.heads, dh: t.width / t.heads }, prefixes);
  }

  /** One tower's feeds under `name`: cut at the longest EOT, and after the cached prefix when there is a cache. */
  private async towerFeeds(name: string, rows: ArrayLike<number>[], padTo = 0): Promise<Record<string, ort.Tensor>> {
    const B = rows.length;
    const P = this.prefixes && !padTo ? cacheablePrefix(rows, this.eotId) : 0;
    const b = prepareTextBatch(rows, this.eotId, true, padTo, P);
    const feeds: Record<string, ort.Tensor> = {
      [`${name}_ids`]: int64Tensor(b.ids, [B, b.len]),
      [`${name}_pmask`]: floatTensor(b.pmask, [B, b.len, 1]),
      [`${name}_eot`]: floatTensor(b.eot, [B, 1, b.len]),
    };
    if (this.prefixes) {
      const { layers, heads, dh } = this.layout;
      const kv = P > 0 ? await this.prefixes.gather(rows, P) : { k: new Float32Array(0), v: new Float32Array(0) };
      feeds[`${name}_pk`] = floatTensor(kv.k, [layers, B, heads, P, dh]);
      feeds[`${name}_pv`] = floatTensor(kv.v, [layers, B, heads, P, dh]);
    }
    return feeds;
  }

  /** Frees the native sessions now rather than at garbage collection. */
  async release(): Promise<void> {
    await Promise.all([this.session.release(), this.prefixes?.release()]);
  }

  async step(inp: OtiStepInput): Promise<OtiStepOutput> {
    const B = inp.templateIds.length;
    const res = await this.session.run({
      v: floatTensor(inp.v, [B, this.width]),
      image: floatTensor(inp.image, [B, this.dim]),
      target: floatTensor(inp.target, [B, this.dim]),
      ...await this.towerFeeds('tpl', inp.templateIds, inp.padTo),
      ...await this.towerFeeds('phr', inp.phraseIds, inp.padTo),
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
