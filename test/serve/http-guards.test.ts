/**
 * `serve`'s HTTP guards, on loopback against a stand-in engine (the retrieval itself is tested with the
 * real one in serve-browser.test.ts): Host and Origin checks, a bounded live-OTI queue, 400 for bad JSON
 * with no internal text, control characters escaped in the log, and uploads whose header declares too
 * many pixels refused before any decoding.
 */
import test from 'ava';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import type { Server } from 'node:http';
import { bombPng } from '../helpers/png-bomb.ts';
import type { QueryHit, QueryRequest, ServeEngine, ServeMethod } from '../../pipeline/serve/engine.ts';
import { type HttpOptions, createServeServer } from '../../pipeline/serve/http.ts';

interface Stand { engine: ServeEngine; uploads: number; releaseOti: () => void }

function standInEngine(): Stand {
  const waiting: (() => void)[] = [];
  const methods: ServeMethod[] = [
    { name: 'searle-oti', label: 'SEARLE-OTI', compose: 'searle', token: 'oti' },
    { name: 'sum', label: 'sum', compose: 'sum' },
  ];
  const stand: Stand = {
    uploads: 0,
    releaseOti: () => { for (const w of waiting.splice(0)) w(); },
    engine: {
      methods, ids: ['a', 'b'], opts: { otiSteps: 5 },
      imagePath: () => undefined,
      encodeUpload: async () => { stand.uploads++; return new Float32Array(4); },
      query: async (q: QueryRequest): Promise<QueryHit[]> => {
        if (q.method === 'searle-oti') await new Promise<void>((r) => waiting.push(r));
        return [{ id: 'b', score: 0.5, rank: 1 }];
      },
    } as unknown as ServeEngine,
  };
  return stand;
}

async function listen(t: import('ava').ExecutionContext, over: Partial<HttpOptions> = {}) {
  const stand = standInEngine();
  const logs: string[] = [];
  const server: Server = createServeServer(stand.engine, { maxUploadBytes: 1 << 20, maxK: 50, log: (l) => logs.push(l), ...over });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { stand.releaseOti(); server.close(); });
  const port = (server.address() as AddressInfo).port;
  return { stand, logs, port };
}

/** A raw request (fetch would not let a test set Host). */
function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<{ status: number; body: string; headers: import('node:http').IncomingHttpHeaders; json: () => { error?: string; job?: string; upload?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers, json: () => JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const query = (method = 'sum', caption = 'is red') => JSON.stringify({ reference: { gallery: 'a' }, caption, method, k: 5 });

test('Host: loopback names are served; any other name is refused with 403 (DNS rebinding), unless allowed', async (t) => {
  const { port } = await listen(t);
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'localhost']) t.is((await call(port, 'GET', '/api/info', { host })).status, 200, host);
  for (const host of [`evil.example:${port}`, 'attacker.test', `127.0.0.1.evil.example:${port}`]) {
    const r = await call(port, 'GET', '/api/info', { host });
    t.is(r.status, 403, host);
    t.regex(r.json().error ?? '', /Host/);
  }
  const allowed = await listen(t, { allowHosts: ['gpu-box.lan'] });
  t.is((await call(allowed.port, 'GET', '/api/info', { host: `gpu-box.lan:${allowed.port}` })).status, 200);
  t.is((await call(allowed.port, 'GET', '/api/info', { host: 'evil.example' })).status, 403);
});

test('Origin: a cross-origin POST is refused with 403; same-origin and origin-less (curl) posts are served', async (t) => {
  const { port, stand } = await listen(t);
  for (const origin of ['http://evil.example', 'null', `http://localhost:${port + 1}`, 'https://127.0.0.1.evil.example']) {
    t.is((await call(port, 'POST', '/api/query', { origin, 'content-type': 'application/json' }, query())).status, 403, origin);
    t.is((await call(port, 'POST', '/api/upload', { origin }, Buffer.from('x'))).status, 403, origin);
  }
  t.is((await call(port, 'POST', '/api/query', { 'sec-fetch-site': 'cross-site' }, query())).status, 403, 'Sec-Fetch-Site: cross-site');
  t.is(stand.uploads, 0);
  t.is((await call(port, 'POST', '/api/query', { origin: `http://127.0.0.1:${port}` }, query())).status, 202);
  t.is((await call(port, 'POST', '/api/query', {}, query())).status, 202);
});

test('bad JSON, null and non-object bodies are a 400 with no internal text', async (t) => {
  const { port } = await listen(t);
  for (const body of ['null', '[]', '"x"', '7', '{', '', '{"reference": null}', '{"reference": {"gallery": 5}}', '{"reference": {"gallery": "a"}, "caption": {"x": 1}}']) {
    const r = await call(port, 'POST', '/api/query', {}, body);
    t.is(r.status, 400, body);
    const error = r.json().error ?? '';
    t.false(/TypeError|Cannot read|undefined|null \(reading|at .*\.ts/.test(error), `${body}: ${error}`);
  }
});

test('the live-OTI queue is bounded: past it, 503 with Retry-After; other methods still answer', async (t) => {
  const { port, stand } = await listen(t, { maxOtiJobs: 2 });
  for (let i = 0; i < 2; i++) t.is((await call(port, 'POST', '/api/query', {}, query('searle-oti'))).status, 202);
  const full = await call(port, 'POST', '/api/query', {}, query('searle-oti'));
  t.is(full.status, 503);
  t.regex(full.json().error ?? '', /busy/);
  t.truthy(full.headers['retry-after']);
  // more other queries than the server remembers jobs (256) do not make room for more OTI
  for (let i = 0; i < 300; i++) t.is((await call(port, 'POST', '/api/query', {}, query('sum'))).status, 202);
  t.is((await call(port, 'POST', '/api/query', {}, query('searle-oti'))).status, 503, 'still full');
  stand.releaseOti();
  await new Promise((r) => setTimeout(r, 50));
  t.is((await call(port, 'POST', '/api/query', {}, query('searle-oti'))).status, 202, 'room again once the jobs ended');
});

test('a caption with a newline cannot forge a log line', async (t) => {
  const { port, logs } = await listen(t);
  const r = await call(port, 'POST', '/api/query', {}, query('sum', 'is red\nserve: error on GET /admin: forged\r\u001b[2K'));
  t.is(r.status, 202);
  for (let i = 0; i < 100 && logs.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
  t.true(logs.length > 0);
  for (const line of logs) t.false(/[\u0000-\u001f\u007f]/.test(line), JSON.stringify(line));
  t.true(logs.some((l) => l.includes('is red\\nserve: error on GET /admin: forged')), logs.join('|'));
});

test('an upload whose header declares 13000×13000 pixels is refused before decoding', async (t) => {
  const { port, stand } = await listen(t, { maxUploadPixels: 40e6 });
  const png = bombPng(13000, 13000);
  t.true(png.length < 1 << 20, `${png.length} bytes, under the upload limit`);
  const r = await call(port, 'POST', '/api/upload', { 'content-type': 'image/png' }, png);
  t.is(r.status, 413);
  t.regex(r.json().error ?? '', /13000×13000.*169\.0 MP.*40\.0 MP/);
  t.is(stand.uploads, 0, 'never handed to the decoder');
});

test('an upload over the byte limit gets its 413 even while the client is still sending (declared or streamed)', async (t) => {
  const { port } = await listen(t);
  const big = Buffer.alloc(8 << 20, 1);
  for (let i = 0; i < 10; i++) {
    // with Content-Length (refused from the header) and chunked (refused once the limit is crossed)
    const declared = await call(port, 'POST', '/api/upload', { 'content-type': 'image/png' }, big);
    t.is(declared.status, 413);
    t.regex(declared.json().error ?? '', /too large/);
    const chunked = await call(port, 'POST', '/api/upload', { 'content-type': 'image/png', 'transfer-encoding': 'chunked' }, big);
    t.is(chunked.status, 413);
  }
});
