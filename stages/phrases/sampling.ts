/** Sampling settings shared by the LLM backends, with SEARLE's defaults. */
export interface SamplingOptions {
  /** Samples (phrases) per concept (SEARLE: 256). */
  n: number;
  /** Samples per HTTP request: servers cap `n` (use 1 for servers that ignore `n`). Not part of the cache key. */
  batchN: number;
  /**
   * New tokens per sample. SEARLE's max_length 35 counts the prompt too ("a photo of X that" is ~5–8
   * GPT-Neo tokens), so 32 new tokens is a little more generous than SEARLE; the CLIP-context filter
   * bounds what is kept anyway.
   */
  maxTokens: number;
  temperature: number;
  /** Sent to the server (per request: seed + batch index) when set, for reproducible sampling. */
  seed?: number;
  /**
   * Extra fields sent with every request as is (server-specific sampling such as vLLM's
   * `no_repeat_ngram_size`). Part of the cache key when given: they change what the server writes.
   */
  extraBody?: Record<string, unknown>;
}

export const DEFAULT_SAMPLING: SamplingOptions = { n: 256, batchN: 16, maxTokens: 32, temperature: 0.5 };
