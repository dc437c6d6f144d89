/**
 * The phrases stage's options and their mapping to runPhrases, shared by `starword phrases` and
 * `starword run`. The API key is read from an environment variable only (argv is visible to `ps`).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { resolve } from 'node:path';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import type { ChatFormat } from '../../stages/phrases/chat-backend.ts';
import { DEFAULT_REQUESTS } from '../../stages/phrases/create-backend.ts';
import { type PhrasesResult, type RunPhrasesOptions, runPhrases } from '../../stages/phrases/run-phrases.ts';
import { DEFAULT_SAMPLING } from '../../stages/phrases/sampling.ts';
import { SWAP_MODES, type SwapMode, defaultSwapFor } from '../../stages/phrases/swap.ts';
import { BACKEND_IDS, type BackendId } from '../../stages/phrases/types.ts';
import { type CrossCheck, checkOptions, kebabFlag, rule } from '../option-checks.ts';
import { floatOption, jsonObjectOption, nonNegativeIntOption, positiveIntOption } from '../options.ts';

export interface PhrasesCliOptions {
  backend?: string; baseUrl?: string; llmModel?: string; apiKeyEnv: string;
  n: number; batchN: number; maxTokens: number; temperature: number; phrasesSeed?: number;
  concurrency: number; rpm?: number; tpm?: number; timeoutMs: number; retries: number;
  cache?: string; import?: string; swap?: string; chatFormat: string; featureBatch: number; conceptsPerPart: number;
  /** sent with every LLM request as is (server-specific sampling, e.g. vLLM's no_repeat_ngram_size) */
  extraBody?: Record<string, unknown>;
  /** go on when no concept got a phrase (recorded as failures; OTI then runs without L_gpt) */
  allowEmptyPhrases?: boolean;
}

/**
 * The LLM, sampling, rate-limit, cache and swap options. The seed is `--seed` in `starword phrases` and
 * `--phrases-seed` in `starword run`, where OTI owns --seed (the phrases command copies it across).
 */
export function addPhrasesOptions(cmd: Command, seedFlag: 'seed' | 'phrases-seed' = 'phrases-seed'): Command {
  return cmd
    .option(`--${seedFlag} <n>`, 'seed for the templates backend, and sent to the LLM (seed + batch index) when given', nonNegativeIntOption)
    .option('--backend <name>', `${BACKEND_IDS.join(' | ')} (default: completions if an LLM model is set, else templates)`)
    .option('--base-url <url>', 'OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL, else OpenAI)')
    .option('--llm-model <name>', 'LLM name as the server knows it (default: $STARWORD_LLM_MODEL)')
    .option('--api-key-env <var>', 'environment variable holding the API key', 'OPENAI_API_KEY')
    .option('--n <n>', 'phrases (samples) per concept', positiveIntOption, DEFAULT_SAMPLING.n)
    .option('--batch-n <n>', 'samples per request (servers cap n; 1 for servers that ignore n)', positiveIntOption, DEFAULT_SAMPLING.batchN)
    .option('--max-tokens <n>', 'new tokens per sample (SEARLE: max_length 35 with the prompt)', positiveIntOption, DEFAULT_SAMPLING.maxTokens)
    .option('--temperature <t>', 'sampling temperature', floatOption, DEFAULT_SAMPLING.temperature)
    .option('--concurrency <n>', 'requests in flight', positiveIntOption, DEFAULT_REQUESTS.concurrency)
    .option('--rpm <n>', 'requests per minute limit', positiveIntOption)
    .option('--tpm <n>', 'tokens per minute limit (estimated before, corrected after each request)', positiveIntOption)
    .option('--timeout-ms <n>', 'per-request timeout', positiveIntOption, DEFAULT_REQUESTS.timeoutMs)
    .option('--retries <n>', 'retries per request on 429, 5xx, timeouts, connection errors, malformed answers', nonNegativeIntOption, DEFAULT_REQUESTS.retries)
    .option('--cache <file>', 'phrase cache (SQLite); share one file across runs and datasets (default: <phrases out>/phrases-cache.sqlite)')
    .option('--import <file>', 'with --backend import: JSON {concept: [phrases]} or JSONL {"concept","phrases"} lines')
    .option('--swap <mode>', 'searle (SEARLE\'s exact replace; drops a concept if any phrase lacks it) | word (case-insensitive, word boundaries, plurals; drops the phrase) (default: searle, word for --backend chat)')
    .option('--extra-body <json>', 'a JSON object sent with every LLM request as is, e.g. \'{"no_repeat_ngram_size": 2}\' (SEARLE\'s, on vLLM)', jsonObjectOption)
    .option('--chat-format <f>', 'with --backend chat: json_schema | json_object', 'json_schema')
    .option('--feature-batch <n>', 'phrases per target-feature batch', positiveIntOption, 256)
    .option('--concepts-per-part <n>', 'concepts per phrases part', positiveIntOption, 1000)
    .option('--allow-empty-phrases', 'go on when no concept got a phrase (LLM down, empty --import file): recorded as failures, and OTI runs without L_gpt; without it that stops the run');
}

/** The phrases stage's option rules, shared by `starword phrases` and `starword run`. */
export const phrasesOptionsSchema = z.object({
  backend: rule.oneOf(BACKEND_IDS as [BackendId, ...BackendId[]]).optional(),
  swap: rule.oneOf(SWAP_MODES as [SwapMode, ...SwapMode[]]).optional(),
  chatFormat: rule.oneOf(['json_schema', 'json_object']),
  n: rule.positiveInt(), batchN: rule.positiveInt(), maxTokens: rule.positiveInt(), temperature: rule.range(0, 2),
  concurrency: rule.positiveInt(), rpm: rule.positiveInt().optional(), tpm: rule.positiveInt().optional(),
  timeoutMs: rule.positiveInt(), retries: rule.nonNegativeInt(),
  featureBatch: rule.positiveInt(), conceptsPerPart: rule.positiveInt(), phrasesSeed: rule.nonNegativeInt().optional(),
});

/** The LLM model a run will use: the option, else $STARWORD_LLM_MODEL. */
export function llmModelOf(o: PhrasesCliOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return o.llmModel ?? (env.STARWORD_LLM_MODEL || undefined);
}

/** The backend a run will use: the option, else completions when an LLM model is configured, else templates. */
export function resolvedBackend(o: PhrasesCliOptions, env: NodeJS.ProcessEnv = process.env): BackendId {
  return (o.backend as BackendId | undefined) ?? (llmModelOf(o, env) ? 'completions' : 'templates');
}

/** The swap a run will use: the option, else SEARLE's exact swap (word swap for chat models, see swap.ts). */
export function resolvedSwap(o: PhrasesCliOptions, env: NodeJS.ProcessEnv = process.env): SwapMode {
  return (o.swap as SwapMode | undefined) ?? defaultSwapFor(resolvedBackend(o, env));
}

const phrasesCross: CrossCheck<PhrasesCliOptions>[] = [
  (o) => (resolvedBackend(o) === 'import' && o.import === undefined ? { key: 'backend', message: 'import needs --import FILE' } : null),
  (o) => (o.import !== undefined && !existsSync(resolve(o.import)) ? { key: 'import', message: `${o.import}: no such file` } : null),
  (o) => (['completions', 'chat'].includes(resolvedBackend(o)) && !llmModelOf(o)
    ? { key: 'backend', message: `${resolvedBackend(o)} needs --llm-model NAME (or STARWORD_LLM_MODEL)` } : null),
];

/** Checks every phrases option (choices and ranges), early: before any compute. */
export function checkPhrasesOptions(o: PhrasesCliOptions, seedFlag: 'seed' | 'phrases-seed' = 'phrases-seed'): void {
  const base = kebabFlag();
  const flag = (key: string): string => (key === 'phrasesSeed' ? `--${seedFlag}` : base(key));
  checkOptions(phrasesOptionsSchema, o, flag, phrasesCross);
}

/** A note when the swap was chosen for the backend rather than by the user (printed and kept in run.json). */
export function swapNote(o: PhrasesCliOptions): string | null {
  if (o.swap !== undefined || resolvedSwap(o) === 'searle') return null;
  return `phrases: --swap word chosen for --backend ${resolvedBackend(o)} (chat models paraphrase and inflect the concept, `
    + 'so SEARLE\'s exact swap would drop most concepts); pass --swap searle for SEARLE\'s rule';
}

/** What a run's identity records of the phrases config (no key, no paths that do not change results). */
export function phrasesConfig(o: PhrasesCliOptions): Record<string, unknown> {
  return {
    backend: o.backend ?? null, llmModel: o.llmModel ?? process.env.STARWORD_LLM_MODEL ?? null, n: o.n, maxTokens: o.maxTokens,
    temperature: o.temperature, swap: resolvedSwap(o), seed: o.phrasesSeed ?? 0, import: o.import ?? null,
    // only when given, so runs made before the option keep their fingerprint
    ...(o.extraBody !== undefined ? { extraBody: o.extraBody } : {}),
  };
}

export async function phrasesStage(concepts: string[], outDir: string, o: PhrasesCliOptions,
  extra: { countTokens: (text: string) => number; textEncoder?: TextEncoder; textEncoderId?: string; log: (line: string) => void }): Promise<PhrasesResult> {
  const run: RunPhrasesOptions = {
    concepts, outDir,
    backend: o.backend as BackendId | undefined, swap: resolvedSwap(o), chatFormat: o.chatFormat as ChatFormat,
    llm: { baseURL: o.baseUrl, model: o.llmModel, apiKeyEnv: o.apiKeyEnv },
    sampling: { n: o.n, batchN: o.batchN, maxTokens: o.maxTokens, temperature: o.temperature, extraBody: o.extraBody },
    requests: { concurrency: o.concurrency, rpm: o.rpm, tpm: o.tpm, timeoutMs: o.timeoutMs, retries: o.retries },
    seed: o.phrasesSeed ?? 0,
    cachePath: o.cache === undefined ? undefined : resolve(o.cache),
    importFile: o.import === undefined ? undefined : resolve(o.import),
    featureBatch: o.featureBatch, conceptsPerPart: o.conceptsPerPart, allowEmpty: !!o.allowEmptyPhrases,
    ...extra,
  };
  return runPhrases(run);
}

/** The closing lines every phrases run prints (the last one is machine-read). */
export function phrasesReport(r: PhrasesResult): string[] {
  return [
    `phrases: ${r.concepts} concepts, ${r.phrases} phrases in ${r.parts.length} parts `
      + `(${r.generated} generated, ${r.dropped} dropped by the swap rule), backend ${r.backend} ${r.model}, `
      + `tokens: ${r.usage.prompt} prompt + ${r.usage.completion} completion, ${r.retries} retries`,
    `requests: ${r.requests}, cached: ${r.cached}, failed: ${r.failed}`,
  ];
}
