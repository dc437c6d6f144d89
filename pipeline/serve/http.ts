/**
 * The HTTP side of `starword serve`, on node:http (a handful of routes need no framework):
 *   GET  /                      the page
 *   GET  /api/info              methods, gallery size, limits
 *   GET  /api/gallery?offset&limit   gallery ids, a page at a time
 *   GET  /image/<id>?size=N     a gallery image, looked up by id in the index (never a path from the URL),
 *                               resized by sharp (at most 512 px)
 *   POST /api/upload            an image as the raw request body (at most --max-upload-mb) → {upload}
 *   POST /api/query             {reference: {gallery}|{upload}, caption, method, k} → {job}
 *   GET  /api/job/<id>          {status, step, steps, results | error}: the page polls it (OTI's progress)
 * Every failure is a JSON {error} with a 4xx/5xx status; no request can take the server down.
 *
 * Guards (docs/serve.md, "Security model"): the Host header must name this machine (loopback names, or one
 * given with --allow-host), which defeats DNS rebinding; a POST from another origin (Origin, Sec-Fetch-Site)
 * is refused, so a web page the user visits cannot drive the server; the live-OTI queue is bounded (503);
 * a query body that is not the expected JSON object is a 400; uploads are checked and decoded as
 * upload-decoder.ts says; and what a client sends is escaped before it reaches the log.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import sharp from 'sharp';
import { z } from 'zod';
import { UserError, errorMessage } from '../../util/errors.ts';
import { logSafe } from '../../util/log-line.ts';
import type { QueryHit, Reference, ServeEngine } from './engine.ts';
import { servePage } from './page.ts';
import { DEFAULT_MAX_UPLOAD_PIXELS, UploadBusyError, UploadTooLargeError, UploadUnreadableError, checkDeclaredPixels } from './upload-decoder.ts';

export interface HttpOptions {
  maxUploadBytes: number;
  maxK: number;
  log?: (line: string) => void;
  /** host names besides the loopback ones that clients may use (the Host header), e.g. a LAN name */
  allowHosts?: readonly string[];
  /** live-OTI queries running or waiting; past it, 503 (default 4) */
  maxOtiJobs?: number;
  /** the most pixels an upload's header may declare (default 40 M) */
  maxUploadPixels?: number;
}

export const DEFAULT_MAX_OTI_JOBS = 4;

interface Job { status: 'running' | 'done' | 'error'; step: number; steps: number; results?: QueryHit[]; error?: string; at: number }

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The host name of a Host header or an origin's host ('example.com:80' → 'example.com', '[::1]:8' → '[::1]'); null when malformed. */
function hostName(host: string): string | null {
  if (!host || /[/@?#\\\s]/.test(host)) return null;
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return null;
  }
}

/** The query body: anything else (null, an array, a wrong type) is a 400 naming what is expected. */
const queryBody = z.object({
  reference: z.union([z.object({ gallery: z.string() }), z.object({ upload: z.string() })]),
  caption: z.string().max(2000).optional(),
  method: z.string().max(100).optional(),
  k: z.number().finite().optional(),
});
const QUERY_SHAPE = 'the query must be a JSON object {"reference": {"gallery": id} or {"upload": id}, "caption": text, "method": name, "k": number}';

class HttpError extends Error { constructor(readonly status: number, message: string) { super(message); } }

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) { res.end(); return; }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** The request body, refused past `limit` bytes (413) without reading the rest into memory. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.reject(new HttpError(413, `the upload is too large: ${(declared / 1048576).toFixed(1)} MB, the limit is ${(limit / 1048576).toFixed(0)} MB`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // refused: keep nothing more; the error handler drains the rest so the client reads its 413
        if (chunks.length) chunks.length = 0;
        reject(new HttpError(413, `the upload is too large: over the ${(limit / 1048576).toFixed(0)} MB limit`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const MAX_UPLOADS = 64, MAX_JOBS = 256;

export function createServeServer(engine: ServeEngine, o: HttpOptions): Server {
  const log = (line: string): void => o.log?.(logSafe(line));
  const allowed = new Set([...LOOPBACK_NAMES, ...(o.allowHosts ?? []).map((h) => h.toLowerCase())]);
  const maxOtiJobs = o.maxOtiJobs ?? DEFAULT_MAX_OTI_JOBS;
  let otiRunning = 0;
  const uploads = new Map<string, Float32Array>();
  const jobs = new Map<string, Job>();
  const remember = <T>(map: Map<string, T>, key: string, value: T, max: number) => {
    map.set(key, value);
    while (map.size > max) map.delete(map.keys().next().value as string);
  };
  const page = servePage();

  /** Host names this machine (no DNS rebinding); a POST comes from this origin (no cross-site requests). */
  function guard(req: IncomingMessage): void {
    const host = req.headers.host ?? '';
    const name = hostName(host);
    if (!name || !allowed.has(name)) {
      throw new HttpError(403, `Host '${host.slice(0, 100)}' is not a name of this server (start it with --allow-host NAME to serve that name)`);
    }
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let same = false;
      try { same = new URL(origin).host === host.toLowerCase(); } catch { /* 'null' or malformed: not ours */ }
      if (!same) throw new HttpError(403, `cross-origin request refused (Origin ${origin.slice(0, 100)})`);
    }
    if (req.headers['sec-fetch-site'] === 'cross-site') throw new HttpError(403, 'cross-site request refused');
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    guard(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
      return;
    }
    if (req.method === 'GET' && path === '/favicon.ico') { res.writeHead(204); res.end(); return; }
    if (req.method === 'GET' && path === '/api/info') {
      send(res, 200, { methods: engine.methods.map((m) => ({ name: m.name, label: m.label })), gallery: engine.ids.length,
        maxUploadBytes: o.maxUploadBytes, maxK: o.maxK, otiSteps: engine.opts.otiSteps });
      return;
    }
    if (req.method === 'GET' && path === '/api/gallery') {
      const offset = Math.max(0, Number(url.searchParams.get('offset') ?? 0) || 0);
      const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? 60) || 60));
      send(res, 200, { total: engine.ids.length, offset, ids: engine.ids.slice(offset, offset + limit) });
      return;
    }
    if (req.method === 'GET' && path.startsWith('/image/')) {
      let id: string;
      try { id = decodeURIComponent(path.slice('/image/'.length)); } catch { throw new HttpError(400, 'bad image id'); }
      const file = engine.imagePath(id);
      if (!file) throw new HttpError(404, `no image '${id}' in the index`);
      const size = Math.min(512, Math.max(16, Number(url.searchParams.get('size') ?? 160) || 160));
      let jpeg: Buffer;
      try { jpeg = await sharp(file).rotate().resize(size, size, { fit: 'inside' }).flatten({ background: '#ffffff' }).jpeg({ quality: 85 }).toBuffer(); } catch {
        throw new HttpError(404, `image '${id}' cannot be read`);
      }
      res.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'max-age=3600' });
      res.end(jpeg);
      return;
    }
    if (req.method === 'POST' && path === '/api/upload') {
      const body = await readBody(req, o.maxUploadBytes);
      if (body.length === 0) throw new HttpError(400, 'the upload is empty');
      await checkDeclaredPixels(body, o.maxUploadPixels ?? DEFAULT_MAX_UPLOAD_PIXELS);
      const features = await engine.encodeUpload(body);
      const id = randomUUID();
      remember(uploads, id, features, MAX_UPLOADS);
      send(res, 200, { upload: id });
      return;
    }
    if (req.method === 'POST' && path === '/api/query') {
      let json: unknown;
      try { json = JSON.parse((await readBody(req, 1 << 20)).toString('utf8')); } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, 'the query is not valid JSON');
      }
      if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new HttpError(400, QUERY_SHAPE);
      if (!('reference' in json) || (json as { reference?: unknown }).reference == null) throw new HttpError(400, 'pick a reference image (from the gallery, or upload one)');
      const parsed = queryBody.safeParse(json);
      if (!parsed.success) throw new HttpError(400, QUERY_SHAPE);
      const q = parsed.data;
      let reference: Reference;
      if ('gallery' in q.reference) reference = { gallery: q.reference.gallery };
      else {
        const f = uploads.get(q.reference.upload);
        if (!f) throw new HttpError(400, 'that upload is gone: upload the image again');
        reference = { features: f };
      }
      const method = q.method ?? '';
      const caption = q.caption ?? '';
      const k = Math.min(o.maxK, Math.max(1, Math.floor(q.k ?? 10) || 10));
      const oti = engine.methods.find((m) => m.name === method)?.token === 'oti';
      // counted apart from the jobs map, which forgets old jobs: a flood of other queries cannot hide running ones
      if (oti && otiRunning >= maxOtiJobs) {
        throw new HttpError(503, `busy: ${otiRunning} live-OTI queries are running or waiting; try again shortly, or pick another method`);
      }
      if (oti) otiRunning++;
      const job: Job = { status: 'running', step: 0, steps: 0, at: Date.now() };
      const id = randomUUID();
      remember(jobs, id, job, MAX_JOBS);
      const t0 = performance.now();
      engine.query({ reference, caption, method, k }, (step, steps) => { job.step = step; job.steps = steps; })
        .finally(() => { if (oti) otiRunning--; })
        .then((results) => {
          job.results = results; job.status = 'done';
          log(`query ${method} ${JSON.stringify(caption)}: ${results.length} results in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
        })
        .catch((err) => { job.status = 'error'; job.error = err instanceof UserError ? errorMessage(err) : 'the query failed (see the server log)'; if (!(err instanceof UserError)) log(`query ${method} failed: ${errorMessage(err)}`); });
      send(res, 202, { job: id });
      return;
    }
    if (req.method === 'GET' && path.startsWith('/api/job/')) {
      const job = jobs.get(path.slice('/api/job/'.length));
      if (!job) throw new HttpError(404, 'no such job');
      send(res, 200, { status: job.status, step: job.step, steps: job.steps, results: job.results, error: job.error });
      return;
    }
    throw new HttpError(404, `not found: ${req.method} ${path}`);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status
        : err instanceof UploadTooLargeError ? 413
        : err instanceof UploadBusyError ? 503
        : err instanceof UserError || err instanceof UploadUnreadableError ? 400 : 500;
      // a 500 is a bug: its text stays in the log, the client gets no internals
      if (status === 500) log(`error on ${req.method} ${req.url}: ${errorMessage(err)}`);
      if (status === 503) res.setHeader('retry-after', '5');
      // a refused upload: the rest of the body is read and dropped, so a client still sending gets its 413
      // (closing the socket under it is a reset, which fetch reports as a failure); a body that will not end
      // within 2 s is cut off
      if (status === 413) {
        req.resume();
        const cut = setTimeout(() => req.destroy(), 2000);
        cut.unref();
        req.on('end', () => clearTimeout(cut));
      }
      send(res, status, { error: status === 500 ? 'internal error (see the server log)' : errorMessage(err) });
    });
  });
  server.on('clientError', (_err, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
  return server;
}
