/**
 * Upload decoding off the event loop: the worker's pixels equal the main thread's preprocessing bit for
 * bit; a bomb is refused by the worker too (second line of defence after the header check); at most
 * `workers` decode and `maxQueued` wait, the rest are refused as busy; a decode past its time is stopped
 * and the decoder goes on.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { UploadBusyError, UploadDecoder, UploadUnreadableError, checkDeclaredPixels, UploadTooLargeError } from '../../pipeline/serve/upload-decoder.ts';
import { bombPng } from '../helpers/png-bomb.ts';
import { TOY } from '../helpers/toy-run.ts';

const image = readFileSync(join(TOY, 'bench/gallery/000001.png'));
const opts = preprocessOptions({ imageSize: 32, mode: 'targetpad' });

test('a worker decodes exactly as the main thread does', async (t) => {
  const decoder = new UploadDecoder({ workers: 2, maxQueued: 4, timeoutMs: 60_000, maxPixels: 40e6 });
  t.teardown(() => decoder.close());
  const [a, b] = await Promise.all([decoder.decode(image, opts), decoder.decode(image, opts)]);
  const main = await preprocessImage(image, opts);
  t.deepEqual(Buffer.from(a.buffer), Buffer.from(main.buffer));
  t.deepEqual(Buffer.from(b.buffer), Buffer.from(main.buffer));
  t.is(decoder.decoded, 2);
  const bad = await t.throwsAsync(decoder.decode(Buffer.from('not an image'), opts), { instanceOf: UploadUnreadableError });
  t.is(bad!.reason, 'not-an-image');
  t.deepEqual(Buffer.from((await decoder.decode(image, opts)).buffer), Buffer.from(main.buffer), 'still serving after a bad upload');
});

test('a bomb is refused from its header, and by the worker should it get there', async (t) => {
  const bomb = bombPng(13000, 13000);
  await t.throwsAsync(checkDeclaredPixels(bomb, 40e6), { instanceOf: UploadTooLargeError, message: /13000×13000 \(169\.0 MP\)/ });
  await t.notThrowsAsync(checkDeclaredPixels(image, 40e6));
  await t.notThrowsAsync(checkDeclaredPixels(Buffer.from('not an image'), 40e6), 'not an image: left to the decoder');
  const decoder = new UploadDecoder({ workers: 1, maxQueued: 1, timeoutMs: 60_000, maxPixels: 40e6 });
  t.teardown(() => decoder.close());
  const err = await t.throwsAsync(decoder.decode(bomb, opts), { instanceOf: UploadUnreadableError });
  t.is(err!.reason, 'too-large');
});

test('bounded: one decoding and one waiting, the third is busy; a decode past its time is stopped', async (t) => {
  const decoder = new UploadDecoder({ workers: 1, maxQueued: 1, timeoutMs: 60_000, maxPixels: 40e6 });
  t.teardown(() => decoder.close());
  const first = decoder.decode(image, opts);
  const second = decoder.decode(image, opts);
  await t.throwsAsync(decoder.decode(image, opts), { instanceOf: UploadBusyError, message: /busy/ });
  await Promise.all([first, second]);

  const slow = new UploadDecoder({ workers: 1, maxQueued: 1, timeoutMs: 1, maxPixels: 40e6 });
  t.teardown(() => slow.close());
  await t.throwsAsync(slow.decode(image, opts), { instanceOf: UploadBusyError, message: /took over 0 s and was stopped/ });
  // the stopped worker is replaced
  (slow.opts as { timeoutMs: number }).timeoutMs = 60_000;
  t.is((await slow.decode(image, opts)).length, 3 * 32 * 32);
});
