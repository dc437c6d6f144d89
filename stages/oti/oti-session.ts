/**
 * Runs OTI's graphs: one session.run per step for the whole batch, the template and phrase rows cut at their own
 * longest EOT. `step` runs the gradient graph (v*, image and target features in as Float32Arrays, dLoss/dv* out);
 * `begin` starts a batch whose state lives on the host (the CPU provider) or on the device (WebGPU), see
 * batch-state.ts.
 */
import { cachedGraphPath, createSession, floatTensor, int64Tensor, type ort, type SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { PrefixCache } from '../../clip/towers/prefix-cache.ts';
import { cacheablePrefix, prepareTextBatch } from '../../clip/text/text-batch.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import { DeviceTransfer, hostBytes, stateOnDevice } from '../../clip/runtime/device-tensors.ts';
import { DeviceBatchState, HostBatchState, type OtiBatchSettings, type OtiBatchState } from './batch-state.ts';
import { buildOtiDeviceGraph, buildOtiGraph } from './oti-graph.ts';

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

export interface OtiStepOutput {
  lcos: Float32Array; lgpt: Float32Array; loss: number; grad: Float32Array;
  /** bytes fed and read back (what a GPU provider would copy each step) */
  bytes: number;
}

export interface OtiSessionOptions extends SessionOptions {
  /** reuse the keys/values of the positions before `$` (exact; default true) */
  prefixCache?: boolean;
  /** bound of the prefix cache in bytes (default DEFAULT_PREFIX_CACHE_BYTES) */
  prefixCacheBytes?: number;
}

interface GradientGraph { session: ort.InferenceSession; prefixes: PrefixCache | null }
interface DeviceGraph { session: ort.InferenceSession; transfer: DeviceTransfer }

export class OtiSession {
  private gradientGraph: Promise<GradientGraph> | null = null;
  private deviceGraph: Promise<DeviceGraph> | null = null;
  /** batches keep their state on the device (SessionOptions.stateOnDevice: by default on WebGPU; see batch-state.ts) */
  readonly stateOnDevice: boolean;

  private constructor(private readonly src: WeightSource, private readonly opts: OtiSessionOptions) {
    this.stateOnDevice = stateOnDevice(opts);
  }

  get width(): number { return this.src.config.text.width; }
  get dim(): number { return this.src.config.projectionDim; }
  private get eotId(): number { return this.src.config.text.eos; }
  private get layout() { const t = this.src.config.text; return { layers: t.layers, heads: t.heads, dh: t.width / t.heads }; }

  /** Opens the graph the batches run (the other one opens when first used: `debug oti` needs both). */
  static async create(src: WeightSource, opts: OtiSessionOptions = {}): Promise<OtiSession> {
    const s = new OtiSession(src, opts);
    if (s.stateOnDevice) await s.device(); else await s.gradient();
    return s;
  }

  private gradient(): Promise<GradientGraph> {
    this.gradientGraph ??= (async () => {
      const { src, opts } = this;
      const usePrefix = opts.prefixCache ?? true;
      const path = cachedGraphPath({ kind: usePrefix ? 'oti-prefix' : 'oti', model: src.hash }, () => buildOtiGraph(src, usePrefix), opts.cacheDir);
      const [session, prefixes] = await Promise.all([createSession(path, opts), usePrefix ? PrefixCache.create(src, opts, opts.prefixCacheBytes) : null]);
      this.openedPrefixes = prefixes;
      return { session, prefixes };
    })();
    return this.gradientGraph;
  }

  private device(): Promise<DeviceGraph> {
    this.deviceGraph ??= (async () => {
      const { src, opts } = this;
      const path = cachedGraphPath({ kind: 'oti-device', model: src.hash }, () => buildOtiDeviceGraph(src), opts.cacheDir);
      const onDevice = { v_next: 'gpu-buffer', m_next: 'gpu-buffer', s_next: 'gpu-buffer', ema_next: 'gpu-buffer' } as const;
      return { session: await createSession(path, { ...opts, outputLocation: onDevice }), transfer: new DeviceTransfer(opts) };
    })();
    return this.deviceGraph;
  }

  private openedPrefixes: PrefixCache | null = null;
  /** The host prefix cache of the gradient graph, once that graph is open (with the cache on). */
  get prefixes(): PrefixCache | null { return this.openedPrefixes; }

  /** Starts a batch: v* [B × W] (the initial tokens; the host state updates this array) and raw image features [B × P]. */
  async begin(v: Float32Array, image: Float32Array, settings: OtiBatchSettings): Promise<OtiBatchState> {
    if (!this.stateOnDevice) return new HostBatchState((inp) => this.step(inp), v, image, this.width, settings);
    const d = await this.device();
    return DeviceBatchState.start(d.session, d.transfer, this.eotId, v, image, this.width, this.dim, settings);
  }

  /** One tower's feeds under `name`: cut at the longest EOT, and after the cached prefix when there is a cache. */
  private async towerFeeds(prefixes: PrefixCache | null, name: string, rows: ArrayLike<number>[], padTo = 0): Promise<Record<string, ort.Tensor>> {
    const B = rows.length;
    const P = prefixes && !padTo ? cacheablePrefix(rows, this.eotId) : 0;
    const b = prepareTextBatch(rows, this.eotId, true, padTo, P);
    const feeds: Record<string, ort.Tensor> = {
      [`${name}_ids`]: int64Tensor(b.ids, [B, b.len]),
      [`${name}_pmask`]: floatTensor(b.pmask, [B, b.len, 1]),
      [`${name}_eot`]: floatTensor(b.eot, [B, 1, b.len]),
    };
    if (prefixes) {
      const { layers, heads, dh } = this.layout;
      const kv = P > 0 ? await prefixes.gather(rows, P) : { k: new Float32Array(0), v: new Float32Array(0) };
      feeds[`${name}_pk`] = floatTensor(kv.k, [layers, B, heads, P, dh]);
      feeds[`${name}_pv`] = floatTensor(kv.v, [layers, B, heads, P, dh]);
    }
    return feeds;
  }

  /** Frees the native sessions now rather than at garbage collection. */
  async release(): Promise<void> {
    const [g, d] = await Promise.all([this.gradientGraph, this.deviceGraph]);
    await Promise.all([g?.session.release(), g?.prefixes?.release(), d?.session.release(), d?.transfer.release()]);
  }

  /** The gradient graph's run: losses and dLoss/dv* on the host. */
  async step(inp: OtiStepInput): Promise<OtiStepOutput> {
    const B = inp.templateIds.length;
    const { session, prefixes } = await this.gradient();
    const feeds = {
      v: floatTensor(inp.v, [B, this.width]),
      image: floatTensor(inp.image, [B, this.dim]),
      target: floatTensor(inp.target, [B, this.dim]),
      ...await this.towerFeeds(prefixes, 'tpl', inp.templateIds, inp.padTo),
      ...await this.towerFeeds(prefixes, 'phr', inp.phraseIds, inp.padTo),
      gpt_mask: floatTensor(Float32Array.from({ length: B }, (_, r) => (inp.gptMask && !inp.gptMask[r] ? 0 : 1)), [B]),
      lambda_cos: floatTensor(Float32Array.of(inp.lambdaCos), []),
      lambda_gpt: floatTensor(Float32Array.of(inp.lambdaGpt), []),
    };
    const res = await session.run(feeds);
    const lcos = res.lcos.data as Float32Array, lgpt = res.lgpt.data as Float32Array, grad = res.grad.data as Float32Array;
    return { lcos, lgpt, loss: (res.loss.data as Float32Array)[0], grad, bytes: hostBytes(Object.values(feeds)) + hostBytes(Object.values(res)) };
  }
}
