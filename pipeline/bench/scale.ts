/**
 * `starword bench scale`: SEARLE's scale on one machine, cheaply. A random CLIP with a preset's vector
 * dims (ViT-B/32's by default: text width 512, projection 512; `--text-width` and `--projection` set
 * others, e.g. ViT-bigG/14's 1280 and 1280) but one layer per tower, a synthetic run folder — random image
 * features, each image's top concepts drawn from the first C Open Images names, K synthetic phrases per
 * concept with random targets written straight into the phrase store (computing 5.4M targets through
 * even a one-layer text tower would take hours here) — then the real `oti` and `phi` commands, each in
 * a child process whose peak resident size (getrusage's maxrss), time and output size are reported.
 */
import type { Device } from '../../clip/runtime/onnx-session.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PRESETS, isPreset, makeRandomModel, type Preset } from '../../clip/weights/make-model.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as conceptsSchema from '../../schemas/concepts.ts';
import * as featuresSchema from '../../schemas/features.ts';
import { DIRECT_SOURCE, conceptRuns, packTexts, writeStorePart } from '../../schemas/phrase-store.ts';
import { listDoneParts, readPart, writePart } from '../../schemas/part-io.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { loadVocabulary } from '../../stages/concepts/vocab.ts';
import { UserError } from '../../util/errors.ts';
import { packagePath } from '../../util/package-root.ts';
import { Rng } from '../../util/rng.ts';

const BIN = packagePath('bin', 'starword.js');
/** Preloaded into a measured child: at exit it writes its peak resident size (getrusage maxrss, KiB). */
const RSS_HOOK = `data:text/javascript,${encodeURIComponent("import { writeFileSync } from 'node:fs'; const f = process.env.STARWORD_MAX_RSS_FILE; "
  + "if (f) process.on('exit', () => writeFileSync(f, JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS })));")}`;

export interface BenchScaleOptions {
  out: string;
  images: number;
  concepts: number;
  phrasesPerConcept: number;
  partSize: number;
  otiTopK: number;
  phiTopK: number;
  otiSteps: number;
  phiEpochs: number;
  /** LinCIR steps (batches of 256 read from the phrase store) */
  lincirSteps?: number;
  threads: number;
  /** architecture the random model starts from (its activation and vision tower); one layer per tower */
  preset: Preset;
  /** text tower width (= the OTI token's size); heads width/64 and MLP 4× width, as every CLIP has */
  textWidth: number;
  /** projection size (= image features and phrase targets) */
  projection: number;
  device?: Device;
  /** stages to run (subset of oti, phi, lincir) */
  stages: string[];
}

export interface StageFigure { stage: string; peakMiB: number | null; seconds: number; diskMiB: number; note: string }

/** A fast deterministic generator of finite floats for synthetic vectors (not Gaussian: nothing here needs it). */
function fillRandom(a: Float32Array, seed: number): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    a[i] = x / 2 ** 31 - 1;
  }
  return a;
}

function duMiB(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size / 2 ** 20;
  return readdirSync(path).reduce((n, name) => n + duMiB(join(path, name)), 0);
}

const WORDS = ['sits', 'runs', 'on a table', 'in the rain', 'at night', 'near a window', 'in a field', 'with a friend', 'under a tree',
  'on the street', 'in the snow', 'by the sea', 'in a box', 'on a shelf', 'in the sun', 'at the park'];

/** Random features and each image's top concepts, part by part. */
async function writeImages(o: BenchScaleOptions, runDir: string, vocab: string[]): Promise<void> {
  const rng = new Rng(1);
  for (let part = 0, start = 0; start < o.images; part++, start += o.partSize) {
    const n = Math.min(o.partSize, o.images - start);
    const ids = Array.from({ length: n }, (_, i) => `img${String(start + i).padStart(7, '0')}`);
    const dim = o.projection;
    const flat = fillRandom(new Float32Array(n * dim), part + 1);
    const feats = ids.map((id, i) => ({ imageId: id, features: flat.subarray(i * dim, (i + 1) * dim) }));
    await writePart(join(runDir, 'embed'), featuresSchema.KIND, part, featuresSchema.toTable(feats, dim), SCHEMA_VERSION);
    const rows: conceptsSchema.ConceptsRow[] = ids.map((id) => {
      const picked = new Set<number>();
      while (picked.size < o.phiTopK) picked.add(rng.int(vocab.length));
      return { imageId: id, concepts: [...picked].map((i) => vocab[i]), scores: Float32Array.from({ length: o.phiTopK }, (_, k) => 0.3 - k * 1e-4) };
    });
    await writePart(join(runDir, 'concepts'), conceptsSchema.KIND, part, conceptsSchema.toTable(rows), SCHEMA_VERSION);
  }
}

/** K phrases per concept with random targets, 1,000 concepts a part (the phrases stage's default), straight into the store. */
function writeStore(o: BenchScaleOptions, phrasesDir: string, vocab: string[], log: (l: string) => void): void {
  const perPart = 1000;
  for (let part = 0, start = 0; start < vocab.length; part++, start += perPart) {
    const chunk = vocab.slice(start, start + perPart);
    const concepts: string[] = [], phrases: string[] = [], swapped: string[] = [];
    chunk.forEach((c, ci) => {
      for (let k = 0; k < o.phrasesPerConcept; k++) {
        const rest = `${WORDS[(ci + k) % WORDS.length]} ${WORDS[(k * 7 + ci) % WORDS.length]}`;
        concepts.push(c); phrases.push(`a photo of ${c} that ${rest}`); swapped.push(`a photo of $ that ${rest}`);
      }
    });
    const rows = concepts.length;
    writeStorePart(phrasesDir, part, {
      rows, dim: o.projection, runs: conceptRuns(concepts), targets: fillRandom(new Float32Array(rows * o.projection), 1000 + part),
      phrase: packTexts(phrases), swapped: packTexts(swapped),
    }, DIRECT_SOURCE);
    log(`bench scale: phrase store part ${part} (${chunk.length} concepts, ${rows} phrases)`);
  }
}

/** The synthetic run folder; images and phrases are each reused while their counts are unchanged. */
async function synthesize(o: BenchScaleOptions, runDir: string, log: (l: string) => void): Promise<StageFigure[]> {
  const names = loadVocabulary().names;
  if (o.concepts > names.length) throw new UserError(`--concepts ${o.concepts}: the Open Images vocabulary has ${names.length} names`);
  if (o.phiTopK > o.concepts || o.otiTopK > o.phiTopK) throw new UserError(`need --oti-top-k ≤ --phi-top-k ≤ --concepts, got ${o.otiTopK}, ${o.phiTopK}, ${o.concepts}`);
  const vocab = names.slice(0, o.concepts);
  mkdirSync(runDir, { recursive: true });
  const fresh = (file: string, key: string) => existsSync(file) && readFileSync(file, 'utf8') === key;
  const figures: StageFigure[] = [];

  const imagesKey = JSON.stringify({ v: 2, dim: o.projection, images: o.images, concepts: o.concepts, part: o.partSize, top: o.phiTopK });
  const imagesMarker = join(runDir, 'images-bench.json');
  if (!fresh(imagesMarker, imagesKey)) {
    const t0 = performance.now();
    for (const d of ['embed', 'concepts']) rmSync(join(runDir, d), { recursive: true, force: true });
    await writeImages(o, runDir, vocab);
    writeFileSync(imagesMarker, imagesKey);
    figures.push({ stage: 'features + concepts (synthetic)', peakMiB: null, seconds: (performance.now() - t0) / 1000,
      diskMiB: duMiB(join(runDir, 'embed')) + duMiB(join(runDir, 'concepts')), note: `${o.images} images, top ${o.phiTopK}` });
  } else log('bench scale: synthetic features and concepts already there, reused');

  const phrasesKey = JSON.stringify({ v: 2, dim: o.projection, concepts: o.concepts, k: o.phrasesPerConcept });
  const phrasesMarker = join(runDir, 'phrases-bench.json');
  const phrasesDir = join(runDir, 'phrases');
  if (!fresh(phrasesMarker, phrasesKey)) {
    const t0 = performance.now();
    rmSync(phrasesDir, { recursive: true, force: true });
    writeStore(o, phrasesDir, vocab, log);
    writeFileSync(phrasesMarker, phrasesKey);
    figures.push({ stage: 'phrases (synthetic, store)', peakMiB: null, seconds: (performance.now() - t0) / 1000, diskMiB: duMiB(phrasesDir),
      note: `${o.concepts} concepts × ${o.phrasesPerConcept}` });
  } else log('bench scale: synthetic phrase store already there, reused');
  return figures;
}

/** phi measured without OTI: random tokens for every image (OTI's own cost is measured with --stages oti). */
async function syntheticTokens(o: BenchScaleOptions, runDir: string, log: (l: string) => void): Promise<StageFigure> {
  const t0 = performance.now();
  const embedDir = join(runDir, 'embed'), otiDir = join(runDir, 'oti');
  rmSync(otiDir, { recursive: true, force: true });
  for (const part of listDoneParts(embedDir, featuresSchema.KIND)) {
    const ids = featuresSchema.fromTable(readPart(embedDir, featuresSchema.KIND, part)).rows.map((r) => r.imageId);
    const dim = o.textWidth;
    const flat = fillRandom(new Float32Array(ids.length * dim), 5000 + part);
    const rows: tokensSchema.TokenRow[] = ids.map((id, i) => {
      const v = flat.subarray(i * dim, (i + 1) * dim);
      return { imageId: id, token: v, ema: v, lcos: 0.5, lgpt: 0.5, steps: 1, seed: i, status: 'ok', error: null };
    });
    await writePart(otiDir, tokensSchema.KIND, part, tokensSchema.toTable(rows, dim), SCHEMA_VERSION);
  }
  log('bench scale: synthetic OTI tokens written');
  return { stage: 'tokens (synthetic, for phi)', peakMiB: null, seconds: (performance.now() - t0) / 1000, diskMiB: duMiB(otiDir), note: `${o.images} images` };
}

/** Runs a starword command in a child process; its peak resident size comes from getrusage at its exit. */
function measured(stage: string, args: string[], outPath: string, note: string, log: (l: string) => void): StageFigure {
  const rssFile = join(outPath, '..', `.${stage}.rss.json`);
  rmSync(rssFile, { force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', RSS_HOOK, BIN, ...args], {
    env: { ...process.env, STARWORD_MAX_RSS_FILE: rssFile }, encoding: 'utf8', maxBuffer: 64 * 2 ** 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new UserError(`bench scale: ${stage} failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  log(`bench scale: ${stage}: ${(r.stdout ?? '').trim().split('\n').pop() ?? ''}`);
  const peak = existsSync(rssFile) ? (JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRssKiB: number }).maxRssKiB / 1024 : null;
  return { stage, peakMiB: peak, seconds, diskMiB: duMiB(outPath), note };
}

export async function benchScale(o: BenchScaleOptions, log: (l: string) => void): Promise<StageFigure[]> {
  for (const [name, v] of Object.entries({ images: o.images, concepts: o.concepts, 'phrases-per-concept': o.phrasesPerConcept, 'part-size': o.partSize,
    'text-width': o.textWidth, projection: o.projection })) {
    if (!(Number.isInteger(v) && v > 0)) throw new UserError(`--${name} must be a positive integer, got ${v}`);
  }
  if (!isPreset(o.preset)) throw new UserError(`--preset: unknown preset '${String(o.preset)}' (choose ${PRESETS.join(', ')})`);
  if (o.textWidth % 64 !== 0) throw new UserError(`--text-width ${o.textWidth}: must be a multiple of 64 (CLIP's head size; heads = width / 64)`);
  const unknown = o.stages.filter((s) => s !== 'oti' && s !== 'phi' && s !== 'lincir');
  if (unknown.length) throw new UserError(`--stages: unknown stage '${unknown[0]}' (choose oti, phi, lincir)`);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  // one model folder per shape, so that runs at other dims never reuse a model (or graphs) of the wrong size
  const model = join(out, `model-${o.preset}-t${o.textWidth}-p${o.projection}`);
  const cache = join(out, 'cache');
  const runDir = join(out, 'run');
  const figures: StageFigure[] = [];
  if (!existsSync(join(model, 'config.json'))) {
    const t0 = performance.now();
    const w = o.textWidth;
    await makeRandomModel({ preset: o.preset, seed: 0, outDir: model,
      overrides: { textLayers: 1, visionLayers: 1, textWidth: w, textHeads: w / 64, textMlp: 4 * w, projectionDim: o.projection } });
    figures.push({ stage: `make-model (${o.preset}, text ${w}, projection ${o.projection}, 1 layer)`, peakMiB: null,
      seconds: (performance.now() - t0) / 1000, diskMiB: duMiB(model), note: '' });
  }
  figures.push(...await synthesize(o, runDir, log));
  const common = ['--model', model, '--cache-dir', cache, '--threads', String(o.threads), '--device', o.device ?? 'cpu'];
  if (o.stages.includes('oti')) {
    rmSync(join(runDir, 'oti'), { recursive: true, force: true });
    figures.push(measured('oti', ['oti', '--run', runDir, ...common, '--oti-steps', String(o.otiSteps), '--oti-top-k', String(o.otiTopK)],
      join(runDir, 'oti'), `${o.otiSteps} step(s), top ${o.otiTopK}`, log));
  }
  if (o.stages.includes('phi')) {
    if (!o.stages.includes('oti')) figures.push(await syntheticTokens(o, runDir, log));
    rmSync(join(runDir, 'phi'), { recursive: true, force: true });
    figures.push(measured('phi', ['phi', '--run', runDir, ...common, '--epochs', String(o.phiEpochs), '--top-k', String(o.phiTopK)],
      join(runDir, 'phi'), `${o.phiEpochs} epoch(s), top ${o.phiTopK}`, log));
  }
  if (o.stages.includes('lincir')) {
    // batches of 256 phrases read row by row from the store: the peak must not grow with the phrases
    const steps = o.lincirSteps ?? 3;
    rmSync(join(runDir, 'lincir'), { recursive: true, force: true });
    figures.push(measured('lincir', ['lincir', runDir, ...common, '--steps', String(steps), '--log-every', String(steps), '--batch', '256'],
      join(runDir, 'lincir'), `${steps} step(s) of 256 phrases of ${o.concepts * o.phrasesPerConcept}`, log));
  }
  return figures;
}

export function formatFigures(o: BenchScaleOptions, figures: StageFigure[]): string {
  const lines = [`images ${o.images}, concepts ${o.concepts} × ${o.phrasesPerConcept} phrases (${o.concepts * o.phrasesPerConcept} in all), `
    + `preset ${o.preset}, text width ${o.textWidth}, projection ${o.projection}, one layer a tower, threads ${o.threads}`,
  '| stage | peak RSS (MiB) | seconds | disk (MiB) | what |', '|---|---|---|---|---|'];
  for (const f of figures) {
    lines.push(`| ${f.stage} | ${f.peakMiB === null ? '-' : f.peakMiB.toFixed(0)} | ${f.seconds.toFixed(1)} | ${f.diskMiB.toFixed(0)} | ${f.note} |`);
  }
  return lines.join('\n');
}
