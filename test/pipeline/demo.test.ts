import test from 'ava';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, runSync } from '../helpers/pipeline-run.ts';
import { tempDir } from '../helpers/test-utils.ts';

// `npm start` as a newcomer runs it (fewer unlabeled images and phi epochs, to keep the suite short): every
// option the demo passes must pass the option checks, and the tokens must mean something on the toy world.
test('the demo runs end to end on the toy world and writes its report with all seven methods; SEARLE beats image-only', (t) => {
  const out = tempDir('demo');
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const r = runSync([BIN, 'demo', '--out', out, '--unlabeled', '20', '--phi-epochs', '3', '--pic2word-epochs', '3', '--lincir-steps', '20']);
  t.is(r.status, 0, r.stderr);
  t.true(existsSync(join(out, 'report', 'index.html')));
  const row = (name: string) => Number(new RegExp(`^${name}\\s+([0-9.]+)`, 'm').exec(r.stdout)?.[1] ?? NaN);
  t.log(`mAP@5: image ${row('image')}, searle-oti ${row('searle-oti')}`);
  t.true(row('searle-oti') > row('image') + 10, r.stdout);
  // Pic2Word and LinCIR trained on the same run's images and phrases have their rows
  for (const name of ['text', 'sum', 'searle', 'pic2word', 'lincir']) t.true(Number.isFinite(row(name)), `${name}: ${r.stdout}`);
  t.true(existsSync(join(out, 'run', 'lincir', 'lincir.pt')) && existsSync(join(out, 'run', 'pic2word', 'pic2word.onnx')));
});
