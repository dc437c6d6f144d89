/**
 * The openai client as starword uses it: its own retries off (ours are counted and rate-limited), a
 * per-request timeout, and a fetch that counts every HTTP request that actually goes out.
 */
import OpenAI from 'openai';

export interface LlmConnection {
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1; undefined = api.openai.com. */
  baseURL?: string;
  apiKey?: string;
  timeoutMs: number;
}

export interface CountedClient {
  client: OpenAI;
  /** HTTP requests sent so far through this client. */
  requestCount(): number;
}

export function createOpenAiClient(conn: LlmConnection): CountedClient {
  let count = 0;
  const countingFetch: typeof fetch = (input, init) => { count++; return fetch(input, init); };
  const client = new OpenAI({
    baseURL: conn.baseURL,
    // Local servers (vLLM, llama.cpp, Ollama) ignore the key, but the SDK refuses to start without one.
    apiKey: conn.apiKey || 'no-key',
    maxRetries: 0,
    timeout: conn.timeoutMs,
    fetch: countingFetch,
  });
  return { client, requestCount: () => count };
}
