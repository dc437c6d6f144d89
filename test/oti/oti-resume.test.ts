/**
 * OTI commits per batch: a child `starword oti` is SIGKILLed in the middle of a part, after some of its
 * batches were journaled; the same command then finishes from the next batch, and the tokens equal an
 * uninterrupted run's bit for bit. A journal made with other options or images is discarded, not mixed in.
 */
import test from 'ava';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isPartDone, listDoneParts, readPart } from '../../schemas/part-io.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { BatchJournal } from '../../stages/oti/batch-journal.ts';
import { tempDir } from '../helpers/test-utils.ts';
import { BIN, pipelineFixture, runArgs, runSync, spawn } from '../helpers/pipeline-run.ts';

function tokens(runDir: string): tokensSchema.TokenRow[] {
  const dir = join(runDir, 'oti');
  return listDoneParts(dir, tokensSchema.KIND).flatMap((i) => tokensSchema.fromTable(readPart(dir, tokensSchema.KIND, i)).rows);
}

const vectors = (rows: tokensSchema.TokenRow[]) => rows.map((r) => [r.imageId, r.status, r.steps, r.seed, Array.from(r.token ?? []), Array.from(r.ema ?? []), r.lcos, r.lgpt]);

test('SIGKILL mid-part: the rerun resumes from the journaled batches; tokens bit-identical to an uninterrupted run', async (t) => {
  const f = await pipelineFixture(12);
  const base = join(f.root, 'base');
  // one part of 12 images: embed, concepts, phrases
  const prep = runSync(runArgs(f, base, ['--until', 'phrases', '--part-size', '16', '--oti-steps', '150', '--oti-batch', '2', '--oti-top-k', '10']));
  t.is(prep.status, 0, prep.stderr);
  const [ref, killed] = ['ref', 'killed'].map((n) => {
    const dir = join(f.root, n);
    cpSync(base, dir, { recursive: true });
    return dir;
  });
  const oti = (run: string) => [BIN, 'oti', '--run', run, '--model', f.model, '--cache-dir', f.cache,
    '--oti-steps', '150', '--oti-batch', '2', '--oti-top-k', '10', '--threads', '1'];

  const r0 = runSync(oti(ref));
  t.is(r0.status, 0, r0.stderr);
  t.false(existsSync(join(ref, 'oti', 'tokens-00000.batches')), 'the journal is removed once the part is written');

  const journal = join(killed, 'oti', 'tokens-00000.batches');
  const batchesDone = () => (existsSync(journal) ? readdirSync(journal).filter((n) => n.endsWith('.stats.json')).length : 0);
  const child = spawn(process.execPath, oti(killed), { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => { if (batchesDone() >= 2) { clearInterval(timer); child.kill('SIGKILL'); resolve(); } }, 2);
    child.once('exit', () => { clearInterval(timer); reject(new Error('OTI finished before it could be killed')); });
  });
  await exited;
  const atKill = batchesDone();
  t.log(`killed with ${atKill} of 6 batches journaled`);
  t.true(atKill >= 2 && atKill < 6);
  t.false(isPartDone(join(killed, 'oti'), tokensSchema.KIND, 0));

  const r1 = runSync(oti(killed));
  t.is(r1.status, 0, r1.stderr);
  t.regex(r1.stderr, new RegExp(`oti part 0: ${2 * atKill} images from finished batches`));
  t.deepEqual(vectors(tokens(killed)), vectors(tokens(ref)));
  t.false(existsSync(journal));

});

test('a journal made under another key, or for other images, is dropped, never mixed in', async (t) => {
  const dir = tempDir('journal', t.teardown);
  const row = (id: string): tokensSchema.TokenRow => ({ imageId: id, token: Float32Array.of(1, 2), ema: Float32Array.of(3, 4), lcos: 0.5, lgpt: 0.25, steps: 3, seed: 7, status: 'ok', error: null });
  const ids = (b: number) => [`img${2 * b}`, `img${2 * b + 1}`];
  const a = new BatchJournal(dir, 0, 'key-a', 2, {});
  await a.write(0, ids(0).map(row), 1.5);
  await a.write(1, ids(1).map(row), 2);
  const same = new BatchJournal(dir, 0, 'key-a', 2, {}).finished(ids);
  t.deepEqual([...same.keys()], [0, 1]);
  t.is(same.get(1)!.computeS, 2);
  t.deepEqual(Array.from(same.get(0)!.rows[1].ema!), [3, 4]);
  t.is(new BatchJournal(dir, 0, 'key-a', 2, {}).finished((b) => ids(b + 1)).size, 0, 'other images: dropped');
  t.false(existsSync(a.dir));
  await a.write(0, ids(0).map(row), 1);
  t.is(new BatchJournal(dir, 0, 'key-b', 2, {}).finished(ids).size, 0, 'other key: dropped');
  t.false(existsSync(a.dir));
});
