/**
 * `starword export searle RUN --out DIR`: the run in SEARLE's on-disk layout (pipeline/searle-export.ts),
 * DIR standing for SEARLE's `data/` folder.
 */
import type { Command } from 'commander';
import { resolve, basename } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClipConfig } from '../../clip/weights/config.ts';
import { modelHash } from '../../clip/weights/clip-model.ts';
import { readRunManifest } from '../run-manifest.ts';
import { parseCheckpointChoice } from '../../stages/phi/checkpoint.ts';
import { UserError } from '../../util/errors.ts';
import { NAME_RULES, type NameRule, exportSearle } from '../searle-export.ts';

interface ExportSearleFlags {
  out: string; dataset: string; split: string; expName?: string; gptExpName: string; clipModelName?: string;
  names: string; phi?: string; checkpoint?: string; model?: string;
}

/** SEARLE's --clip-model-name for the two checkpoints it was made with, from the CLIP config's shapes. */
export function guessClipModelName(c: { projectionDim: number; vision: { patchSize: number; width: number } }): string | undefined {
  if (c.projectionDim === 512 && c.vision.patchSize === 32 && c.vision.width === 768) return 'ViT-B/32';
  if (c.projectionDim === 768 && c.vision.patchSize === 14 && c.vision.width === 1024) return 'ViT-L/14';
  return undefined;
}

export function register(program: Command): void {
  const exp = program.command('export').description('write a run in another tool\'s layout');
  exp.command('searle <run>')
    .description('SEARLE\'s on-disk layout (image_names.pkl, *_oti_pseudo_tokens.pt, concepts CSV, concept_to_phrases.pkl, phi checkpoint): SEARLE\'s scripts read it unchanged')
    .requiredOption('--out <dir>', 'output folder, standing for SEARLE\'s data/ folder')
    .option('--dataset <name>', 'SEARLE\'s dataset folder name (train_phi.py reads imagenet)', 'imagenet')
    .option('--split <name>', 'SEARLE\'s split folder name (train_phi.py reads test)', 'test')
    .option('--exp-name <name>', 'experiment name of the OTI tokens and of phi (default: the run folder\'s name)')
    .option('--gpt-exp-name <name>', 'experiment name of the phrases (SEARLE\'s default GPTNeo27B)', 'GPTNeo27B')
    .option('--clip-model-name <name>', 'SEARLE\'s --clip-model-name, e.g. ViT-B/32 (default: from --model or run.json\'s model, for B/32 and L/14)')
    .option('--model <dir>', 'the CLIP folder, to name it and to check the parts against (default: run.json\'s model)')
    .option('--names <rule>', `image ids → SEARLE names: ${NAME_RULES.join(' | ')} (ImageNet: basename, CIRR: stem, CIRCO: coco)`, 'id')
    .option('--phi <dir>', 'phi output folder (default <run>/phi when it exists)')
    .option('--checkpoint <which>', 'phi checkpoint: best | last | an epoch (default: best when validated, else last)')
    .action(async (run: string, f: ExportSearleFlags) => {
      const runDir = resolve(run);
      if (!(NAME_RULES as readonly string[]).includes(f.names)) throw new UserError(`--names must be one of ${NAME_RULES.join(', ')}, got '${f.names}'`);
      let clipModelName = f.clipModelName;
      if (!clipModelName) {
        const modelDir = f.model ? resolve(f.model) : readRunManifest(runDir)?.model?.dir;
        const cfgPath = modelDir ? join(modelDir, 'config.json') : undefined;
        const cfg = cfgPath && existsSync(cfgPath) ? parseClipConfig(JSON.parse(readFileSync(cfgPath, 'utf8')), cfgPath) : undefined;
        clipModelName = cfg ? guessClipModelName(cfg) : undefined;
        if (!clipModelName) throw new UserError('--clip-model-name is needed (the model is neither ViT-B/32 nor ViT-L/14, or unknown): SEARLE names files after it');
      }
      const s = await exportSearle({
        runDir, outDir: resolve(f.out), dataset: f.dataset, split: f.split, expName: f.expName ?? basename(runDir),
        gptExpName: f.gptExpName, clipModelName, names: f.names as NameRule, phiDir: f.phi ? resolve(f.phi) : undefined,
        checkpoint: f.checkpoint === undefined ? undefined : parseCheckpointChoice(f.checkpoint),
        // the parts are checked against --model when given, else against the model run.json names
        modelHash: f.model ? await modelHash(resolve(f.model)) : readRunManifest(runDir)?.model?.hash,
        log: (l) => process.stderr.write(`${l}\n`),
      });
      console.log(`export searle: ${s.images} tokens of width ${s.width}, ${s.concepts} concepts with ${s.phrases} phrases, `
        + `${s.conceptsPerImage} concepts per image${s.phi ? `, phi epoch ${s.phi.epoch}` : ', no phi'}; ${s.files.length} files in ${resolve(f.out)}`);
    });
}
