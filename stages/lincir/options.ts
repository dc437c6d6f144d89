/**
 * LinCIR training options, one zod object: each field's default is LinCIR's (navervision/lincir
 * train_phi.py's argparse defaults; Gu et al., CVPR 2024, §4.1) and its help sits beside it.
 * `meta.lincir` records LinCIR's value where starword's default differs.
 */
import { z } from 'zod';
import { INPUT_NOISES } from '../../clip/training/input-noise.ts';
import { rule } from '../../util/option-rules.ts';

export const lincirOptionsSchema = z.object({
  steps: rule.nonNegativeInt().default(50000)
    .meta({ help: 'optimizer steps in all (LinCIR: --max_train_steps 50000)' }),
  batch: rule.positiveInt().default(256)
    .meta({ help: 'phrases per batch (LinCIR: --batch_size 256)' }),
  lr: rule.positive().default(1e-4)
    .meta({ help: 'AdamW learning rate, constant (LinCIR: --learning_rate 1e-4, --lr_scheduler constant)' }),
  weightDecay: rule.nonNegative().default(0.01)
    .meta({ help: 'AdamW weight decay (LinCIR: --weight_decay 0.01)' }),
  dropout: rule.fraction().default(0.5)
    .meta({ help: 'dropout after each hidden GELU of φ (LinCIR: --phi_dropout 0.5)' }),
  noise: rule.oneOf(INPUT_NOISES).default('lincir')
    .meta({ value: '<kind>', help: 'noise on the text feature before φ: lincir (U(0,1)·N(0,I) per phrase, train_phi.py), gaussian (σ = --noise-sigma), none' }),
  noiseSigma: rule.nonNegative().default(1)
    .meta({ help: 'σ of --noise gaussian' }),
  logEvery: rule.positiveInt().default(1000)
    .meta({ help: 'steps between metrics rows, held-out evaluations and checkpoint opportunities (an "epoch" of the trainer)' }),
  checkpointEvery: rule.positiveInt().default(5)
    .meta({ help: 'metrics rows between resumable checkpoints (and after the last step)' }),
  valPhrases: rule.nonNegativeInt().default(0)
    .meta({ help: 'phrases held out for the per-row held-out loss (LinCIR holds none out: it validates on CIRR)', lincir: 0 }),
  captions: z.string().optional()
    .meta({ value: '<file>', help: 'also train on a caption file: one caption a line, or JSON Lines (.jsonl/.ndjson) with a "caption" or "text" field; each caption\'s longest concept-vocabulary name is masked, captions without one are skipped; with a run, both are trained on' }),
  vocab: z.string().optional()
    .meta({ value: '<file>', help: 'the vocabulary that masks --captions: CSV/TSV (column name, DisplayName or concept, else the first) or one name per line (default: Open Images V7, 20,931 names, as the concepts stage)' }),
  seed: rule.int().default(0)
    .meta({ help: 'seed of the initial weights, phrase order, noise and dropout (LinCIR: --seed, unset)' }),
});

export type LincirOptions = z.infer<typeof lincirOptionsSchema>;

export const LINCIR_DEFAULTS: LincirOptions = lincirOptionsSchema.parse({});
