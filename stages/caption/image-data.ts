/**
 * A reference image as a vision chat model receives it: the file's bytes as a base64 data URL in an
 * OpenAI `image_url` content part (what vLLM, Ollama and OpenAI accept), plus the bytes' SHA-256, which
 * keys the caption cache (the same picture under two names is paid for once; an edited file is re-asked).
 * JPEG, PNG, WebP and GIF go as they are; any other format sharp reads is sent as PNG.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { UserError, errorMessage } from '../../util/errors.ts';

/** The MIME type of the formats every vision endpoint takes, from the file's magic bytes. */
export function sniffMime(bytes: Uint8Array): string | undefined {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b.length >= 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP') return 'image/webp';
  if (b.length >= 6 && String.fromCharCode(...b.subarray(0, 4)) === 'GIF8') return 'image/gif';
  return undefined;
}

async function readBytes(path: string): Promise<Buffer> {
  try { return await readFile(path); } catch (err) { throw new UserError(`${path}: ${errorMessage(err)}`); }
}

/** SHA-256 (hex) of the file's bytes: the caption cache's image key. */
export async function imageSha256(path: string): Promise<string> {
  return createHash('sha256').update(await readBytes(path)).digest('hex');
}

/** The image as a data URL, read when a request is about to be sent (not held for every query). */
export async function imageDataUrl(path: string): Promise<string> {
  const bytes = await readBytes(path);
  let mime = sniffMime(bytes);
  let body = bytes;
  if (!mime) {
    try { body = await sharp(bytes).png().toBuffer(); } catch (err) { throw new UserError(`${path}: not an image (${errorMessage(err)})`); }
    mime = 'image/png';
  }
  return `data:${mime};base64,${body.toString('base64')}`;
}
