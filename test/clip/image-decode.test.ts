import test from 'ava';
import sharp from 'sharp';
import { decodeImage, ImageDecodeError, type ImageDecodeReason } from '../../clip/image/image-decode.ts';
import { encodeRgb, maxAbsDiff, randomRgb, rawSharp, rgbFrom, tempDir, writeTemp } from '../helpers/images.ts';
import { testIf } from '../helpers/test-utils.ts';

let dir = '';
let cleanup = async () => {};
test.before(async () => ({ dir, cleanup } = await tempDir()));
test.after.always(() => cleanup());

const img = randomRgb(9, 6, 7);

test('PNG with alpha: alpha dropped, colours kept as stored (no compositing)', async (t) => {
  const rgba = new Uint8Array(9 * 6 * 4);
  for (let i = 0; i < 9 * 6; i++) {
    rgba.set(img.data.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = (i * 53) % 256; // transparent, translucent and opaque pixels
  }
  const path = await writeTemp(dir, 'alpha.png', await rawSharp(rgba, 9, 6, 4).png().toBuffer());
  const out = await decodeImage(path);
  t.is(out.width, 9);
  t.is(out.height, 6);
  t.deepEqual(Array.from(out.data), Array.from(img.data));
});

test('greyscale PNG (with and without alpha) becomes three equal channels', async (t) => {
  const grey = new Uint8Array([0, 17, 128, 255, 3, 99]);
  const plain = await rawSharp(grey, 3, 2, 1).toColourspace('b-w').png().toBuffer();
  t.is((await sharp(plain).metadata()).channels, 1);
  const withAlpha = await rawSharp(new Uint8Array([...grey].flatMap((v) => [v, 77])), 3, 2, 2)
    .toColourspace('b-w').png().toBuffer();
  t.is((await sharp(withAlpha).metadata()).channels, 2);
  const expected = [...grey].flatMap((v) => [v, v, v]);
  t.deepEqual(Array.from((await decodeImage(plain)).data), expected);
  t.deepEqual(Array.from((await decodeImage(withAlpha)).data), expected);
});

test('16-bit PNG keeps the high byte of each sample, as PIL does', async (t) => {
  const samples = new Uint16Array([0x80ff, 0x1200, 0xffff, 0x0180, 0x7f7f, 0x0000]);
  const png = await sharp(samples, { raw: { width: 2, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  t.is((await sharp(png).metadata()).depth, 'ushort');
  t.deepEqual(Array.from((await decodeImage(png)).data), [0x80, 0x12, 0xff, 0x01, 0x7f, 0x00]);
});

test('JPEG with EXIF orientation 6 is turned upright (width and height swap)', async (t) => {
  // Stored 40×20: left half red, right half blue. Orientation 6 = rotate 90° clockwise to display,
  // so the stored left edge ends up on top.
  const stored = rgbFrom(40, 20, (x) => (x < 20 ? [220, 20, 20] : [20, 20, 220]));
  const jpeg = await rawSharp(stored.data, 40, 20, 3).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  t.is((await sharp(jpeg).metadata()).orientation, 6);
  const out = await decodeImage(await writeTemp(dir, 'rotated.jpg', jpeg));
  t.is(out.width, 20);
  t.is(out.height, 40);
  const at = (x: number, y: number) => Array.from(out.data.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3));
  t.true(at(10, 5)[0] > 180 && at(10, 5)[2] < 60, `top should be red, got ${at(10, 5)}`);
  t.true(at(10, 35)[2] > 180 && at(10, 35)[0] < 60, `bottom should be blue, got ${at(10, 35)}`);
});

for (const format of ['gif', 'webp', 'tiff'] as const) {
  test(`${format.toUpperCase()} decodes to the exact pixels`, async (t) => {
    // A GIF holds a palette: use few colours so it stays lossless.
    const src = format === 'gif' ? rgbFrom(9, 6, (x, y) => [(x % 3) * 100, (y % 2) * 200, 50]) : img;
    const out = await decodeImage(await writeTemp(dir, `image.${format}`, await encodeRgb(src, format)));
    t.is(out.width, 9);
    t.is(out.height, 6);
    t.deepEqual(Array.from(out.data), Array.from(src.data));
  });
}

test('animated GIF: the first frame only', async (t) => {
  const frames = rgbFrom(4, 6, (_x, y) => (y < 3 ? [255, 0, 0] : [0, 0, 255]));
  const gif = await sharp(Buffer.from(frames.data), { raw: { width: 4, height: 6, channels: 3, pageHeight: 3 } })
    .gif().toBuffer();
  t.is((await sharp(gif).metadata()).pages, 2);
  const out = await decodeImage(gif);
  t.is(out.height, 3);
  t.deepEqual(Array.from(out.data.subarray(0, 3)), [255, 0, 0]);
});

// a sharp build without an AVIF (HEIF) encoder reports this case as skipped, never as a pass
const canEncodeAvif = sharp.format.heif?.output?.buffer === true;
testIf(canEncodeAvif, 'image-decode', 'this sharp build cannot encode AVIF: the AVIF case')('AVIF decodes (when this sharp build can encode it)', async (t) => {
  const avif = await encodeRgb(img, 'avif');
  const out = await decodeImage(await writeTemp(dir, 'image.avif', avif));
  t.is(out.width, 9);
  t.is(out.height, 6);
  // Lossless AVIF still passes through YUV; allow a rounding step or two.
  t.true(maxAbsDiff(out.data, img.data) <= 3);
});

async function decodeFails(
  t: import('ava').ExecutionContext, input: string | Buffer, reason: ImageDecodeReason, pattern: RegExp,
  opts?: { maxPixels?: number; name?: string },
): Promise<void> {
  const err = await t.throwsAsync(decodeImage(input, opts), { instanceOf: ImageDecodeError });
  if (!err) return;
  t.is((err as ImageDecodeError).reason, reason);
  const name = typeof input === 'string' ? input : opts?.name ?? '<buffer>';
  t.true(err.message.startsWith(`${name}: `), err.message);
  t.regex(err.message, pattern);
  t.false(err.message.includes('\n'), 'one line');
  t.log(err.message);
}

test('zero-byte file', async (t) => {
  await decodeFails(t, await writeTemp(dir, 'empty.jpg', Buffer.alloc(0)), 'empty', /empty file/);
});

test('truncated JPEG', async (t) => {
  const jpeg = await encodeRgb(randomRgb(64, 64, 1), 'jpeg');
  const path = await writeTemp(dir, 'truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
  await decodeFails(t, path, 'unreadable', /corrupt or truncated/);
});

test('JPEG cut inside its header', async (t) => {
  const jpeg = await encodeRgb(randomRgb(64, 64, 1), 'jpeg');
  await decodeFails(t, jpeg.subarray(0, 40), 'unreadable', /corrupt or truncated/, { name: 'cut.jpg' });
});

test('a text file is not an image', async (t) => {
  await decodeFails(t, await writeTemp(dir, 'notes.jpg', 'just some words\n'), 'not-an-image', /not an image/);
});

test('too many pixels is refused before decoding', async (t) => {
  const path = await writeTemp(dir, 'big.png', await encodeRgb(randomRgb(100, 50, 2), 'png'));
  await decodeFails(t, path, 'too-large', /too many pixels/, { maxPixels: 4999 });
  const ok = await decodeImage(path, { maxPixels: 5000 });
  t.is(ok.width * ok.height, 5000);
});

test('missing file and a directory', async (t) => {
  await decodeFails(t, `${dir}/nope.png`, 'missing', /no such file/);
  await decodeFails(t, dir, 'unreadable', /directory/);
});
