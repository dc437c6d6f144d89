/**
 * A chat model asked for n short phrases that each contain the concept word for word, answering in JSON
 * (json_schema where the server supports it, or json_object) that is validated with zod. A malformed
 * answer is retried like a server error, then the concept is recorded as failed.
 */
import type OpenAI from 'openai';
import { z } from 'zod';
import { generateInBatches } from './batching.ts';
import { MalformedAnswerError } from '../../util/llm/request-errors.ts';
import type { SamplingOptions } from './sampling.ts';
import type { RequestScheduler } from '../../util/llm/scheduler.ts';
import { estimateTokens } from '../../util/llm/token-budget.ts';
import type { PhraseBackend } from './types.ts';

export type ChatFormat = 'json_schema' | 'json_object';

export const CHAT_SYSTEM_PROMPT = 'You write short, varied, concrete captions for photos. You answer with JSON only.';

/** The user message; the last two lines are machine-readable (the test server reads them). */
export function chatUserPrompt(concept: string, count: number): string {
  return [
    `Write ${count} different short phrases (at most 20 words each) describing a photo of ${concept}.`,
    'Every phrase must contain the concept exactly as written, word for word, and start with "a photo of".',
    'Answer as JSON: {"phrases": ["...", "..."]}.',
    `Concept: ${JSON.stringify(concept)}`,
    `Count: ${count}`,
  ].join('\n');
}

const answerSchema = z.object({ phrases: z.array(z.string()) });

const JSON_SCHEMA_FORMAT = {
  type: 'json_schema' as const,
  json_schema: {
    name: 'phrases',
    strict: true,
    schema: {
      type: 'object',
      properties: { phrases: { type: 'array', items: { type: 'string' } } },
      required: ['phrases'],
      additionalProperties: false,
    },
  },
};

/** Parses and validates the model's content; tolerates a ```json fence around it. */
export function parseChatAnswer(content: string | null | undefined): string[] {
  if (typeof content !== 'string') throw new MalformedAnswerError('no message content');
  const text = content.trim().replace(/^```(?:json)?\s*/i, '').replace(/\s*```$/, '');
  let json: unknown;
  try { json = JSON.parse(text); } catch { throw new MalformedAnswerError('the content is not JSON'); }
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) throw new MalformedAnswerError('the JSON is not {"phrases": [string, …]}');
  return parsed.data.phrases;
}

export interface ChatBackendOptions {
  client: OpenAI;
  scheduler: RequestScheduler;
  model: string;
  sampling: SamplingOptions;
  format?: ChatFormat;
}

export function createChatBackend(opts: ChatBackendOptions): PhraseBackend {
  const format = opts.format ?? 'json_schema';
  const { n, maxTokens, temperature, seed, extraBody } = opts.sampling;
  return {
    id: 'chat',
    model: opts.model,
    params: { system: CHAT_SYSTEM_PROMPT, user: chatUserPrompt('{concept}', 0), format, n, max_tokens: maxTokens, temperature, seed, ...(extraBody ? { extra_body: extraBody } : {}) },
    cacheable: true,
    generate(concept, count) {
      return generateInBatches(count, opts.sampling.batchN, (k, batchIndex) => {
        const user = chatUserPrompt(concept, k);
        // maxTokens is per phrase; JSON punctuation and quotes need some room on top.
        const budget = k * (maxTokens + 4) + 16;
        return opts.scheduler.run(`${JSON.stringify(concept)} batch ${batchIndex}`, estimateTokens(user) + budget, async (signal) => {
          const res = await opts.client.chat.completions.create({
            ...extraBody, // sent as is (the SDK passes unknown fields on); starword's own fields below win
            model: opts.model,
            messages: [{ role: 'system', content: CHAT_SYSTEM_PROMPT }, { role: 'user', content: user }],
            max_tokens: budget,
            temperature,
            response_format: format === 'json_schema' ? JSON_SCHEMA_FORMAT : { type: 'json_object' },
            ...(seed !== undefined ? { seed: seed + batchIndex } : {}),
          }, { signal });
          if (!res || !Array.isArray(res.choices) || res.choices.length === 0) throw new MalformedAnswerError('no choices in the answer');
          const phrases = parseChatAnswer(res.choices[0]?.message?.content).slice(0, k);
          const usage = { prompt: res.usage?.prompt_tokens ?? 0, completion: res.usage?.completion_tokens ?? 0 };
          return { value: { phrases, usage }, tokens: res.usage ? usage.prompt + usage.completion : undefined };
        });
      });
    },
  };
}
