/**
 * `starword bench embed`: where embedding time goes, on a folder of images (or generated 640×480
 * JPEGs) and a model folder (or a random one of ViT-B/32 dims). Three figures, each the median of
 * `rounds`, measured one after the other in the same process:
 *  - decode + preprocess only (sharp decode, SEARLE targetpad, PIL-exact bicubic, normalise);
 *  - forward only (the vision tower on pixels already in memory, batch `batch`); with `unfused`, the
 *    primitive-op graph too, right after the fused one in each round, so the ratio sees the same load;
 *  - the embed stage as `run` drives it (ingest + decode overlapped with inference + writing parts).
 */
import type { Device } from '../../clip/runtime/onnx-session.ts';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { mapLimit } from '../../stages/embed/map-limit.ts';
import { runEmbed } from '../../stages/embed/index.ts';
import { runIngest } from '../../stages/ingest/index.ts';
import { median } from './median.ts';
import { defaultCacheDir } from '../../util/cache-dir.ts';
import { UserError } from '../../util/errors.ts';
import { writeBenchJpegs } from './bench-images.ts';

export interface BenchEmbedOptions {
  images?: string; count: number; model?: string; batch: number; threads: number; rounds: number;
  concurrency: number; cacheDir?: string; device?: Device;
  /** random weights of these dims when no --model (default b32) */
  preset?: 'b32' | 'l14';
  /** also time the vision graph built from primitive ops (fused vs unfused, side by side) */
  unfused?: boolean;
}

export interface BenchEmbedResult {
  images: number; decodePerS: number; forwardPerS: number; wholePerS: number;
  /** median of the per-round fused/unfused throughput ratios (with `unfused`) */
  unfusedPerS?: number; fusedOverUnfused?: number;
  rounds: { decode: number[]; forward: number[]; whole: number[]; unfused: number[] };
}


export async function benchEmbed(o: BenchEmbedOptions, log: (line: string) => void): Promise<BenchEmbedResult> {
  const cacheDir = o.cacheDir ?? defaultCacheDir();
  const imageDir = o.images ?? join(cacheDir, 'bench-images');
  const paths = o.images
    ? readdirSync(imageDir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort().slice(0, o.count).map((f) => join(imageDir, f))
    : await writeBenchJpegs(imageDir, o.count);
  if (paths.length === 0) throw new UserError(`--images ${imageDir}: no JPEG, PNG or WebP files`);
  const preset = o.preset ?? 'b32';
  const modelDir = o.model ?? join(cacheDir, 'bench-models', `${preset}-seed1`);
  // made once (600 MB at b32, 1.7 GB at l14); the same file keeps the cached graph valid
  if (!o.model && !existsSync(join(modelDir, 'model.safetensors'))) await makeRandomModel({ preset, seed: 1, outDir: modelDir });
  const model = await loadClipModel(modelDir);
  const encoder = await createImageEncoder(model, { threads: o.threads, device: o.device, cacheDir, batchSize: o.batch });
  const unfused = o.unfused ? await createImageEncoder(model, { threads: o.threads, device: o.device, cacheDir, batchSize: o.batch, unfused: true }) : null;
  const popts = preprocessOptions({ imageSize: encoder.imageSize, preprocessorConfig: model.preprocessorConfig, mode: 'targetpad' });
  const rounds = { decode: [] as number[], forward: [] as number[], whole: [] as number[], unfused: [] as number[] };
  try {
    let pixels: Float32Array[] = [];
    for (let r = 0; r < o.rounds; r++) {
      let t = performance.now();
      pixels = await mapLimit(paths, o.concurrency, (p) => preprocessImage(p, popts));
      rounds.decode.push(paths.length / ((performance.now() - t) / 1000));
      t = performance.now();
      await encoder.encodePixels(pixels);
      rounds.forward.push(paths.length / ((performance.now() - t) / 1000));
      if (unfused) {
        t = performance.now();
        await unfused.encodePixels(pixels);
        rounds.unfused.push(paths.length / ((performance.now() - t) / 1000));
        log(`round ${r + 1}: forward, primitive-op graph ${rounds.unfused.at(-1)!.toFixed(1)}/s`);
      }
      log(`round ${r + 1}: decode+preprocess ${rounds.decode.at(-1)!.toFixed(1)}/s, forward ${rounds.forward.at(-1)!.toFixed(1)}/s`);
    }
  } finally {
    await encoder.release?.();
    await unfused?.release?.();
  }
  for (let r = 0; r < o.rounds; r++) {
    const runDir = mkdtempSync(join(tmpdir(), 'starword-bench-embed-'));
    try {
      await runIngest({ source: imageDir, runDir, shard: { index: 0, count: 1 }, partSize: Math.max(paths.length, 1) });
      const stageEncoder = await createImageEncoder(model, { threads: o.threads, device: o.device, cacheDir, batchSize: o.batch });
      const t = performance.now();
      const s = await runEmbed({ runDir, imageEncoder: stageEncoder, preprocess: (p) => preprocessImage(p, popts), batchSize: o.batch, concurrency: o.concurrency });
      rounds.whole.push(s.embedded / ((performance.now() - t) / 1000));
      await stageEncoder.release?.();
      log(`round ${r + 1}: embed stage ${rounds.whole.at(-1)!.toFixed(1)}/s (waiting for pixels ${s.read_s.toFixed(1)} s, encoder ${s.compute_s.toFixed(1)} s, write ${s.write_s.toFixed(2)} s)`);
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  const ratios = rounds.unfused.map((u, i) => rounds.forward[i] / u);
  return {
    images: paths.length, decodePerS: median(rounds.decode), forwardPerS: median(rounds.forward), wholePerS: median(rounds.whole), rounds,
    ...(unfused ? { unfusedPerS: median(rounds.unfused), fusedOverUnfused: median(ratios) } : {}),
  };
}
