/**
 * Uploads become pixels within bounded time and memory, off the server's event loop:
 *  - the pixel count the header declares is checked first (sharp's metadata() reads the header only), so
 *    a small file that declares 13000 × 13000 pixels is refused before anything is decoded;
 *  - decoding and preprocessing run in a few worker threads (libvips decodes off the main thread anyway;
 *    the bicubic resize is JavaScript and would hold the event loop for seconds);
 *  - at most `workers` decodes run and `maxQueued` wait; past that the server is busy (503);
 *  - a decode that takes longer than `timeoutMs` has its worker terminated and is refused.
 */
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import type { PreprocessOptions } from '../../clip/image/preprocess.ts';
import type { DecodeReply, DecodeTask } from './upload-worker.ts';

/** Refused for its size (HTTP 413). */
export class UploadTooLargeError extends Error {}
/** Too many uploads at once, or one that took too long (HTTP 503). */
export class UploadBusyError extends Error {}
/** Not an image, or one that cannot be decoded (HTTP 400); `reason` as ImageDecodeError gives it. */
export class UploadUnreadableError extends Error {
  constructor(message: string, readonly reason?: string) { super(message); }
}

/** 40 megapixels: a 7,300 × 5,500 photo. A 13000 × 13000 PNG would be 507 MB of RGB. */
export const DEFAULT_MAX_UPLOAD_PIXELS = 40_000_000;

/** Refuses an upload whose header declares more than `maxPixels` pixels; what is not an image is left to the decoder. */
export async function checkDeclaredPixels(bytes: Buffer, maxPixels: number): Promise<void> {
  const meta = await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => null);
  if (!meta?.width || !meta.height) return;
  const pixels = meta.width * meta.height * (meta.pages ?? 1);
  if (pixels > maxPixels) {
    throw new UploadTooLargeError(`the image is ${meta.width}×${meta.height}${(meta.pages ?? 1) > 1 ? ` × ${meta.pages} pages` : ''} `
      + `(${(pixels / 1e6).toFixed(1)} MP); this server takes at most ${(maxPixels / 1e6).toFixed(1)} MP (--max-upload-megapixels)`);
  }
}

export interface UploadDecoderOptions {
  /** decodes at once (each holds up to maxPixels × ~16 bytes while it runs) */
  workers: number;
  /** decodes waiting for a worker */
  maxQueued: number;
  timeoutMs: number;
  maxPixels: number;
}

export const DEFAULT_DECODER: UploadDecoderOptions = { workers: 2, maxQueued: 8, timeoutMs: 30_000, maxPixels: DEFAULT_MAX_UPLOAD_PIXELS };

// The worker is TypeScript in a checkout (run through tsx) and JavaScript once built.
const WORKER_MODULE = new URL(`./upload-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url).href;
// dynamic imports only: eval code is CommonJS or ESM depending on the parent's flags (--input-type)
const BOOT = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.module);
})();
`;

interface Pending { task: DecodeTask; resolve: (p: Float32Array) => void; reject: (e: Error) => void }

export class UploadDecoder {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, { pending: Pending; timer: NodeJS.Timeout }>();
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;
  /** Decodes finished in a worker thread (for tests and the log). */
  decoded = 0;

  constructor(readonly opts: UploadDecoderOptions = DEFAULT_DECODER) {}

  decode(bytes: Buffer, preprocess: PreprocessOptions): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new UploadBusyError('the server is shutting down'));
    const running = this.busy.size;
    if (running >= this.opts.workers && this.queue.length >= this.opts.maxQueued) {
      return Promise.reject(new UploadBusyError(`busy: ${running} uploads are being decoded and ${this.queue.length} wait; try again shortly`));
    }
    return new Promise((resolve, reject) => {
      // a copy the worker owns: the request's buffer may be a slice of a pooled one
      const task: DecodeTask = { id: this.nextId++, bytes: new Uint8Array(bytes), opts: preprocess, maxPixels: this.opts.maxPixels };
      this.queue.push({ task, resolve, reject });
      this.pump();
    });
  }

  private spawn(): Worker {
    const tsx = WORKER_MODULE.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null;
    const w = new Worker(BOOT, { eval: true, workerData: { module: WORKER_MODULE, tsx } });
    w.unref();
    w.on('message', (reply: DecodeReply) => this.settle(w, reply));
    w.on('error', (err) => this.fail(w, new UploadUnreadableError(`the upload could not be decoded (${err.message.split('\n')[0]})`)));
    w.on('exit', () => this.fail(w, new UploadUnreadableError('the upload could not be decoded (its decoder stopped)')));
    return w;
  }

  private pump(): void {
    while (this.queue.length > 0 && (this.idle.length > 0 || this.busy.size < this.opts.workers)) {
      const w = this.idle.pop() ?? this.spawn();
      const pending = this.queue.shift()!;
      const timer = setTimeout(() => {
        this.fail(w, new UploadBusyError(`decoding the upload took over ${Math.round(this.opts.timeoutMs / 1000)} s and was stopped`));
        void w.terminate();
      }, this.opts.timeoutMs);
      this.busy.set(w, { pending, timer });
      w.postMessage(pending.task, [pending.task.bytes.buffer as ArrayBuffer]);
    }
  }

  private settle(w: Worker, reply: DecodeReply): void {
    const job = this.busy.get(w);
    if (!job || job.pending.task.id !== reply.id) return;
    clearTimeout(job.timer);
    this.busy.delete(w);
    if ('pixels' in reply) {
      this.decoded++;
      job.pending.resolve(reply.pixels);
    } else {
      job.pending.reject(new UploadUnreadableError(reply.error, reply.reason));
    }
    if (!this.closed) this.idle.push(w);
    this.pump();
  }

  /** A worker that failed or was stopped: its decode is refused and the worker is not used again. */
  private fail(w: Worker, err: Error): void {
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    const job = this.busy.get(w);
    if (!job) return;
    clearTimeout(job.timer);
    this.busy.delete(w);
    job.pending.reject(err);
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new UploadBusyError('the server is shutting down'));
    await Promise.all([...this.idle, ...this.busy.keys()].map((w) => w.terminate()));
  }
}
