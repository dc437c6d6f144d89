/**
 * The options of the captioning baseline and CIReVL (`starword evaluate`), and their mapping to the
 * caption stage: two OpenAI-compatible endpoints — a vision chat model that captions reference images,
 * and a chat model that recomposes caption + relative caption — each with its own rate limits and key
 * variable (keys come from the environment only: argv is visible to `ps`).
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AnswerCache } from '../stages/caption/answer-cache.ts';
import { CAPTION_PROMPT, MODIFIER_PROMPTS, MODIFIER_PROMPT_NAMES, type ModifierPromptName, defaultModifierPrompt } from '../stages/caption/cirevl-prompts.ts';
import { type DescribeQuery, type DescribeReport, describeQueries } from '../stages/caption/describe.ts';
import type { ChatTarget } from '../stages/caption/requests.ts';
import { IdResolver } from '../stages/retrieve/id-resolver.ts';
import * as images from '../schemas/images.ts';
import { listDoneParts, readPart } from '../schemas/part-io.ts';
import { UserError } from '../util/errors.ts';
import { checkBaseUrl, readApiKey } from '../util/llm/endpoint.ts';
import { createOpenAiClient } from '../util/llm/openai-client.ts';
import { RequestScheduler } from '../util/llm/scheduler.ts';
import { nonNegativeIntOption, positiveIntOption } from './options.ts';

export interface CaptionCliOptions {
  captionEndpoint?: string; captionModel?: string; captionApiKeyEnv: string; captionRpm?: number; captionTpm?: number; captionMaxTokens: number;
  llmEndpoint?: string; llmModel?: string; llmApiKeyEnv: string; llmRpm?: number; llmTpm?: number; llmMaxTokens: number;
  cirevlPrompt?: string; captionCache?: string; concurrency: number; timeoutMs: number; retries: number;
}

/** The option defaults, for callers that build the options themselves (tests, other commands). */
export const CAPTION_DEFAULTS = {
  captionApiKeyEnv: 'OPENAI_API_KEY', llmApiKeyEnv: 'OPENAI_API_KEY', captionMaxTokens: 160, llmMaxTokens: 700,
  concurrency: 8, timeoutMs: 120_000, retries: 6,
} as const;

export function addCaptionOptions(cmd: Command): Command {
  return cmd
    .option('--caption-endpoint <url>', 'captioning + CIReVL: OpenAI-compatible base URL of a vision chat model (default: $OPENAI_BASE_URL, else OpenAI)')
    .option('--caption-model <name>', 'the vision chat model (LLaVA, Qwen-VL, llava on Ollama, an OpenAI vision model)')
    .option('--caption-api-key-env <var>', 'environment variable holding the captioner\'s API key', CAPTION_DEFAULTS.captionApiKeyEnv)
    .option('--caption-rpm <n>', 'caption requests per minute', positiveIntOption)
    .option('--caption-tpm <n>', 'caption tokens per minute (an image is reserved as 800 tokens)', positiveIntOption)
    .option('--caption-max-tokens <n>', 'caption length limit', positiveIntOption, CAPTION_DEFAULTS.captionMaxTokens)
    .option('--llm-endpoint <url>', 'CIReVL: OpenAI-compatible base URL of the chat model that recomposes (default: --caption-endpoint\'s)')
    .option('--llm-model <name>', 'CIReVL: the chat model (the authors used gpt-3.5-turbo)')
    .option('--llm-api-key-env <var>', 'environment variable holding the recomposer\'s API key', CAPTION_DEFAULTS.llmApiKeyEnv)
    .option('--llm-rpm <n>', 'recomposition requests per minute', positiveIntOption)
    .option('--llm-tpm <n>', 'recomposition tokens per minute', positiveIntOption)
    .option('--llm-max-tokens <n>', 'recomposition length limit (CIReVL: 700)', positiveIntOption, CAPTION_DEFAULTS.llmMaxTokens)
    .option('--cirevl-prompt <name>', `${MODIFIER_PROMPT_NAMES.join(' | ')} (default: the authors' per benchmark: CIRR contextual, CIRCO structural, FashionIQ structural-fashion)`)
    .option('--caption-cache <file>', 'SQLite cache of captions and recompositions (default: <index run folder>/captions-cache.sqlite)')
    .option('--concurrency <n>', 'caption / recomposition requests in flight', positiveIntOption, CAPTION_DEFAULTS.concurrency)
    .option('--timeout-ms <n>', 'per-request timeout', positiveIntOption, CAPTION_DEFAULTS.timeoutMs)
    .option('--retries <n>', 'retries per request on 429, 5xx, timeouts, connection errors, malformed answers', nonNegativeIntOption, CAPTION_DEFAULTS.retries);
}

/** Why captioning / CIReVL cannot run with these options, or null when they can. */
export function captionUnavailable(o: CaptionCliOptions, cirevl: boolean): string | null {
  if (!o.captionModel) return 'no vision model configured: give --caption-model NAME (and --caption-endpoint URL)';
  if (cirevl && !o.llmModel) return 'no recomposing chat model configured: give --llm-model NAME (and --llm-endpoint URL)';
  return null;
}

function chatTarget(endpoint: string | undefined, flag: string, keyVar: string, keyFlag: string, model: string, limits: { rpm?: number; tpm?: number; maxTokens: number },
  o: CaptionCliOptions, log?: (line: string) => void): ChatTarget {
  const baseURL = checkBaseUrl(endpoint ?? (process.env.OPENAI_BASE_URL || undefined), flag);
  const apiKey = readApiKey(keyVar, process.env, keyFlag);
  const { client } = createOpenAiClient({ baseURL, apiKey, timeoutMs: o.timeoutMs });
  const scheduler = new RequestScheduler({ concurrency: o.concurrency, rpm: limits.rpm, tpm: limits.tpm, retries: o.retries, log });
  return { client, scheduler, model, maxTokens: limits.maxTokens, temperature: 0 };
}

/** The run folder an --index path belongs to (the folder itself, the parent of embed/, or the folder of a part file). */
export function indexRunFolder(index: string): string {
  if (existsSync(index) && statSync(index).isFile()) return basename(dirname(index)) === 'embed' ? dirname(dirname(index)) : dirname(index);
  return basename(index) === 'embed' ? dirname(index) : index;
}

/** image id → file path, from the index run folder's ingest parts (empty when it has none). */
export function indexImagePaths(index: string): Map<string, string> {
  const dir = join(indexRunFolder(index), 'ingest');
  const out = new Map<string, string>();
  for (const part of listDoneParts(dir, images.KIND)) {
    for (const row of images.fromTable(readPart(dir, images.KIND, part))) out.set(row.imageId, row.path);
  }
  return out;
}

export interface CaptionQuery { id: string; reference: string; instruction: string }

/**
 * Captions (and, with `cirevl`, recompositions) of the queries' reference images, from the cache or the
 * endpoints. The reference names are resolved against the index's ingest parts to find the files.
 */
export async function describeForEvaluation(queries: readonly CaptionQuery[], dataset: string, index: string, o: CaptionCliOptions,
  cirevl: boolean, log?: (line: string) => void): Promise<DescribeReport & { promptName: ModifierPromptName }> {
  const promptName = (o.cirevlPrompt ?? defaultModifierPrompt(dataset)) as ModifierPromptName;
  if (!(MODIFIER_PROMPT_NAMES as string[]).includes(promptName)) {
    throw new UserError(`--cirevl-prompt must be one of ${MODIFIER_PROMPT_NAMES.join(', ')}, got '${o.cirevlPrompt}'`);
  }
  const paths = indexImagePaths(index);
  const resolver = new IdResolver(paths.keys());
  const items: DescribeQuery[] = queries.map((q) => {
    const id = resolver.resolve(q.reference);
    return { id: q.id, imagePath: id === undefined ? null : paths.get(id) ?? null, instruction: q.instruction };
  });
  const cache = AnswerCache.open(o.captionCache ?? join(indexRunFolder(index), 'captions-cache.sqlite'));
  const captioner = chatTarget(o.captionEndpoint, '--caption-endpoint', o.captionApiKeyEnv, '--caption-api-key-env', o.captionModel as string,
    { rpm: o.captionRpm, tpm: o.captionTpm, maxTokens: o.captionMaxTokens }, o, log);
  const recomposer = cirevl
    ? chatTarget(o.llmEndpoint ?? o.captionEndpoint, '--llm-endpoint', o.llmApiKeyEnv, '--llm-api-key-env', o.llmModel as string,
      { rpm: o.llmRpm, tpm: o.llmTpm, maxTokens: o.llmMaxTokens }, o, log)
    : undefined;
  try {
    const report = await describeQueries(items, {
      cache,
      captioner: { target: captioner, prompt: CAPTION_PROMPT },
      recomposer: recomposer ? { target: recomposer, prompt: MODIFIER_PROMPTS[promptName] } : undefined,
      workers: o.concurrency,
      log,
    });
    return { ...report, promptName };
  } finally {
    captioner.scheduler.stop();
    recomposer?.scheduler.stop();
    cache.close();
  }
}
