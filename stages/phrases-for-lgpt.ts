/**
 * The rule OTI and phi share: with λ_gpt > 0 and a phrases folder that holds no phrases, L_gpt would be 0
 * for every image, so a run that asked for it must not look like it had it. Refused in one line naming
 * the flag that turns L_gpt off (the stage's own --lambda-gpt; `run` re-spells it, e.g. --phi-lambda-gpt)
 * and, where the command has it, `run --allow-empty-phrases`; under that flag, a warning that is logged
 * and kept for run.json (`recordWarning`), so `inspect` and `report` show the run went on without L_gpt.
 */
import { UserError } from '../util/errors.ts';

export interface NoPhrasesInputs {
  /**
   * `run --allow-empty-phrases`: true warns instead of refusing. Undefined where the command has no such
   * flag (the stage's own command), so the refusal does not suggest it.
   */
  allowNoPhrases?: boolean;
  /** keeps a warning for run.json (given by `run`) */
  recordWarning?: (line: string) => void;
}

export interface NoPhrasesCase {
  stage: 'oti' | 'phi';
  lambdaGpt: number;
  phrasesDir: string;
  /** phrases the stage can draw (0: L_gpt is off) */
  phrases: number;
  /** what the stage still does with λ_gpt 0, e.g. 'optimise L_cos alone' */
  without: string;
  /** the folder has phrases, but none of the concepts the images draw */
  forConcepts?: boolean;
}

/** Throws the refusal, or logs (and records) the warning; nothing when λ_gpt is 0 or there are phrases. */
export function checkPhrasesForLgpt(c: NoPhrasesCase, inputs: NoPhrasesInputs, log: (line: string) => void): void {
  if (c.phrases > 0 || !(c.lambdaGpt > 0)) return;
  if (!inputs.allowNoPhrases) {
    throw new UserError(`${c.stage}: --lambda-gpt ${c.lambdaGpt} but ${c.phrasesDir} holds no phrases${c.forConcepts ? ' of the concepts its images draw' : ''}, so L_gpt would be off for every image: `
      + `make the phrases first, or pass --lambda-gpt 0 to ${c.without}`
      + `${inputs.allowNoPhrases === false ? ', or --allow-empty-phrases to go on without L_gpt' : ''}`);
  }
  const warning = `${c.stage}: no phrases${c.forConcepts ? ' of the concepts its images draw' : ''} in ${c.phrasesDir}: L_gpt is off for every image (--allow-empty-phrases)`;
  log(`warning: ${warning}`);
  inputs.recordWarning?.(warning);
}
