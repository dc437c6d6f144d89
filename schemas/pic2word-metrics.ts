/**
 * The `pic2word-metrics` kind: one row per epoch of Pic2Word training (epoch 0: the held-out split at
 * initialisation, before any step; its train columns are NaN).
 *   epoch        int32
 *   steps        int32     optimizer steps taken so far
 *   lr           float32   learning rate of the epoch's last step (cosine schedule with warmup)
 *   train_loss   float32   mean symmetric contrastive loss over the epoch's batches, train mode (dropout on)
 *   val_loss     float32   held-out split in batches of the training batch size, eval mode; NaN without one
 *   val_cosine   float32   mean cos(image, text("a photo of $" with f_M's token)) on held-out images
 *   seconds      float32   wall time of the epoch (training and evaluation)
 */
import { type MapperMetricsRow, mapperMetricsKind } from './epoch-metrics.ts';

export const KIND = 'pic2word-metrics';

export type Pic2WordMetricsRow = MapperMetricsRow;

export const { schema, toTable, fromTable } = mapperMetricsKind(KIND);
