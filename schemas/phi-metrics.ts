/**
 * The `phi-metrics` kind: one row per epoch of phi training (epoch 0: the held-out split at
 * initialisation, before any step; its train columns are NaN).
 *   epoch         int32
 *   steps         int32     optimizer steps taken so far
 *   train_distil  float32   mean over the epoch's batches, train mode (dropout on)
 *   train_gpt     float32
 *   train_total   float32
 *   val_distil    float32   held-out split, eval mode (no dropout), fixed phrase draws; NaN without a split
 *   val_gpt       float32
 *   val_total     float32
 *   val_cosine    float32   mean cosine between phi(x) and the OTI EMA token on held-out images
 *   cirr_r1 … cirr_r50, cirr_rs1 … cirr_rs3   float32   CIRR val Recall@K / Recall_subset@K in percent
 *                 (phi --val-cirr, SEARLE's per-epoch validation); NaN when not validated
 *   cirr_avg      float32   (R@5 + Rsubset@1) / 2, CIRR's headline average: the model-selection criterion
 *   seconds       float32   wall time of the epoch (training and evaluation)
 */
import type { Schema, Table } from 'apache-arrow';
import { epochMetricsFromTable, epochMetricsSchema, epochMetricsToTable } from './epoch-metrics.ts';

export const KIND = 'phi-metrics';

/** CIRR val metrics recorded per epoch: [column, row key, the evaluate stage's metric name]. */
export const VAL_METRICS = [
  ['cirr_r1', 'cirrR1', 'R@1'], ['cirr_r5', 'cirrR5', 'R@5'], ['cirr_r10', 'cirrR10', 'R@10'], ['cirr_r50', 'cirrR50', 'R@50'],
  ['cirr_rs1', 'cirrRs1', 'Rsubset@1'], ['cirr_rs2', 'cirrRs2', 'Rsubset@2'], ['cirr_rs3', 'cirrRs3', 'Rsubset@3'],
] as const;
type ValKey = typeof VAL_METRICS[number][1];

/**
 * SEARLE's train_phi.py validates every epoch and logs the metrics but picks no checkpoint; starword
 * marks the epoch with CIRR's own headline number, the mean of Recall@5 and Recall_subset@1.
 */
export const PHI_SELECTION_CRITERION = 'cirr_avg = (R@5 + Rsubset@1) / 2';

export type PhiValMetrics = Record<ValKey | 'cirrAvg', number>;

/** The CIRR columns are optional: rows made without validation may leave them out (read back as NaN). */
export interface PhiMetricsRow extends Partial<PhiValMetrics> {
  epoch: number;
  steps: number;
  trainDistil: number; trainGpt: number; trainTotal: number;
  valDistil: number; valGpt: number; valTotal: number; valCosine: number;
  seconds: number;
}

export function noValMetrics(): PhiValMetrics {
  const out = { cirrAvg: NaN } as PhiValMetrics;
  for (const [, k] of VAL_METRICS) out[k] = NaN;
  return out;
}

/** The row's CIRR columns from the evaluate stage's metrics (missing names stay NaN). */
export function valMetricsFrom(metrics: Record<string, number>): PhiValMetrics {
  const out = noValMetrics();
  for (const [, k, name] of VAL_METRICS) out[k] = metrics[name] ?? NaN;
  out.cirrAvg = (out.cirrR5 + out.cirrRs1) / 2;
  return out;
}

const FLOAT_COLUMNS = [
  ['train_distil', 'trainDistil'], ['train_gpt', 'trainGpt'], ['train_total', 'trainTotal'],
  ['val_distil', 'valDistil'], ['val_gpt', 'valGpt'], ['val_total', 'valTotal'], ['val_cosine', 'valCosine'],
  ...VAL_METRICS.map(([c, k]) => [c, k] as const), ['cirr_avg', 'cirrAvg'],
  ['seconds', 'seconds'],
] as const;

export function schema(metadata: Record<string, string> = {}): Schema {
  return epochMetricsSchema(KIND, FLOAT_COLUMNS, metadata);
}

export function toTable(rows: readonly PhiMetricsRow[], metadata: Record<string, string> = {}): Table {
  return epochMetricsToTable(KIND, FLOAT_COLUMNS, rows, metadata);
}

/** Files written before the CIRR columns existed read them as NaN. */
export function fromTable(table: Table): PhiMetricsRow[] {
  return epochMetricsFromTable(KIND, FLOAT_COLUMNS, table, true);
}
