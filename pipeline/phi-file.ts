/**
 * What `--phi` names: a phi export file (.onnx or SEARLE-layout .safetensors) as is, or a phi output
 * folder (`starword phi --out`), where `--checkpoint best|last|N` picks the file — by default the best
 * CIRR val epoch when phi was validated, else the last.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCheckpointChoice, resolveCheckpoint } from '../stages/phi/checkpoint.ts';
import { PHI_SAFETENSORS } from '../stages/phi/export.ts';
import { UserError } from '../util/errors.ts';

export async function resolvePhiArg(path: string, checkpoint?: string, log?: (line: string) => void): Promise<string> {
  if (!existsSync(path)) throw new UserError(`--phi ${path}: no such file or folder`);
  if (!statSync(path).isDirectory()) {
    if (checkpoint !== undefined) throw new UserError('--checkpoint needs --phi to name a phi output folder, not a file');
    return path;
  }
  const ck = await resolveCheckpoint(path, join(path, PHI_SAFETENSORS), checkpoint === undefined ? undefined : parseCheckpointChoice(checkpoint), log);
  log?.(`phi: ${ck.name === 'best' ? `the best CIRR val epoch (${ck.epoch})` : ck.name === 'last' ? `the last epoch (${ck.epoch})` : `epoch ${ck.epoch}`}, ${ck.path}`);
  return ck.path;
}
