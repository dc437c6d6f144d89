/**
 * The warning a run gets when offline template phrases regularise L_gpt of a real checkpoint: the same
 * text from `run` (decided from the options, before any work) and from the `oti` and `phi` commands
 * (decided from the phrases parts they read), printed once and kept in run.json for `inspect`.
 */
import { existsSync } from 'node:fs';
import { isRealCheckpoint } from '../clip/weights/model-origin.ts';
import { listDoneParts, readPartStats } from '../schemas/part-io.ts';
import * as phrasesSchema from '../schemas/phrases.ts';
import { readRunManifest, writeRunManifest } from './run-manifest.ts';

export function templatePhrasesWarning(why: string): string {
  return `L_gpt is regularised with offline template phrases, not an LLM's (${why}): `
    + 'set --llm-model/STARWORD_LLM_MODEL and --base-url for SEARLE\'s phrases, or --backend import with SEARLE\'s published ones';
}

/** The warning for a stage that reads `phrasesDir` with λ_gpt `lambdaGpt`, or null when none is due. */
export function templatePartsWarning(phrasesDir: string, modelDir: string, lambdaGpt: number): string | null {
  if (!(lambdaGpt > 0) || !existsSync(phrasesDir) || !isRealCheckpoint(modelDir)) return null;
  const fromTemplates = listDoneParts(phrasesDir, phrasesSchema.KIND).some((i) => readPartStats(phrasesDir, phrasesSchema.KIND, i).backend === 'templates');
  return fromTemplates ? templatePhrasesWarning(`the phrases in ${phrasesDir} come from --backend templates`) : null;
}

/** Adds `warning` to run.json's warnings when the run folder has a manifest and lacks it. */
export function recordRunWarning(runDir: string, warning: string): void {
  const m = readRunManifest(runDir);
  if (!m || (m.warnings ?? []).includes(warning)) return;
  m.warnings = [...(m.warnings ?? []), warning];
  writeRunManifest(runDir, m);
}
