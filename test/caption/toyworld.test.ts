/**
 * The captioning baseline and CIReVL end to end on the toy world (data/toyworld), against the loopback
 * OpenAI-compatible server answering with TEST DOUBLES of a captioner and a recomposer
 * (test/helpers/toyworld-doubles.ts: they read gallery.json's true attributes; they are not models).
 * A slice of the bench keeps it quick: 16 CIRCO queries over their references, ground truths and some
 * distractors, indexed with the toy CLIP.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runEvaluate } from '../../pipeline/evaluate-run.ts';
import { runIndex } from '../../pipeline/index-gallery.ts';
import { type LlmTestServer, startLlmTestServer } from '../helpers/llm-test-server.ts';
import { loadToyGallery, toyWorldChat } from '../helpers/toyworld-doubles.ts';
import { tempDir } from '../evaluate/_index.ts';

const root = join(import.meta.dirname, '..', '..', 'data', 'toyworld');
const bench = join(root, 'bench');
const KEY = 'sk-toyworld-secret-0123456789';

interface CircoEntry { id: number; reference_img_id: number; gt_img_ids: number[]; relative_caption: string }

async function slice(dir: string): Promise<{ queries: CircoEntry[] }> {
  const all = JSON.parse(await readFile(join(bench, 'circo', 'annotations', 'val.json'), 'utf8')) as CircoEntry[];
  const queries = all.slice(0, 16);
  const ids = new Set<number>(queries.flatMap((q) => [q.reference_img_id, ...q.gt_img_ids]));
  for (let i = 1; ids.size < 64; i += 13) ids.add(i); // distractors
  const name = (i: number) => `${String(i).padStart(6, '0')}.png`;
  await mkdir(join(dir, 'circo', 'annotations'), { recursive: true });
  await writeFile(join(dir, 'circo', 'annotations', 'val.json'), JSON.stringify(queries));
  await writeFile(join(dir, 'gallery.csv'), `path,id\n${[...ids].map((i) => `${join(bench, 'gallery', name(i))},${name(i)}`).join('\n')}\n`);
  return { queries };
}

test('captioning and CIReVL through an OpenAI-compatible endpoint: every method in one table, a rerun pays nothing, a failure is one listed miss', async (t) => {
  const { dir, cleanup } = await tempDir('starword-captions-');
  const gallery = loadToyGallery(bench);
  const server: LlmTestServer = await startLlmTestServer({ chat: toyWorldChat(gallery) });
  t.teardown(async () => { await server.close(); await cleanup(); });
  process.env.STARWORD_TEST_CAPTION_KEY = KEY;
  const { queries } = await slice(dir);
  const model = { model: join(root, 'model'), device: 'cpu' as const, cacheDir: join(dir, 'graphs'), threads: 1 };
  await runIndex({ ...model, images: join(dir, 'gallery.csv'), out: join(dir, 'idx'), partSize: 32, batchSize: 32, preprocess: 'targetpad', allowOutside: true });

  const flags = {
    ...model, dataset: 'circo', annotations: join(dir, 'circo'), index: join(dir, 'idx'), split: 'val', methods: 'all', blockRows: 8192, quiet: true,
    captionEndpoint: server.baseURL, captionModel: 'toy-captioner-double', captionApiKeyEnv: 'STARWORD_TEST_CAPTION_KEY',
    llmModel: 'toy-recomposer-double', llmApiKeyEnv: 'STARWORD_TEST_CAPTION_KEY', retries: 2,
  };
  const stdout = new PassThrough();
  let printed = '';
  stdout.on('data', (c) => { printed += String(c); });
  const table = await runEvaluate({ ...flags, out: join(dir, 'out', 'circo.json') }, stdout);
  t.deepEqual(table.rows.map((r) => [r.method, r.status]), [['image', 'ok'], ['text', 'ok'], ['sum', 'ok'], ['searle-oti', 'skipped'],
    ['searle', 'skipped'], ['pic2word', 'skipped'], ['lincir', 'skipped'], ['captioning', 'ok'], ['cirevl', 'ok']]);
  const row = (m: string) => table.rows.find((r) => r.method === m)!;
  for (const m of ['captioning', 'cirevl']) {
    t.is(row(m).queries, 16);
    t.is(row(m).unanswerable, 0, `${m}: every query formed`);
  }
  // one caption request per distinct reference image (with its image part), one recomposition per query
  const refs = new Set(queries.map((q) => q.reference_img_id)).size;
  t.is(server.imageRequests, refs);
  t.is(server.requests, refs + 16);
  t.true(server.authorizations.has(`Bearer ${KEY}`));
  // the toy world's meaning: CIReVL's recomposed target description beats the reference image alone
  t.true(row('cirevl').metrics['mAP@5'] > row('image').metrics['mAP@5'] + 20, `cirevl ${row('cirevl').metrics['mAP@5']} vs image ${row('image').metrics['mAP@5']}`);
  t.regex(printed, /\ncirevl\s+\d+\.\d\d/);
  t.regex(printed, /\nsearle-oti\s+\(not run: no OTI tokens: give --tokens PATH/);
  t.deepEqual(row('cirevl').notes, [`captions by toy-captioner-double: ${refs} requested, 0 cached, 0 failed`,
    'recompositions by toy-recomposer-double (CIReVL prompt structural): 16 requested, 0 cached, 0 failed, 0 without an "Edited Description:" line']);

  // a rerun answers everything from the cache: zero requests, the same numbers
  server.resetCounts();
  const again = await runEvaluate({ ...flags, methods: 'captioning,cirevl' }, new PassThrough());
  t.is(server.requests, 0);
  t.deepEqual(again.rows.map((r) => r.metrics), [row('captioning').metrics, row('cirevl').metrics]);

  // faults: a 429 with Retry-After is waited out; one reference's captions always fail with 500 → that
  // query alone is a miss with its reason, recorded in the cache; the run goes on
  const victim = queries[3];
  const victimSha = createHashHex(await readFile(join(bench, 'gallery', `${String(victim.reference_img_id).padStart(6, '0')}.png`)));
  server.resetCounts();
  server.script({ kind: '429', retryAfterMs: 20 });
  let served500 = 0;
  server.faultFor((info) => {
    const parts = JSON.stringify(info.body.messages);
    if (!parts.includes('image_url')) return null;
    const b64 = /base64,([A-Za-z0-9+/=]+)/.exec(parts)![1];
    const sha = createHashHex(Buffer.from(b64, 'base64'));
    return sha === victimSha ? (served500++, { kind: '500' }) : null;
  });
  const cache2 = join(dir, 'cache2.sqlite');
  const faulty = await runEvaluate({ ...flags, methods: 'captioning,cirevl', captionCache: cache2, out: join(dir, 'out2', 'circo.json') }, new PassThrough());
  t.is(server.faultsServed['429'], 1);
  t.is(served500, 3, 'first attempt + 2 retries');
  const sameRef = queries.filter((q) => q.reference_img_id === victim.reference_img_id).map((q) => String(q.id));
  for (const r of faulty.rows) {
    t.is(r.status, 'ok');
    t.is(r.unanswerable, sameRef.length);
    t.deepEqual(Object.keys(r.failures ?? {}), sameRef);
    t.regex(Object.values(r.failures ?? {})[0], /^caption failed: HTTP 500 internal error \(after 3 attempts\)$/);
  }
  // the key is in no file starword wrote
  for (const f of [cache2, join(dir, 'idx', 'captions-cache.sqlite'), join(dir, 'out', 'circo.json'), join(dir, 'out2', 'circo.json'), join(dir, 'out2', 'circo.md')]) {
    t.false((await readFile(f)).includes(KEY), f);
  }
  // the next run asks only for what failed
  server.faultFor(null);
  server.resetCounts();
  const healed = await runEvaluate({ ...flags, methods: 'captioning,cirevl', captionCache: cache2 }, new PassThrough());
  t.is(server.imageRequests, 1);
  t.is(server.requests, 1 + sameRef.length);
  t.deepEqual(healed.rows.map((r) => r.metrics), [row('captioning').metrics, row('cirevl').metrics]);
});

function createHashHex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
