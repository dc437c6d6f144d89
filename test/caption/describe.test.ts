/**
 * The caption stage without CLIP: CIReVL's request and answer formats, the answer cache, and
 * describeQueries against the loopback server (the toy world's TEST DOUBLE captioner/recomposer), for
 * CIReVL's fallback rule and the run-fatal errors.
 */
import test from 'ava';
import { join } from 'node:path';
import { captioningTexts, cirevlInstruction } from '../../pipeline/evaluate-methods.ts';
import { AnswerCache } from '../../stages/caption/answer-cache.ts';
import { CAPTION_PROMPT, MODIFIER_PROMPTS, defaultModifierPrompt, recompositionPrompt } from '../../stages/caption/cirevl-prompts.ts';
import { describeQueries } from '../../stages/caption/describe.ts';
import { imageDataUrl, sniffMime } from '../../stages/caption/image-data.ts';
import { parseEditedDescription } from '../../stages/caption/requests.ts';
import { createOpenAiClient } from '../../util/llm/openai-client.ts';
import { RequestScheduler } from '../../util/llm/scheduler.ts';
import { startLlmTestServer } from '../helpers/llm-test-server.ts';
import { loadToyGallery, toyWorldChat } from '../helpers/toyworld-doubles.ts';
import { tempDir } from '../evaluate/_index.ts';

const bench = join(import.meta.dirname, '..', '..', 'data', 'toyworld', 'bench');
const image = (id: number) => join(bench, 'gallery', `${String(id).padStart(6, '0')}.png`);

test('CIReVL\'s formats: prompt + "Image Content:" + "Instruction:", the "Edited Description:" line, the prompt per benchmark', (t) => {
  t.is(recompositionPrompt('P', 'a dog', 'is a cat'), 'P\nImage Content: a dog\nInstruction: is a cat');
  t.is(parseEditedDescription('Sure.\nEdited Description: a cat: sitting \nmore'), 'a cat: sitting');
  t.is(parseEditedDescription('  Edited Description:   '), null);
  t.is(parseEditedDescription('a cat'), null);
  t.deepEqual(['cirr', 'circo', 'fashioniq'].map(defaultModifierPrompt), ['contextual', 'structural', 'structural-fashion']);
  for (const p of Object.values(MODIFIER_PROMPTS)) {
    t.true(p.startsWith('\nI have an image. Given an instruction to edit the image, carefully generate a description of the \nedited image.'));
    t.true(p.includes('The edited description you generate should begin with “Edited Description:".'));
  }
  t.true(MODIFIER_PROMPTS.structural.includes('aspects:\n\n\n"cardinality"') && MODIFIER_PROMPTS['structural-fashion'].includes('aspects:\n\n"cardinality"'));
  t.is(CAPTION_PROMPT, 'Describe the image in complete detail. You must especially focus on all the objects in the image');
});

test('images go as data URLs of their own format; the cache serves successes only and a failure never overwrites one', async (t) => {
  const url = await imageDataUrl(image(1));
  t.true(url.startsWith('data:image/png;base64,iVBOR'));
  t.is(sniffMime(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
  t.is(sniffMime(Buffer.from('RIFF0000WEBPVP8 ')), 'image/webp');
  t.is(sniffMime(Buffer.from('hello')), undefined);
  const { dir, cleanup } = await tempDir('starword-answers-');
  t.teardown(cleanup);
  const cache = AnswerCache.open(join(dir, 'c.sqlite'));
  const id = { image_sha256: 'ab', model: 'm', prompt: 'p' };
  const key = AnswerCache.key(id);
  t.is(key, AnswerCache.key({ prompt: 'p', model: 'm', image_sha256: 'ab' }), 'key order does not matter');
  cache.recordFailure('caption', key, id, 'HTTP 500');
  t.is(cache.get('caption', key), null);
  t.deepEqual(cache.failure('caption', key), { reason: 'HTTP 500', attempts: 1 });
  cache.commit('caption', key, id, 'a dog', { prompt: 1, completion: 2 });
  cache.recordFailure('caption', key, id, 'HTTP 500 later');
  t.is(cache.get('caption', key), 'a dog');
  t.is(cache.get('recomposition', key), null, 'kinds do not mix');
  cache.close();
});

test('describeQueries: CIReVL falls back to the relative caption without an "Edited Description:" line; a refused recomposer keeps the captions', async (t) => {
  const { dir, cleanup } = await tempDir('starword-describe-');
  const server = await startLlmTestServer({ chat: toyWorldChat(loadToyGallery(bench)) });
  t.teardown(async () => { await server.close(); await cleanup(); });
  const target = (model: string) => ({
    client: createOpenAiClient({ baseURL: server.baseURL, timeoutMs: 5000 }).client,
    scheduler: new RequestScheduler({ concurrency: 2, retries: 1, backoff: { baseMs: 1, maxMs: 2 } }), model, maxTokens: 50, temperature: 0,
  });
  const queries = [
    { id: 'q1', imagePath: image(1), instruction: 'is purple' },
    { id: 'q2', imagePath: image(1), instruction: 'is somewhere else' }, // the double cannot edit this
    { id: 'q3', imagePath: null, instruction: 'is red' },
    { id: 'q4', imagePath: join(dir, 'missing.png'), instruction: 'is red' },
  ];
  const cache = AnswerCache.open(join(dir, 'c.sqlite'));
  const opts = { cache, captioner: { target: target('cap'), prompt: CAPTION_PROMPT }, recomposer: { target: target('llm'), prompt: MODIFIER_PROMPTS.structural } };
  const r = await describeQueries(queries, opts);
  const q = (id: string) => r.queries.get(id)!;
  t.is(q('q1').caption, 'a small blue star on a pink background');
  t.is(q('q1').description, 'a small purple star on a pink background');
  t.deepEqual([q('q2').description, q('q2').fallback], ['is somewhere else', true]);
  t.regex(q('q3').reason ?? '', /reference image file is unknown/);
  t.regex(q('q4').reason ?? '', /^unreadable reference image: .*missing\.png/);
  t.deepEqual([r.captions, r.recompositions], [{ cached: 0, requested: 1, failed: 0 }, { cached: 0, requested: 2, failed: 0, fallbacks: 1 }]);

  // a 401 from the recomposer stops that step only: the captions stay (cached), the report says why
  server.resetCounts();
  server.faultFor((info) => (JSON.stringify(info.body).includes('image_url') ? null : { kind: '401' }));
  const queries2 = [{ id: 'q5', imagePath: image(2), instruction: 'is red' }];
  const r2 = await describeQueries(queries2, { ...opts, recomposer: { ...opts.recomposer, target: target('llm') } });
  t.is(r2.queries.get('q5')?.caption, 'a large purple square on a gray background');
  t.deepEqual(r2.fatal, { step: 'recomposition', message: 'HTTP 401 invalid api key' });
  t.is(server.faultsServed['401'], 1, 'fatal: not retried');
  cache.close();
});

test('query texts: captioning puts the caption in SEARLE\'s prompt (both FashionIQ joins); CIReVL sends one join', (t) => {
  t.deepEqual(captioningTexts('A dog on grass.', ['is red']), ['a photo of A dog on grass that is red']);
  t.deepEqual(captioningTexts('a dog', ['is red.', ' has a hat ']), ['a photo of a dog that is red and has a hat', 'a photo of a dog that has a hat and is red']);
  t.is(cirevlInstruction(['is red.', ' has a hat ']), 'is red and has a hat');
  t.is(cirevlInstruction(['is on a gray background']), 'is on a gray background');
});
