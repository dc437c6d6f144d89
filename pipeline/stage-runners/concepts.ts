/** The concepts stage as `run` drives it. */
import type { Command } from 'commander';
import { z } from 'zod';
import { resolve } from 'node:path';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import type { ClipModel } from '../../clip/weights.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { DEFAULT_TOP_K, type RunConceptsResult, runConcepts } from '../../stages/concepts/run.ts';
import { DEFAULT_VOCAB_PATH, type Vocabulary, loadVocabulary } from '../../stages/concepts/vocab.ts';
import { checkOptions, kebabFlag, rule } from '../option-checks.ts';
import { positiveIntOption } from '../options.ts';
import { createProgress } from '../progress.ts';

export interface ConceptsCliOptions { vocab?: string; topK: number; cacheDir?: string; logJson?: boolean }

export function addConceptsOptions(cmd: Command): Command {
  return cmd
    .option('--vocab <file>', 'concept vocabulary: CSV (name/DisplayName/concept column) or one name per line (default: Open Images V7, 20,931 names)')
    .option('--top-k <n>', 'concepts kept per image', positiveIntOption, DEFAULT_TOP_K);
}

/** The concepts stage's option rules. */
export const conceptsOptionsSchema = z.object({ topK: rule.positiveInt() });

export function checkConceptsOptions(o: ConceptsCliOptions): void {
  checkOptions(conceptsOptionsSchema, o, kebabFlag());
}

/** Loads the vocabulary early, so a bad file fails before any compute. */
export function conceptsVocabulary(o: ConceptsCliOptions): Vocabulary {
  return loadVocabulary(o.vocab === undefined ? DEFAULT_VOCAB_PATH : resolve(o.vocab));
}

export async function conceptsStage(runDir: string, model: ClipModel, text: TextEncoder, vocabulary: Vocabulary,
  o: ConceptsCliOptions, log: (line: string) => void): Promise<RunConceptsResult> {
  return runConcepts({
    featuresDir: stageDir(runDir, 'embed'), outDir: stageDir(runDir, 'concepts'), textEncoder: text, modelHash: model.hash,
    vocabulary, topK: o.topK, cacheDir: o.cacheDir, log, progress: createProgress('vocabulary features', { logJson: o.logJson }),
  });
}
