/**
 * A local OpenAI-compatible HTTP server for tests: POST /v1/completions and /v1/chat/completions on
 * 127.0.0.1 (port 0), with deterministic answers derived from the prompt, request counting (total, per
 * endpoint, per concept) and faults on demand. It is a test double of the protocol, not an LLM.
 *
 * Chat requests may carry images (OpenAI `image_url` content parts with base64 data URLs, as vision
 * models take them): the server decodes them and hands text and images to the test's `chat` handler,
 * whose string becomes the answer's content (a handler that returns null leaves the phrase answer).
 *
 * Faults are scripted per request: `script(...faults)` queues faults that the next requests receive in
 * order (null = answer normally), and `faultFor(fn)` decides per request (for faults tied to a concept).
 */
import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | { kind: '429'; retryAfter?: string; retryAfterMs?: number }
  | { kind: '500' }
  | { kind: 'hang' }
  | { kind: 'malformed-json' }
  | { kind: 'drop' }
  /** A 200 whose chat content is not the promised JSON. */
  | { kind: 'bad-content' }
  /** A 400 whose error message echoes the API key (servers do this). */
  | { kind: 'echo-auth-400' }
  | { kind: '401' };

export interface RequestInfo {
  endpoint: 'completions' | 'chat';
  concept: string | null;
  body: Record<string, unknown>;
  authorization: string | undefined;
  /** 0-based index of this request on the server. */
  index: number;
}

/** A decoded image of a chat request. */
export interface RequestImage { mime: string; bytes: Buffer; sha256: string }

/** What a chat handler sees: the user messages' text parts joined by newlines, and their images in order. */
export interface ChatRequest { text: string; images: RequestImage[]; body: Record<string, unknown> }

export interface LlmTestServerOptions {
  /** Answers chat requests (the content string), or null for the default phrase answer. */
  chat?: (req: ChatRequest) => string | null;
  /** Delay before each normal answer (ms): a slowish server for kill tests. */
  delayMs?: number;
  /** Samples returned per completions request when the client asks for n (default: n). */
  maxChoices?: number;
}

export interface LlmTestServer {
  readonly url: string;
  /** Base URL for the openai client: `${url}/v1`. */
  readonly baseURL: string;
  /** Requests received (every attempt, faulted or not). */
  requests: number;
  byEndpoint: Record<string, number>;
  /** Chat requests that carried at least one image. */
  imageRequests: number;
  /** Requests per concept (parsed from the prompt). */
  byConcept: Map<string, number>;
  faultsServed: Record<string, number>;
  authorizations: Set<string>;
  script(...faults: (Fault | null)[]): void;
  faultFor(fn: ((info: RequestInfo) => Fault | null) | null): void;
  resetCounts(): void;
  close(): Promise<void>;
}

const COMPLETION_PROMPT = /^a photo of (.+) that$/s;

/**
 * Deterministic completion text for sample `i` of `prompt`: a function of the prompt, the request's seed
 * (when sent) and `ordinal`, the how-many-th request for that prompt this is (so samples differ across
 * requests the way an LLM's do, yet a fresh server answers the same sequence of requests the same way).
 */
export function fakeCompletion(prompt: string, i: number, seed: unknown, ordinal = 0): string {
  const h = createHash('sha256').update(`${prompt}\u0000${i}\u0000${String(seed ?? '')}\u0000${ordinal}`).digest('hex');
  const words = ['is red', 'sits on a table', 'looks old', 'is next to a window', 'shines', 'is small', 'is large', 'rests'];
  return ` ${words[parseInt(h.slice(0, 2), 16) % words.length]} (${h.slice(2, 10)})`;
}

export function fakeChatPhrases(concept: string, count: number, seed: unknown, ordinal = 0): string[] {
  return Array.from({ length: count }, (_, i) => `a photo of ${concept} with tag ${fakeCompletion(concept, i, seed, ordinal).trim()}`);
}

export async function startLlmTestServer(options: LlmTestServerOptions = {}): Promise<LlmTestServer> {
  const queue: (Fault | null)[] = [];
  let decide: ((info: RequestInfo) => Fault | null) | null = null;
  const sockets = new Set<Socket>();
  let index = 0;
  const ordinals = new Map<string, number>();
  const nextOrdinal = (key: string): number => { const o = ordinals.get(key) ?? 0; ordinals.set(key, o + 1); return o; };

  const state = {
    requests: 0,
    byEndpoint: {} as Record<string, number>,
    byConcept: new Map<string, number>(),
    imageRequests: 0,
    faultsServed: {} as Record<string, number>,
    authorizations: new Set<string>(),
  };

  const server: Server = createServer((req, res) => { void handle(req, res); });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const url = req.url ?? '';
    const endpoint = url.endsWith('/chat/completions') ? 'chat' : url.endsWith('/completions') ? 'completions' : null;
    if (req.method !== 'POST' || !endpoint) { send(res, 404, { error: { message: `no route ${req.method} ${url}` } }); return; }
    let body: Record<string, unknown>;
    try { body = JSON.parse(text) as Record<string, unknown>; } catch { send(res, 400, { error: { message: 'bad JSON' } }); return; }
    let chatRequest: ChatRequest | null = null;
    if (endpoint === 'chat') {
      try { chatRequest = readChatRequest(body); } catch (err) { send(res, 400, { error: { message: (err as Error).message } }); return; }
    }
    const concept = endpoint === 'completions' ? completionConcept(body) : chatConcept(body)?.concept ?? null;
    const info: RequestInfo = { endpoint, concept, body, authorization: req.headers.authorization, index: index++ };
    state.requests++;
    state.byEndpoint[endpoint] = (state.byEndpoint[endpoint] ?? 0) + 1;
    if (concept !== null) state.byConcept.set(concept, (state.byConcept.get(concept) ?? 0) + 1);
    if (info.authorization) state.authorizations.add(info.authorization);
    if (chatRequest && chatRequest.images.length > 0) state.imageRequests++;

    const fault = queue.length > 0 ? queue.shift() ?? null : decide?.(info) ?? null;
    if (fault) {
      state.faultsServed[fault.kind] = (state.faultsServed[fault.kind] ?? 0) + 1;
      serveFault(fault, info, res);
      return;
    }
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (res.destroyed) return;
    if (endpoint === 'completions') { answerCompletion(body, res); return; }
    const content = chatRequest && options.chat ? options.chat(chatRequest) : null;
    if (content !== null) {
      send(res, 200, {
        id: `chat-${index}`, object: 'chat.completion', created: 0, model: String(body.model),
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }],
        usage: { prompt_tokens: 50, completion_tokens: 12, total_tokens: 62 },
      });
      return;
    }
    answerChat(body, res);
  }

  function serveFault(fault: Fault, info: RequestInfo, res: ServerResponse): void {
    switch (fault.kind) {
      case '429': {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
        send(res, 429, { error: { message: 'rate limited', type: 'rate_limit' } }, headers);
        return;
      }
      case '500': send(res, 500, { error: { message: 'internal error' } }); return;
      case 'hang': return; // never answers; the client's timeout must fire (close() destroys the socket)
      case 'malformed-json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"choices": [ {"text": "trunc');
        return;
      case 'drop': res.socket?.destroy(); return;
      case 'bad-content':
        send(res, 200, { id: 'x', object: 'chat.completion', created: 0, model: String(info.body.model),
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Sure! Here are some phrases: a, b' } }] });
        return;
      case 'echo-auth-400':
        send(res, 400, { error: { message: `invalid request with key ${(info.authorization ?? '').replace(/^Bearer /, '')}` } });
        return;
      case '401': send(res, 401, { error: { message: 'invalid api key' } }); return;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return Object.assign(state, {
    url,
    baseURL: `${url}/v1`,
    script: (...faults: (Fault | null)[]) => { queue.push(...faults); },
    faultFor: (fn: ((info: RequestInfo) => Fault | null) | null) => { decide = fn; },
    resetCounts: () => {
      state.requests = 0; state.byEndpoint = {}; state.byConcept = new Map(); state.faultsServed = {}; state.imageRequests = 0;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  }) as unknown as LlmTestServer;

  function answerCompletion(body: Record<string, unknown>, res: ServerResponse): void {
    const prompt = String(body.prompt ?? '');
    const asked = Number(body.n ?? 1);
    const n = Math.min(asked, options.maxChoices ?? asked);
    const ordinal = nextOrdinal(`c\u0000${prompt}`);
    const choices = Array.from({ length: n }, (_, i) => ({ index: i, text: fakeCompletion(prompt, i, body.seed, ordinal), finish_reason: 'length', logprobs: null }));
    send(res, 200, {
      id: `cmpl-${index}`, object: 'text_completion', created: 0, model: String(body.model), choices,
      usage: { prompt_tokens: 6, completion_tokens: 8 * n, total_tokens: 6 + 8 * n },
    });
  }

  function answerChat(body: Record<string, unknown>, res: ServerResponse): void {
    const parsed = chatConcept(body);
    const phrases = parsed ? fakeChatPhrases(parsed.concept, parsed.count, body.seed, nextOrdinal(`m\u0000${parsed.concept}`)) : [];
    send(res, 200, {
      id: `chat-${index}`, object: 'chat.completion', created: 0, model: String(body.model),
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: JSON.stringify({ phrases }) } }],
      usage: { prompt_tokens: 40, completion_tokens: 10 * phrases.length, total_tokens: 40 + 10 * phrases.length },
    });
  }
}

function send(res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(json));
}

function completionConcept(body: Record<string, unknown>): string | null {
  const m = COMPLETION_PROMPT.exec(String(body.prompt ?? ''));
  return m ? m[1] : null;
}

/**
 * The user messages' text and images. Content is a string or an array of parts ({type: 'text', text} or
 * {type: 'image_url', image_url: {url: 'data:<mime>;base64,…'}}); anything else is a 400, as a real
 * vision server refuses it.
 */
function readChatRequest(body: Record<string, unknown>): ChatRequest {
  const messages = Array.isArray(body.messages) ? body.messages as { role?: string; content?: unknown }[] : [];
  const texts: string[] = [];
  const images: RequestImage[] = [];
  for (const m of messages.filter((x) => x.role === 'user')) {
    if (typeof m.content === 'string') { texts.push(m.content); continue; }
    if (!Array.isArray(m.content)) throw new Error('message content must be a string or an array of parts');
    for (const part of m.content as { type?: string; text?: unknown; image_url?: { url?: unknown } }[]) {
      if (part.type === 'text' && typeof part.text === 'string') { texts.push(part.text); continue; }
      if (part.type !== 'image_url') throw new Error(`unknown content part type ${JSON.stringify(part.type)}`);
      const m2 = /^data:(image\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=]+)$/.exec(String(part.image_url?.url ?? ''));
      if (!m2) throw new Error('image_url must be a base64 data URL of an image');
      const bytes = Buffer.from(m2[2], 'base64');
      images.push({ mime: m2[1], bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  }
  return { text: texts.join('\n'), images, body };
}

/** Reads the machine-readable `Concept: "…"` and `Count: N` lines of starword's chat prompt. */
function chatConcept(body: Record<string, unknown>): { concept: string; count: number } | null {
  const messages = Array.isArray(body.messages) ? body.messages as { role?: string; content?: unknown }[] : [];
  const user = messages.filter((m) => m.role === 'user' && typeof m.content === 'string').map((m) => String(m.content)).join('\n');
  const c = /^Concept: (".*")$/m.exec(user);
  const k = /^Count: (\d+)$/m.exec(user);
  if (!c || !k) return null;
  try { return { concept: JSON.parse(c[1]) as string, count: Number(k[1]) }; } catch { return null; }
}
