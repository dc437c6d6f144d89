/**
 * `starword bench text`: text-tower throughput for what the pipeline encodes in bulk, on a model
 * folder or random weights of ViT-B/32 dims, median of `rounds`:
 *  - vocabulary features: `names` Open Images names × the 24 PALAVRA templates (the concepts stage);
 *  - phrase targets: SEARLE-style phrases "a photo of {name} that …" of about 15–25 ids (the phrases stage).
 */
import type { Device } from '../../clip/runtime/onnx-session.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { loadTemplates } from '../../clip/text/templates.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { loadVocabulary } from '../../stages/concepts/vocab.ts';
import { encodeVocabulary } from '../../stages/concepts/vocab-features.ts';
import { computeTargets } from '../../stages/phrases/targets.ts';
import { median } from './median.ts';
import { defaultCacheDir } from '../../util/cache-dir.ts';

export interface BenchTextOptions { names: number; phrases: number; model?: string; threads: number; rounds: number; cacheDir?: string; batch?: number; device?: Device;
  /** random weights of these dims when no --model (default b32) */
  preset?: 'b32' | 'l14' }
export interface BenchTextResult { vocabPromptsPerS: number; phrasePromptsPerS: number; vocabPrompts: number; phrases: number }

const ENDINGS = ['is sitting on a wooden table next to a window', 'was taken at night in the city', 'looks like it is about to fall',
  'has been left outside in the rain for days', 'is the best thing i have ever seen', 'shows how much fun we had'];

export async function benchText(o: BenchTextOptions, log: (line: string) => void): Promise<BenchTextResult> {
  const cacheDir = o.cacheDir ?? defaultCacheDir();
  const preset = o.preset ?? 'b32';
  const modelDir = o.model ?? join(cacheDir, 'bench-models', `${preset}-seed1`);
  if (!o.model && !existsSync(join(modelDir, 'model.safetensors'))) await makeRandomModel({ preset, seed: 1, outDir: modelDir });
  const model = await loadClipModel(modelDir);
  const tokenizer = await ClipTokenizer.forModelDir(modelDir);
  const text = await createTextEncoder(model, { threads: o.threads, device: o.device, cacheDir, tokenizer, batchSize: o.batch });
  const names = loadVocabulary().names.slice(0, o.names);
  const templates = loadTemplates();
  const phrases = Array.from({ length: o.phrases }, (_, i) => `a photo of ${names[i % names.length]} that ${ENDINGS[i % ENDINGS.length]}`);
  const vocab: number[] = [], targets: number[] = [];
  try {
    for (let r = 0; r < o.rounds; r++) {
      let t = performance.now();
      await encodeVocabulary({ names, templates, textEncoder: text });
      vocab.push((names.length * templates.length) / ((performance.now() - t) / 1000));
      t = performance.now();
      await computeTargets(text, phrases);
      targets.push(phrases.length / ((performance.now() - t) / 1000));
      log(`round ${r + 1}: vocabulary ${vocab.at(-1)!.toFixed(1)} prompts/s, phrase targets ${targets.at(-1)!.toFixed(1)} prompts/s`);
    }
  } finally {
    await text.release?.();
  }
  return { vocabPromptsPerS: median(vocab), phrasePromptsPerS: median(targets), vocabPrompts: names.length * templates.length, phrases: phrases.length };
}
