/**
 * A Hugging Face CLIP checkpoint folder, loaded and checked: config.json, then model.safetensors (or a
 * sharded model.safetensors.index.json), every tensor the config implies present with its shape, and
 * no other (but HF's position_ids buffers).
 * Headers are checked before any tensor byte is read, so a bad folder fails in milliseconds.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { parseClipConfig, type ClipConfig } from './config.ts';
import { expectedClipTensors } from './clip-tensors.ts';
import {
  FLOAT_DTYPES, formatShape, loadTensors, readSafetensorsHeader, readShardHeaders, readShardIndex, readTensorSync,
  type FloatDtype, type SafetensorsHeader, type TensorEntry,
} from './safetensors.ts';

export interface ClipModel {
  dir: string;
  config: ClipConfig;
  /** sha256 hex over config.json's bytes then every safetensors file's bytes (shards in name order). */
  hash: string;
  /** float32 values, read from disk on each call; throws UserError if absent. */
  tensor(name: string): Float32Array;
  shape(name: string): number[];
  has(name: string): boolean;
  /** vocab.json + merges.txt when the folder has both. */
  tokenizerFiles: { vocabJson: string; mergesTxt: string } | null;
  /** Parsed preprocessor_config.json, if present. */
  preprocessorConfig: Record<string, unknown> | null;
}

type WeightFiles =
  | { kind: 'single'; file: string; files: string[] }
  | { kind: 'sharded'; indexFile: string; files: string[] };

async function exists(path: string): Promise<boolean> {
  try { await stat(path); return true; } catch { return false; }
}

async function checkFolder(dir: string): Promise<void> {
  let info;
  try { info = await stat(dir); } catch { throw new UserError(`model folder ${dir} does not exist`); }
  if (!info.isDirectory()) throw new UserError(`model folder ${dir} is not a folder`);
}

async function readConfig(dir: string): Promise<{ bytes: Buffer; config: ClipConfig }> {
  const path = join(dir, 'config.json');
  let bytes: Buffer;
  try { bytes = await readFile(path); } catch {
    throw new UserError(`${dir}: no config.json (a Hugging Face CLIP folder holds config.json and model.safetensors)`);
  }
  let json: unknown;
  try { json = JSON.parse(bytes.toString('utf8')); } catch (err) {
    throw new UserError(`${path}: bad JSON (${(err as Error).message})`);
  }
  return { bytes, config: parseClipConfig(json, path) };
}

/** Which weight files the folder holds; single file first, as transformers prefers it too. */
async function findWeights(dir: string): Promise<WeightFiles> {
  const single = join(dir, 'model.safetensors');
  if (await exists(single)) return { kind: 'single', file: single, files: [single] };
  const indexFile = join(dir, 'model.safetensors.index.json');
  if (await exists(indexFile)) return { kind: 'sharded', indexFile, files: (await readShardIndex(indexFile)).files };
  if (await exists(join(dir, 'pytorch_model.bin')) || await exists(join(dir, 'pytorch_model.bin.index.json'))) {
    throw new UserError(
      `${dir}: holds pytorch_model.bin but starword reads only safetensors; convert it with ` +
      `python -c "from transformers import CLIPModel; CLIPModel.from_pretrained('${dir}').save_pretrained('${dir}', safe_serialization=True)"`,
    );
  }
  throw new UserError(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

/**
 * Buffers Hugging Face may save beside the parameters (transformers < 4.31 stored position_ids): not
 * weights, so a checkpoint holding them is still exactly the model its config describes.
 */
const KNOWN_BUFFERS = new Set(['text_model.embeddings.position_ids', 'vision_model.embeddings.position_ids']);

/**
 * Tensors the config does not use are refused: a config.json with fewer layers than the weights (or a
 * checkpoint of another layout) would otherwise load a different model, silently. Names up to three and
 * says how many; for extra encoder layers, which layers and what config.json declares.
 */
function unusedTensorsProblem(config: ClipConfig, found: Map<string, TensorEntry>, label: string): string | null {
  const expected = new Set(expectedClipTensors(config).map((t) => t.name));
  const unused = [...found.keys()].filter((n) => !expected.has(n) && !KNOWN_BUFFERS.has(n)).sort();
  if (!unused.length) return null;
  const extraLayers = (tower: 'text' | 'vision') => {
    const ids = new Set<number>();
    for (const n of unused) {
      const m = new RegExp(`^${tower}_model\\.encoder\\.layers\\.(\\d+)\\.`).exec(n);
      if (m && Number(m[1]) >= config[tower].layers) ids.add(Number(m[1]));
    }
    if (!ids.size) return '';
    const sorted = [...ids].sort((a, b) => a - b);
    return `; the weights hold ${tower} layers up to ${sorted[sorted.length - 1]} but config.json's ${tower}_config.num_hidden_layers is ${config[tower].layers}`;
  };
  const shown = unused.slice(0, 3).join(', ') + (unused.length > 3 ? ` and ${unused.length - 3} more` : '');
  return `${label}: ${unused.length} tensor${unused.length === 1 ? '' : 's'} that config.json does not use: ${shown}${extraLayers('text')}${extraLayers('vision')}`;
}

/** Every expected tensor present, float, and of the config's shape, and none unused; else one line naming the first. */
function checkTensors(config: ClipConfig, headers: SafetensorsHeader[], label: string): void {
  const found = new Map<string, TensorEntry>();
  for (const h of headers) for (const t of h.tensors) found.set(t.name, t);
  const problems: string[] = [];
  for (const spec of expectedClipTensors(config)) {
    const t = found.get(spec.name);
    if (!t) problems.push(`${label}: missing tensor ${spec.name} (config.json implies shape ${formatShape(spec.shape)})`);
    else if (formatShape(t.shape) !== formatShape(spec.shape)) {
      problems.push(`${t.file}: ${spec.name} has shape ${formatShape(t.shape)} but config.json implies ${formatShape(spec.shape)}`);
    } else if (!FLOAT_DTYPES.includes(t.dtype as FloatDtype)) {
      problems.push(`${t.file}: tensor ${spec.name} has dtype ${t.dtype}; starword reads only F32, F16 and BF16`);
    }
  }
  if (problems.length === 1) throw new UserError(problems[0]);
  if (problems.length > 1) throw new UserError(`${problems[0]} (and ${problems.length - 1} more tensor problems)`);
  const unused = unusedTensorsProblem(config, found, label);
  if (unused) throw new UserError(unused);
}

export async function loadClipModel(dir: string): Promise<ClipModel> {
  await checkFolder(dir);
  const { bytes: configBytes, config } = await readConfig(dir);
  const weights = await findWeights(dir);
  const headers = weights.kind === 'single'
    ? [await readSafetensorsHeader(weights.file)]
    : await readShardHeaders(await readShardIndex(weights.indexFile));
  checkTensors(config, headers, weights.kind === 'single' ? weights.file : weights.indexFile);

  // Hash every byte now, but keep no tensor: each is read from disk when a graph is built from it, which
  // is never when the graphs are already cached (a ViT-L/14 then costs no resident memory at all).
  const hash = createHash('sha256').update(configBytes);
  await loadTensors(headers, { want: () => false, hash });
  const expected = new Set(expectedClipTensors(config).map((t) => t.name));
  const entries = new Map<string, TensorEntry>();
  for (const h of headers) for (const t of h.tensors) if (expected.has(t.name)) entries.set(t.name, t);
  const entry = (name: string): TensorEntry => {
    const e = entries.get(name);
    if (!e) throw new UserError(`${dir}: no tensor named ${name}`);
    return e;
  };

  const vocabJson = join(dir, 'vocab.json'), mergesTxt = join(dir, 'merges.txt');
  const tokenizerFiles = (await exists(vocabJson)) && (await exists(mergesTxt)) ? { vocabJson, mergesTxt } : null;

  return {
    dir, config, hash: hash.digest('hex'),
    tensor: (name) => readTensorSync(entry(name)),
    shape: (name) => [...entry(name).shape],
    has: (name) => entries.has(name),
    tokenizerFiles,
    preprocessorConfig: await readPreprocessorConfig(dir),
  };
}

async function readPreprocessorConfig(dir: string): Promise<Record<string, unknown> | null> {
  const path = join(dir, 'preprocessor_config.json');
  if (!(await exists(path))) return null;
  let json: unknown;
  try { json = JSON.parse(await readFile(path, 'utf8')); } catch (err) {
    throw new UserError(`${path}: bad JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new UserError(`${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

/**
 * The same hash loadClipModel reports, by streaming the files without parsing or checking them:
 * enough to look up a graph cache before paying for a full load.
 */
export async function modelHash(dir: string): Promise<string> {
  await checkFolder(dir);
  const hash = createHash('sha256');
  try { hash.update(await readFile(join(dir, 'config.json'))); } catch {
    throw new UserError(`${dir}: no config.json (a Hugging Face CLIP folder holds config.json and model.safetensors)`);
  }
  for (const file of (await findWeights(dir)).files) {
    try {
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    } catch {
      throw new UserError(`${file}: cannot read`);
    }
  }
  return hash.digest('hex');
}
