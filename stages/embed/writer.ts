/**
 * The writer: a part's errors, then its features, then the features stats (the part's done marker,
 * written last and holding the part's timings, write time included).
 */
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as errors from '../../schemas/errors.ts';
import * as features from '../../schemas/features.ts';
import { type PartStats, type Provenance, writePart, writePartArrow, writePartMarker } from '../../schemas/part-io.ts';
import type { PhaseTimings } from './types.ts';

export interface EmbedPartResult {
  index: number;
  /** hash of the images part this was computed from (resume redoes a part whose input changed) */
  inputHash: string;
  dim: number;
  rows: features.FeatureRow[];
  failed: errors.ErrorRow[];
  metadata: Record<string, string>;
  provenance?: Provenance;
}

export async function writeEmbedPart(dir: string, part: EmbedPartResult, timings: Omit<PhaseTimings, 'write_s'>): Promise<PartStats> {
  const t0 = performance.now();
  await writePart(dir, errors.KIND, part.index, errors.toTable(part.failed), SCHEMA_VERSION, { stage: 'embed' });
  const table = features.toTable(part.rows, part.dim, part.metadata);
  const file = writePartArrow(dir, features.KIND, part.index, table);
  const stats: PartStats = {
    kind: features.KIND, part: part.index, rows: table.numRows, schemaVersion: SCHEMA_VERSION,
    inputHash: part.inputHash, inputRows: part.rows.length + part.failed.length, failed: part.failed.length, dim: part.dim,
    ...timings, write_s: (performance.now() - t0) / 1000, ...file, ...(part.provenance ? { provenance: part.provenance } : {}),
  };
  return writePartMarker(dir, features.KIND, part.index, stats);
}
