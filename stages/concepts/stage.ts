/**
 * Concepts, one declaration: each image's top-K vocabulary names by cosine with SEARLE's 24-template
 * text features (run.ts), as concepts parts.
 */
import { z } from 'zod';
import { stageDir } from '../../schemas/run-layout.ts';
import { rule } from '../../util/option-rules.ts';
import type { StageDefinition } from '../stage.ts';
import { DEFAULT_TOP_K, type RunConceptsResult, runConcepts } from './run-concepts.ts';
import { DEFAULT_VOCAB_BATCH_SIZE } from './vocab-features.ts';
import type { Vocabulary } from './vocab.ts';

export const conceptsOptions = z.object({
  vocab: z.string().optional().meta({
    help: 'concept vocabulary: CSV/TSV (column name, DisplayName or concept, else the first) or one name per line (default: Open Images V7, 20,931 names)',
    value: '<file>',
  }),
  topK: rule.positiveInt().default(DEFAULT_TOP_K).meta({ help: 'concepts kept per image' }),
  vocabBatch: rule.positiveInt().default(DEFAULT_VOCAB_BATCH_SIZE).meta({ help: 'vocabulary names per text-encoder call (each is 24 prompts)' }),
});

export const conceptsStage: StageDefinition<typeof conceptsOptions, RunConceptsResult,
  { vocabulary: Vocabulary; featuresDir?: string; outDir?: string }> = {
  name: 'concepts',
  summary: 'zero-shot concepts per image: top-K vocabulary names by cosine with the 24-template text features',
  input: ['features'],
  output: ['concepts'],
  options: conceptsOptions,
  config: (o) => ({ topK: o.topK }),
  async run(ctx, o) {
    if (!ctx.shared) throw new Error('concepts: no text encoder was opened');
    return runConcepts({
      featuresDir: ctx.inputs.featuresDir ?? stageDir(ctx.runDir, 'embed'), outDir: ctx.inputs.outDir ?? stageDir(ctx.runDir, 'concepts'),
      textEncoder: ctx.shared.text, modelHash: ctx.model.hash, vocabulary: ctx.inputs.vocabulary, topK: o.topK, batchSize: o.vocabBatch,
      cacheDir: ctx.session.cacheDir, log: ctx.log, progress: ctx.progress('vocabulary features'),
    });
  },
  counts: (r) => ({ images: r.images, parts: r.parts, written: r.written, topK: r.topK }),
  resumedCounts: ['written'],
};
