/**
 * Reads the embed stage's `features` parts (image_id utf8, features FixedSizeList<float32>[D]) into
 * plain arrays, so the rest of this stage depends only on {ids, features} and not on the part layout.
 */
import { checkKind, fixedSizeListMatrix, readStrings } from '../../schemas/columns.ts';
import { KIND as FEATURES_KIND } from '../../schemas/features.ts';
import { readPart } from '../../schemas/part-io.ts';

import { UserError, errorMessage } from '../../util/errors.ts';

export { FEATURES_KIND };

export interface FeatureRows {
  ids: string[];
  /** one unnormalised image feature per id (views into one buffer) */
  features: Float32Array[];
}

export function readFeaturesPart(dir: string, index: number): FeatureRows {
  try {
    const table = readPart(dir, FEATURES_KIND, index);
    checkKind(table, FEATURES_KIND);
    const ids = readStrings(table, 'image_id');
    const column = table.getChild('features');
    if (!column) throw new Error("no 'features' column");
    const { dim, matrix } = fixedSizeListMatrix(column);
    return {
      ids: ids.map((id, i) => { if (id === null) throw new Error(`row ${i} has no image_id`); return id; }),
      features: ids.map((_, i) => matrix.subarray(i * dim, (i + 1) * dim)),
    };
  } catch (err) {
    throw new UserError(`cannot read features part ${index} in ${dir}: ${errorMessage(err)}`);
  }
}
