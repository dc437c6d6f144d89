/**
 * `starword export searle`: a run folder in SEARLE's on-disk layout, so SEARLE's own scripts
 * (train_phi.py, validate.py, generate_test_submission.py) read it unchanged. `out` plays the part of
 * SEARLE's `data/` folder:
 *   oti_pseudo_tokens/<dataset>/<split>/<exp>/image_names.pkl          pickled list[str], token order
 *   oti_pseudo_tokens/<dataset>/<split>/<exp>/oti_pseudo_tokens.pt     torch.save of float32 [N, W] (final v*)
 *   oti_pseudo_tokens/<dataset>/<split>/<exp>/ema_oti_pseudo_tokens.pt torch.save of float32 [N, W] (EMA)
 *   oti_pseudo_tokens/<dataset>/<split>/<exp>/hyperparameters.json     oti_inversion.py's argument names
 *   similar_concepts/<dataset>/<split>/<clip>_top_250_ensembling_image_texts.csv   image_concepts_association.py's CSV
 *   GPT_phrases/<gpt-exp>/concept_to_phrases.pkl                        pickled dict str → list[str], raw phrases
 *   phi_models/<exp>/hyperparameters.json                               train_phi.py's argument names
 *   phi_models/<exp>/checkpoints/phi_<best|last|N>.pt                   {'epoch': n, 'Phi': state_dict}
 * Only images whose OTI token is ok are exported (SEARLE's files have no room for a failed row).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { readSafetensorsHeader } from '../clip/weights/safetensors.ts';
import * as conceptsSchema from '../schemas/concepts.ts';
import { listDoneParts, readPart } from '../schemas/part-io.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import * as phrasesSchema from '../schemas/phrases.ts';
import { stageDir } from '../schemas/run-layout.ts';
import * as tokensSchema from '../schemas/tokens.ts';
import { type CheckpointChoice, resolveCheckpoint } from '../stages/phi/checkpoint.ts';
import { PHI_SAFETENSORS, loadPhiSafetensors } from '../stages/phi/export.ts';
import type { PhiOptions } from '../stages/phi/train.ts';
import { SEARLE_PHI } from '../stages/phi/stage.ts';
import { PHI_PARAMS, paramShape } from '../stages/phi/phi-net.ts';
import type { OtiOptions } from '../stages/oti/optimize.ts';
import { SEARLE_OTI } from '../stages/oti/stage.ts';
import { UserError } from '../util/errors.ts';
import { PyDict, pickle } from '../util/pickle-writer.ts';
import { TorchTensor, torchSave } from '../util/torch-save.ts';
import { readRunManifest } from './run-manifest.ts';

export const NAME_RULES = ['id', 'basename', 'stem', 'coco'] as const;
export type NameRule = typeof NAME_RULES[number];

export interface SearleExportOptions {
  runDir: string;
  outDir: string;
  /** SEARLE's --dataset and --split of the folders (imagenet/test: what train_phi.py reads) */
  dataset: string;
  split: string;
  expName: string;
  gptExpName: string;
  /** SEARLE's --clip-model-name, e.g. ViT-B/32 */
  clipModelName: string;
  /** how image ids become SEARLE's image names */
  names: NameRule;
  /** phi output folder; undefined: <run>/phi when it exists */
  phiDir?: string;
  checkpoint?: CheckpointChoice;
  /** the model the tokens and concepts are exported for: parts another model made are refused */
  modelHash?: string;
  log?: (line: string) => void;
}

export interface SearleExportSummary {
  images: number; width: number; concepts: number; phrases: number; conceptsPerImage: number;
  phi: { file: string; epoch: number } | null;
  files: string[];
}

/** SEARLE's image names: ImageNet's are file names (img_path.name), CIRR's stems, CIRCO's COCO ids. */
export function searleName(id: string, rule: NameRule): string {
  if (rule === 'id') return id;
  const base = basename(id);
  if (rule === 'basename') return base;
  const stem = base.slice(0, base.length - extname(base).length);
  if (rule === 'stem') return stem;
  if (!/^\d+$/.test(stem)) throw new UserError(`--names coco: image id ${id} is not a COCO file name (digits)`);
  return String(Number(stem));
}

/** A field as pandas' to_csv writes it (QUOTE_MINIMAL). */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** `json.dump(obj, f, sort_keys=True, indent=4)` for flat objects of JSON scalars. */
function pythonJson(obj: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
  return JSON.stringify(sorted, null, 4);
}

export async function exportSearle(o: SearleExportOptions): Promise<SearleExportSummary> {
  const log = o.log ?? (() => {});
  const files: string[] = [];
  const put = (path: string, data: Uint8Array | string) => { writeFileAtomic(path, data); files.push(path); };

  // tokens: every ok row, in part order
  const otiDir = stageDir(o.runDir, 'oti');
  const parts = existsSync(otiDir) ? listDoneParts(otiDir, tokensSchema.KIND) : [];
  if (!parts.length) throw new UserError(`${o.runDir}: no finished OTI tokens parts in oti/ (run starword oti first)`);
  const ids: string[] = [];
  const tok: Float32Array[] = [], ema: Float32Array[] = [];
  let width = 0, failed = 0;
  for (const i of parts) {
    const part = tokensSchema.fromTable(readPart(otiDir, tokensSchema.KIND, i, { expectModelHash: o.modelHash, modelRedo: 'rerun oti with this model' }));
    width = part.width;
    for (const r of part.rows) {
      if (r.status !== 'ok' || !r.token || !r.ema) { failed++; continue; }
      ids.push(r.imageId); tok.push(r.token); ema.push(r.ema);
    }
  }
  if (!ids.length) throw new UserError(`${o.runDir}: no image has an ok OTI token`);
  if (failed) log(`export: ${failed} images without an ok OTI token are left out`);
  const names = ids.map((id) => searleName(id, o.names));
  const seen = new Map<string, string>();
  names.forEach((n, i) => {
    const other = seen.get(n);
    if (other !== undefined) throw new UserError(`--names ${o.names}: images ${other} and ${ids[i]} both become '${n}'; use --names id`);
    seen.set(n, ids[i]);
  });

  const otiOut = join(o.outDir, 'oti_pseudo_tokens', o.dataset, o.split, o.expName);
  mkdirSync(otiOut, { recursive: true });
  const stack = (rows: Float32Array[]) => { const m = new Float32Array(rows.length * width); rows.forEach((r, i) => m.set(r, i * width)); return m; };
  put(join(otiOut, 'image_names.pkl'), pickle(names));
  torchSave(join(otiOut, 'oti_pseudo_tokens.pt'), new TorchTensor(stack(tok), [ids.length, width])); files.push(join(otiOut, 'oti_pseudo_tokens.pt'));
  torchSave(join(otiOut, 'ema_oti_pseudo_tokens.pt'), new TorchTensor(stack(ema), [ids.length, width])); files.push(join(otiOut, 'ema_oti_pseudo_tokens.pt'));

  const manifest = readRunManifest(o.runDir);
  const oti = (manifest?.config?.oti as OtiOptions | undefined) ?? null;
  if (!oti) log(`export: ${o.runDir} has no run.json with the OTI options; hyperparameters.json states starword's OTI defaults`);
  const ot = oti ?? SEARLE_OTI;
  const preprocess = String((manifest?.config?.embed as { preprocess?: string } | undefined)?.preprocess ?? 'targetpad');
  put(join(otiOut, 'hyperparameters.json'), pythonJson({
    exp_name: o.expName, clip_model_name: o.clipModelName, dataset: o.dataset, dataset_path: null, split: o.split,
    gpt_exp_name: o.gptExpName, learning_rate: ot.adamw.lr, weight_decay: ot.adamw.weightDecay, batch_size: ot.batchSize,
    preprocess_type: preprocess === 'plain' ? 'clip' : preprocess, top_k: ot.topK, oti_steps: ot.steps, lambda_gpt: ot.lambdaGpt,
    lambda_cos: ot.lambdaCos, ema_decay: ot.emaDecay, save_frequency: 5, resume_experiment: false, seed: ot.seed,
  }));

  // concepts CSV: "Image Name", 1..K; SEARLE keeps 250 per image
  const conceptsDir = stageDir(o.runDir, 'concepts');
  const cparts = existsSync(conceptsDir) ? listDoneParts(conceptsDir, conceptsSchema.KIND) : [];
  let conceptsPerImage = 0;
  if (cparts.length) {
    const rows: { name: string; concepts: string[] }[] = [];
    const nameOf = new Map(ids.map((id, i) => [id, names[i]]));
    for (const i of cparts) {
      for (const r of conceptsSchema.fromTable(readPart(conceptsDir, conceptsSchema.KIND, i, { expectModelHash: o.modelHash, modelRedo: 'rerun concepts with this model' }))) {
        rows.push({ name: nameOf.get(r.imageId) ?? searleName(r.imageId, o.names), concepts: r.concepts.slice(0, 250) });
        conceptsPerImage = Math.max(conceptsPerImage, Math.min(250, r.concepts.length));
      }
    }
    if (conceptsPerImage < 250) log(`export: the run kept ${conceptsPerImage} concepts per image (concepts --top-k); SEARLE's CSV has 250: it holds ${conceptsPerImage} columns`);
    const header = ['Image Name', ...Array.from({ length: conceptsPerImage }, (_, i) => String(i + 1))];
    const lines = [header.join(',')];
    for (const r of rows) lines.push([r.name, ...Array.from({ length: conceptsPerImage }, (_, i) => r.concepts[i] ?? '')].map(csvField).join(','));
    const dir = join(o.outDir, 'similar_concepts', o.dataset, o.split);
    mkdirSync(dir, { recursive: true });
    put(join(dir, `${o.clipModelName.replace(/\//g, '')}_top_250_ensembling_image_texts.csv`), `${lines.join('\n')}\n`);
  } else log(`export: ${o.runDir} has no concepts parts; no similar_concepts CSV`);

  // phrases: the raw phrases per concept, in part order
  const phrasesDir = stageDir(o.runDir, 'phrases');
  const pparts = existsSync(phrasesDir) ? listDoneParts(phrasesDir, phrasesSchema.KIND) : [];
  const byConcept = new Map<string, string[]>();
  let phraseCount = 0;
  for (const i of pparts) {
    for (const r of phrasesSchema.fromTable(readPart(phrasesDir, phrasesSchema.KIND, i)).rows) {
      const list = byConcept.get(r.concept) ?? [];
      if (!byConcept.has(r.concept)) byConcept.set(r.concept, list);
      list.push(r.phrase);
      phraseCount++;
    }
  }
  if (pparts.length) {
    const dir = join(o.outDir, 'GPT_phrases', o.gptExpName);
    mkdirSync(dir, { recursive: true });
    put(join(dir, 'concept_to_phrases.pkl'), pickle(new PyDict([...byConcept].map(([c, ps]) => [c, ps]))));
  } else log(`export: ${o.runDir} has no phrases parts; no concept_to_phrases.pkl`);

  // phi
  let phi: SearleExportSummary['phi'] = null;
  const phiDir = o.phiDir ?? stageDir(o.runDir, 'phi');
  if (o.phiDir !== undefined || existsSync(phiDir)) {
    const ck = await resolveCheckpoint(phiDir, join(phiDir, PHI_SAFETENSORS), o.checkpoint, log);
    const { dims, weights, metadata } = await loadPhiSafetensors(ck.path);
    const epoch = Number.isFinite(ck.epoch) ? ck.epoch : Number(metadata['starword.epoch'] ?? 0);
    // the training options travel in the final export's metadata (snapshots hold only weights)
    const last = join(phiDir, PHI_SAFETENSORS);
    const trained = existsSync(last) ? (await readSafetensorsHeader(last)).metadata?.['starword.options'] : metadata['starword.options'];
    const po: PhiOptions = { ...SEARLE_PHI, ...(trained ? JSON.parse(trained) as Partial<PhiOptions> : {}) };
    const dir = join(o.outDir, 'phi_models', o.expName);
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    put(join(dir, 'hyperparameters.json'), pythonJson({
      exp_name: o.expName, clip_model_name: o.clipModelName, imagenet_dataset_path: null, cirr_dataset_path: null,
      oti_exp_name: o.expName, gpt_exp_name: o.gptExpName, preprocess_type: preprocess === 'plain' ? 'clip' : preprocess,
      phi_dropout: po.dropout, batch_size: po.batchSize, num_workers: 10, learning_rate: po.lr, weight_decay: po.weightDecay,
      num_epochs: po.epochs, lambda_distil: po.lambdaDistil, lambda_gpt: po.lambdaGpt, temperature: po.temperature,
      validation_frequency: 1, save_frequency: po.checkpointEvery, save_training: true, top_k_concepts: po.topK,
      api_key: null, workspace: null, seed: po.seed,
    }));
    const file = join(dir, 'checkpoints', `phi_${ck.name}.pt`);
    torchSave(file, { dict: [['epoch', epoch], ['Phi', { dict: PHI_PARAMS.map((n) => [n, new TorchTensor(weights[n], paramShape(dims, n))]), ordered: true }]] });
    files.push(file);
    phi = { file, epoch };
  }
  return { images: ids.length, width, concepts: byConcept.size, phrases: phraseCount, conceptsPerImage, phi, files };
}
