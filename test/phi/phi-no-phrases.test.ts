/**
 * phi never trains silently without L_gpt when phrases were asked for: with --lambda-gpt > 0 and a
 * phrases folder that holds no phrases it is refused in one line naming --lambda-gpt 0 (in `run`:
 * --phi-lambda-gpt 0 and --allow-empty-phrases), as OTI is; under `run --allow-empty-phrases` it trains
 * and says so in a warning that `run` keeps in run.json.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { writePart } from '../../schemas/part-io.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import type { SharedOptions } from '../../pipeline/shared-options.ts';
import { runStage, stageContext } from '../../pipeline/stage-command.ts';
import { phiOptions, phiStage } from '../../stages/phi/stage.ts';
import { UserError } from '../../util/errors.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { makeSyntheticModel, makeSyntheticRun } from './synthetic-run.ts';

const cacheDir = testCacheDir();
const env = { ...process.env, STARWORD_CACHE_DIR: cacheDir };
const setup = Promise.all([makeSyntheticModel(), makeSyntheticRun(40)]);

// what a phrases stage leaves when every LLM request failed: a finished part with no rows
const noPhrases = mkdtempSync(join(tmpdir(), 'starword-no-phrases-'));
const emptyPart = writePart(noPhrases, phrasesSchema.KIND, 0, phrasesSchema.toTable([]), SCHEMA_VERSION);
test.after.always(async () => {
  for (const d of [cacheDir, noPhrases, ...(await setup)]) rmSync(d, { recursive: true, force: true });
});
const cli = (args: string[]) => spawnSync('node', ['bin/starword.js', ...args], { env, encoding: 'utf8' });

test.serial('phi --lambda-gpt > 0 with a phrases folder that holds no phrases is refused in one line; --lambda-gpt 0 trains', async (t) => {
  const [model, run] = await setup;
  await emptyPart;
  const base = ['phi', '--run', run, '--model', model, '--phrases-dir', noPhrases, '--epochs', '1', '--batch', '16', '--threads', '1'];
  const refused = cli(base);
  t.is(refused.status, 2, refused.stderr);
  const lines = refused.stderr.trim().split('\n').filter((l) => l.startsWith('starword: '));
  t.is(lines.length, 1, refused.stderr);
  t.regex(lines[0], new RegExp(`^starword: phi: --lambda-gpt 0\\.75 but ${noPhrases} holds no phrases, so L_gpt would be off for every image: `
    + 'make the phrases first, or pass --lambda-gpt 0 to train on L_distil alone$'));
  // the phi command has no --allow-empty-phrases: it is not suggested
  t.false(refused.stderr.includes('--allow-empty-phrases'));
  const alone = cli([...base, '--lambda-gpt', '0']);
  t.is(alone.status, 0, alone.stderr);
});

test.serial('under run: the refusal names --phi-lambda-gpt 0 and --allow-empty-phrases; allowed, phi trains and the warning is recorded', async (t) => {
  const [modelDir, run] = await setup;
  await emptyPart;
  const model = await loadClipModel(modelDir);
  const shared = { threads: 1, device: 'cpu', cacheDir } as SharedOptions;
  const options = phiOptions.parse({ epochs: 1, batch: 16 });
  const log: string[] = [];
  const ctx = (inputs: object) => stageContext(run, model, shared, { phrasesDir: noPhrases, out: join(noPhrases, 'phi-in-run'), ...inputs }, (l) => log.push(l));

  const err = await t.throwsAsync(runStage(phiStage, ctx({ allowNoPhrases: false }), options, true), { instanceOf: UserError });
  t.regex(err!.message, /^phi: --phi-lambda-gpt 0\.75 but .* holds no phrases, .*or pass --phi-lambda-gpt 0 to train on L_distil alone, or --allow-empty-phrases to go on without L_gpt$/);

  const recorded: string[] = [];
  const r = await runStage(phiStage, ctx({ allowNoPhrases: true, recordWarning: (l: string) => recorded.push(l) }), options, true);
  t.is(r.epochsRunNow, 1);
  t.deepEqual(recorded, [`phi: no phrases in ${noPhrases}: L_gpt is off for every image (--allow-empty-phrases)`]);
  t.true(log.includes(`warning: ${recorded[0]}`), log.join('\n'));
});

test.serial('a phrases folder whose phrases are all of other concepts is refused too; the run\'s own phrases train', async (t) => {
  const [model, run] = await setup;
  const other = join(noPhrases, 'other-concepts');
  const rows = ['zebra', 'kayak'].map((c) => ({ concept: c, phrase: `a ${c} in the sun`, swapped: 'a  $  in the sun', backend: 'templates', model: 'test', paramsHash: 'x' }));
  await writePart(other, phrasesSchema.KIND, 0, phrasesSchema.toTable(rows), SCHEMA_VERSION);
  const base = ['phi', '--run', run, '--model', model, '--epochs', '1', '--batch', '16', '--threads', '1'];
  const refused = cli([...base, '--phrases-dir', other]);
  t.is(refused.status, 2, refused.stderr);
  t.regex(refused.stderr, /starword: phi: --lambda-gpt 0\.75 but .*other-concepts holds no phrases of the concepts its images draw, so L_gpt would be off/);
  // the synthetic run's own phrases cover its concepts: phi trains with them (the rule is not over-eager)
  const withPhrases = cli([...base, '--out', join(noPhrases, 'phi-ok')]);
  t.is(withPhrases.status, 0, withPhrases.stderr);
  t.regex(withPhrases.stderr, /phi: .* [1-9]\d* phrases of [1-9]\d* concepts/);
});
