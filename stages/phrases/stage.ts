/**
 * Phrases, one declaration: for every needed concept, phrases from an LLM (SEARLE's captions, through a
 * durable cache), offline templates or an imported file; cleaned, the concept swapped for " $ ", with
 * CLIP target features when a model is given (run-phrases.ts). The API key is read from an environment
 * variable only (argv is visible to `ps`).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import type { ClipModel } from '../../clip/weights/clip-model.ts';
import { rule } from '../../util/option-rules.ts';
import type { StageDefinition } from '../stage.ts';
import type { ChatFormat } from './chat-backend.ts';
import { DEFAULT_REQUESTS } from './create-backend.ts';
import { type PhrasesResult, runPhrases } from './run-phrases.ts';
import { DEFAULT_SAMPLING } from './sampling.ts';
import { SWAP_MODES, type SwapMode, defaultSwapFor } from './swap.ts';
import { BACKEND_IDS, type BackendId } from './types.ts';

const positive = rule.positiveInt;

export const phrasesOptions = z.object({
  phrasesSeed: rule.nonNegativeInt().optional().meta({ help: 'seed for the templates backend, and sent to the LLM (seed + batch index) when given' }),
  backend: rule.oneOf(BACKEND_IDS as [BackendId, ...BackendId[]]).optional()
    .meta({ help: `${BACKEND_IDS.join(' | ')} (default: completions if an LLM model is set, else templates)`, value: '<name>' }),
  baseUrl: z.string().optional().meta({ help: 'OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL, else OpenAI)', value: '<url>' }),
  llmModel: z.string().optional().meta({ help: 'LLM name as the server knows it (default: $STARWORD_LLM_MODEL)', value: '<name>' }),
  apiKeyEnv: z.string().default('OPENAI_API_KEY').meta({ help: 'environment variable holding the API key', value: '<var>' }),
  n: positive().default(DEFAULT_SAMPLING.n).meta({ help: 'phrases (samples) per concept' }),
  batchN: positive().default(DEFAULT_SAMPLING.batchN).meta({ help: 'samples per request (servers cap n; 1 for servers that ignore n)' }),
  maxTokens: positive().default(DEFAULT_SAMPLING.maxTokens).meta({ help: 'new tokens per sample (SEARLE counts its max_length 35 with the prompt)', searle: 35 }),
  temperature: rule.range(0, 2).default(DEFAULT_SAMPLING.temperature).meta({ help: 'sampling temperature', value: '<t>' }),
  concurrency: positive().default(DEFAULT_REQUESTS.concurrency).meta({ help: 'requests in flight' }),
  rpm: positive().optional().meta({ help: 'requests per minute limit' }),
  tpm: positive().optional().meta({ help: 'tokens per minute limit (estimated before, corrected after each request)' }),
  timeoutMs: positive().default(DEFAULT_REQUESTS.timeoutMs).meta({ help: 'per-request timeout' }),
  retries: rule.nonNegativeInt().default(DEFAULT_REQUESTS.retries).meta({ help: 'retries per request on 429, 5xx, timeouts, connection errors, malformed answers' }),
  cache: z.string().optional().meta({ help: 'phrase cache (SQLite); share one file across runs and datasets (default: <phrases out>/phrases-cache.sqlite)', value: '<file>' }),
  import: z.string().optional().meta({ help: 'with --backend import: JSON {concept: [phrases]} or JSONL {"concept","phrases"} lines', value: '<file>' }),
  swap: rule.oneOf(SWAP_MODES as [SwapMode, ...SwapMode[]]).optional().meta({
    help: 'searle (SEARLE\'s exact replace; drops a concept if any phrase lacks it) | word (case-insensitive, word boundaries, plurals; drops the phrase) (default: searle, word for --backend chat)',
    value: '<mode>',
  }),
  extraBody: z.record(z.string(), z.unknown()).optional()
    .meta({ help: 'a JSON object sent with every LLM request as is, e.g. \'{"no_repeat_ngram_size": 2}\' (SEARLE\'s, on vLLM)' }),
  chatFormat: rule.oneOf(['json_schema', 'json_object']).default('json_schema').meta({ help: 'with --backend chat: json_schema | json_object', value: '<f>' }),
  featureBatch: positive().default(256).meta({ help: 'phrases per target-feature batch' }),
  conceptsPerPart: positive().default(1000).meta({ help: 'concepts per phrases part' }),
  // not in phrasesConfig: adding it to a rerun is not a changed configuration
  allowEmptyPhrases: z.boolean().default(false)
    .meta({ help: 'go on when no concept got a phrase (LLM down, empty --import file): recorded as failures, and OTI and phi run without L_gpt; without it that stops the run' }),
});

export type PhrasesStageOptions = z.output<typeof phrasesOptions>;
type LlmChoice = Pick<PhrasesStageOptions, 'llmModel' | 'backend' | 'swap'>;

/** The LLM model a run will use: the option, else $STARWORD_LLM_MODEL. */
export function llmModelOf(o: LlmChoice, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return o.llmModel ?? (env.STARWORD_LLM_MODEL || undefined);
}

/** The backend a run will use: the option, else completions when an LLM model is configured, else templates. */
export function resolvedBackend(o: LlmChoice, env: NodeJS.ProcessEnv = process.env): BackendId {
  return o.backend ?? (llmModelOf(o, env) ? 'completions' : 'templates');
}

/** The swap a run will use: the option, else SEARLE's exact swap (word swap for chat models, see swap.ts). */
export function resolvedSwap(o: LlmChoice, env: NodeJS.ProcessEnv = process.env): SwapMode {
  return o.swap ?? defaultSwapFor(resolvedBackend(o, env));
}

/** A note when the swap was chosen for the backend rather than by the user (printed and kept in run.json). */
export function swapNote(o: LlmChoice): string | null {
  if (o.swap !== undefined || resolvedSwap(o) === 'searle') return null;
  return `phrases: --swap word chosen for --backend ${resolvedBackend(o)} (chat models paraphrase and inflect the concept, `
    + 'so SEARLE\'s exact swap would drop most concepts); pass --swap searle for SEARLE\'s rule';
}

/** What a run's identity records of the phrases config (no key, no paths that do not change results). */
export function phrasesConfig(o: PhrasesStageOptions): Record<string, unknown> {
  return {
    backend: o.backend ?? null, llmModel: o.llmModel ?? process.env.STARWORD_LLM_MODEL ?? null, n: o.n, maxTokens: o.maxTokens,
    temperature: o.temperature, swap: resolvedSwap(o), seed: o.phrasesSeed ?? 0, import: o.import ?? null,
    // only when given, so runs made before the option keep their fingerprint
    ...(o.extraBody !== undefined ? { extraBody: o.extraBody } : {}),
  };
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

export interface PhrasesInputs {
  /** the needed concepts, in order */
  concepts: string[];
  outDir: string;
  /** CLIP token count of a text, SOT and EOT included */
  countTokens(text: string): number;
  /** when given, each kept phrase's CLIP text feature is stored as its target */
  textEncoder?: TextEncoder;
}

export const phrasesStage: StageDefinition<typeof phrasesOptions, PhrasesResult, PhrasesInputs, ClipModel | undefined> = {
  name: 'phrases',
  summary: "phrases per concept (SEARLE's LLM captions, cached; or offline templates / an imported file), concept swapped for ' $ '",
  input: ['concepts'],
  output: ['phrases'],
  options: phrasesOptions,
  cross: [
    (o) => (resolvedBackend(o) === 'import' && o.import === undefined ? { key: 'backend', message: 'import needs --import FILE' } : null),
    (o) => (o.import !== undefined && !existsSync(resolve(o.import)) ? { key: 'import', message: `${o.import}: no such file` } : null),
    (o) => (['completions', 'chat'].includes(resolvedBackend(o)) && !llmModelOf(o)
      ? { key: 'backend', message: `${resolvedBackend(o)} needs --llm-model NAME (or STARWORD_LLM_MODEL)` } : null),
  ],
  config: phrasesConfig,
  run: (ctx, o) => runPhrases({
    concepts: ctx.inputs.concepts, outDir: ctx.inputs.outDir,
    backend: o.backend, swap: resolvedSwap(o), chatFormat: o.chatFormat as ChatFormat,
    llm: { baseURL: o.baseUrl, model: o.llmModel, apiKeyEnv: o.apiKeyEnv },
    sampling: { n: o.n, batchN: o.batchN, maxTokens: o.maxTokens, temperature: o.temperature, extraBody: o.extraBody },
    requests: { concurrency: o.concurrency, rpm: o.rpm, tpm: o.tpm, timeoutMs: o.timeoutMs, retries: o.retries },
    seed: o.phrasesSeed ?? 0,
    cachePath: o.cache === undefined ? undefined : resolve(o.cache),
    importFile: o.import === undefined ? undefined : resolve(o.import),
    featureBatch: o.featureBatch, conceptsPerPart: o.conceptsPerPart, allowEmpty: o.allowEmptyPhrases,
    countTokens: ctx.inputs.countTokens, textEncoder: ctx.inputs.textEncoder, textEncoderId: ctx.inputs.textEncoder ? ctx.model?.hash : undefined,
    log: ctx.log, progress: ctx.progress('phrases', 'concepts'),
  }),
  counts: (r) => ({ concepts: r.concepts, phrases: r.phrases, requests: r.requests, cached: r.cached, failed: r.failed, dropped: r.dropped }),
  resumedCounts: ['requests'],
};
