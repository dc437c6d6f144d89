/**
 * The worker side of upload-decoder.ts: decodes and preprocesses one upload at a time, off the server's
 * event loop (the bicubic resize of a large image is seconds of JavaScript). Pixels go back transferred.
 */
import { parentPort } from 'node:worker_threads';
import { ImageDecodeError } from '../../clip/image/image-decode.ts';
import { type PreprocessOptions, preprocessImage } from '../../clip/image/preprocess.ts';

export interface DecodeTask { id: number; bytes: Uint8Array; opts: PreprocessOptions; maxPixels: number }
export type DecodeReply = { id: number; pixels: Float32Array } | { id: number; error: string; reason?: string };

parentPort!.on('message', (task: DecodeTask) => {
  preprocessImage(Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength), task.opts, { maxPixels: task.maxPixels })
    .then((pixels) => parentPort!.postMessage({ id: task.id, pixels } satisfies DecodeReply, [pixels.buffer as ArrayBuffer]))
    .catch((err: unknown) => parentPort!.postMessage({
      id: task.id, error: (err as Error).message?.split('\n')[0] ?? String(err),
      ...(err instanceof ImageDecodeError ? { reason: err.reason } : {}),
    } satisfies DecodeReply));
});
