/**
 * `run --phrases DIR` with phrases whose targets another CLIP of the same width embedded: refused in one
 * line naming the part, exit 2 (it trained OTI with the wrong L_gpt targets before); with the model that
 * made them, the same command runs.
 */
import test from 'ava';
import { join } from 'node:path';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { BIN, pipelineFixture, runArgs, runSync } from '../helpers/pipeline-run.ts';

test('run --phrases DIR refuses phrases embedded by another model of the same width', async (t) => {
  const f = await pipelineFixture(6);
  const other = join(f.root, 'other-model');
  await makeRandomModel({ preset: 'tiny', seed: 4, outDir: other }); // same architecture and width, other weights
  const phrases = join(f.root, 'phrases');
  const made = runSync([BIN, 'phrases', '--concepts', f.vocab, '--model', other, '--out', phrases, '--backend', 'templates', '--n', '4',
    '--cache-dir', f.cache, '--threads', '1']);
  t.is(made.status, 0, made.stderr);

  const refused = runSync(runArgs(f, join(f.root, 'run-a'), ['--phrases', phrases]));
  t.is(refused.status, 2, refused.stderr);
  const last = refused.stderr.trim().split('\n').at(-1) ?? '';
  t.regex(last, /^starword: .*phrases-00000\.stats\.json: phrases embedded by another model \(\w+, this model is \w+\); make the phrases again with this model/);

  const ok = runSync(runArgs({ ...f, model: other }, join(f.root, 'run-b'), ['--phrases', phrases]));
  t.is(ok.status, 0, ok.stderr);
});
