/**
 * f_M loaded for inference from its ONNX export or an IM2TEXT-layout safetensors file: raw image
 * features in, pseudo-tokens out. Structurally the same as phi's predictor (inputDim, outputDim,
 * predict), so `invert` and the retrieval token providers take either; predictOne serves one vector.
 */
import { existsSync } from 'node:fs';
import { cachedGraphPath, createSession, floatTensor, type ort, type SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { UserError, errorMessage } from '../../util/errors.ts';
import { sha256File } from '../../util/hash.ts';
import { loadPic2WordSafetensors } from './export.ts';
import { PIC2WORD_GRAPH_VERSION, buildPic2WordInferenceGraph } from './pic2word-graph.ts';

export class Pic2WordPredictor {
  private constructor(private readonly session: ort.InferenceSession, readonly inputDim: number, readonly outputDim: number,
    readonly batchSize: number, readonly path: string) {}

  /** `flag` names the option in error messages (default --pic2word). */
  static async open(path: string, opts: SessionOptions & { batchSize?: number; flag?: string } = {}): Promise<Pic2WordPredictor> {
    const flag = opts.flag ?? '--pic2word';
    if (!existsSync(path)) throw new UserError(`${flag} ${path}: no such file`);
    let modelPath = path;
    if (/\.safetensors$/i.test(path)) {
      const { dims, weights } = await loadPic2WordSafetensors(path);
      modelPath = cachedGraphPath({ kind: 'pic2word-infer', weights: await sha256File(path), version: PIC2WORD_GRAPH_VERSION },
        () => buildPic2WordInferenceGraph(dims, weights), opts.cacheDir);
    } else if (!/\.onnx$/i.test(path)) {
      throw new UserError(`${flag} ${path}: expected a .onnx or .safetensors file`);
    }
    let session: ort.InferenceSession;
    try { session = await createSession(modelPath, opts); } catch (err) { throw new UserError(`${flag} ${path}: ${errorMessage(err)}`); }
    const inp = session.inputMetadata.find((m) => m.name === 'image_features');
    const out = session.outputMetadata.find((m) => m.name === 'token');
    const last = (m: ort.InferenceSession.ValueMetadata | undefined) => (m && m.isTensor ? m.shape[m.shape.length - 1] : undefined);
    const d = last(inp), D = last(out);
    if (typeof d !== 'number' || typeof D !== 'number') {
      await session.release();
      throw new UserError(`${flag} ${path}: not a Pic2Word export (needs input image_features [B, d] and output token [B, D])`);
    }
    return new Pic2WordPredictor(session, d, D, opts.batchSize ?? 256, path);
  }

  async predict(features: Float32Array[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let s = 0; s < features.length; s += this.batchSize) {
      const rows = features.slice(s, s + this.batchSize);
      const flat = new Float32Array(rows.length * this.inputDim);
      rows.forEach((f, i) => {
        if (f.length !== this.inputDim) throw new UserError(`features of length ${f.length}, Pic2Word's f_M takes ${this.inputDim}`);
        flat.set(f, i * this.inputDim);
      });
      const res = await this.session.run({ image_features: floatTensor(flat, [rows.length, this.inputDim]) });
      const t = res.token.data as Float32Array;
      for (let i = 0; i < rows.length; i++) out.push(t.slice(i * this.outputDim, (i + 1) * this.outputDim));
    }
    return out;
  }

  /** The token of one raw image feature vector. */
  async predictOne(features: Float32Array): Promise<Float32Array> {
    return (await this.predict([features]))[0];
  }

  async release(): Promise<void> { await this.session.release(); }
}
