/**
 * Ingest, one declaration: list the images of a folder or CSV manifest, keep this shard's, and plan the
 * parts the later stages write (run-ingest.ts). Needs no model.
 */
import { z } from 'zod';
import { rule } from '../../util/option-rules.ts';
import type { StageDefinition } from '../stage.ts';
import { DEFAULT_PART_SIZE, type IngestSummary, type SourceListing, runIngest } from './run-ingest.ts';

export const ingestOptions = z.object({
  partSize: rule.positiveInt().default(DEFAULT_PART_SIZE).meta({ help: 'images per part' }),
  allowOutside: z.boolean().default(false).meta({ help: 'let manifest paths leave the manifest\'s folder' }),
});

export const ingestStage: StageDefinition<typeof ingestOptions, IngestSummary,
  { source: string; shard: { index: number; count: number }; listing?: SourceListing; force?: boolean }, unknown> = {
  name: 'ingest',
  summary: 'list the images of a folder or CSV manifest and plan this shard\'s parts',
  input: [],
  output: ['images'],
  options: ingestOptions,
  config: (o) => ({ partSize: o.partSize }),
  run: (ctx, o) => runIngest({
    source: ctx.inputs.source, runDir: ctx.runDir, shard: ctx.inputs.shard, partSize: o.partSize, allowOutside: o.allowOutside,
    force: ctx.inputs.force, listing: ctx.inputs.listing, log: (l) => ctx.log(`ingest: ${l}`),
  }),
  counts: (r) => ({ images: r.plan.images, parts: r.plan.parts, sourceImages: r.plan.sourceImages }),
};
