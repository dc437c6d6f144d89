/**
 * Warm starts for OTI (`--init-from`): a tokens Arrow file, or a folder of tokens parts (an earlier OTI
 * run, or phi's `invert` output), read into image id → token. The EMA column is used when present, as it
 * is what later stages use; rows that failed are skipped.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import * as tokensSchema from '../../schemas/tokens.ts';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { UserError, errorMessage } from '../../util/errors.ts';

/** With `modelHash` (OTI's model), tokens another model made are refused: their start is another space's. */
export function readInitTokens(path: string, width: number, modelHash?: string): Map<string, Float32Array> {
  if (!existsSync(path)) throw new UserError(`--init-from ${path}: no such file or folder`);
  const tables = [];
  try {
    if (statSync(path).isDirectory()) {
      const parts = listDoneParts(path, tokensSchema.KIND);
      if (!parts.length) throw new Error('no finished tokens parts in it');
      for (const i of parts) tables.push(readPart(path, tokensSchema.KIND, i, { expectModelHash: modelHash, modelRedo: 'warm-start from tokens of this model' }));
    } else {
      tables.push(tableFromIPC(readFileSync(path)));
    }
  } catch (err) {
    throw new UserError(`--init-from ${path}: ${errorMessage(err)}`);
  }
  const out = new Map<string, Float32Array>();
  for (const table of tables) {
    let parsed;
    try { parsed = tokensSchema.fromTable(table); } catch (err) { throw new UserError(`--init-from ${path}: not a tokens file (${errorMessage(err)})`); }
    if (parsed.width !== width) throw new UserError(`--init-from ${path}: tokens are ${parsed.width}-d, the model's token width is ${width}`);
    for (const row of parsed.rows) {
      const v = row.ema ?? row.token;
      if (row.status === 'ok' && v) out.set(row.imageId, v);
    }
  }
  return out;
}
