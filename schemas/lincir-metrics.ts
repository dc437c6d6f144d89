/**
 * The `lincir-metrics` kind: one row per `log-every` steps of LinCIR training (epoch 0: the held-out
 * phrases at initialisation, before any step; its train columns are NaN).
 *   epoch        int32     the row's number (a round of log-every steps; the last may be shorter)
 *   steps        int32     optimizer steps taken so far
 *   lr           float32   learning rate (LinCIR: constant)
 *   train_loss   float32   mean MSE(text(masked phrase with φ's token), text(phrase)) over the round's batches,
 *                          train mode (noise and dropout on)
 *   val_loss     float32   the same on the held-out phrases, eval mode, no noise; NaN without held-out phrases
 *   val_cosine   float32   mean cos(text(masked phrase with φ's token), text(phrase)) on the held-out phrases
 *   seconds      float32   wall time of the round (training and evaluation)
 */
import { type MapperMetricsRow, mapperMetricsKind } from './epoch-metrics.ts';

export const KIND = 'lincir-metrics';

export type LincirMetricsRow = MapperMetricsRow;

export const { schema, toTable, fromTable } = mapperMetricsKind(KIND);
