/**
 * SEARLE's way: a base model continues `a photo of {concept} that`, n samples at temperature 0.5, through
 * any OpenAI-compatible /v1/completions (vLLM, llama.cpp server, Ollama, OpenAI). The stored phrase starts
 * with the prompt, as SEARLE's does.
 */
import type OpenAI from 'openai';
import { generateInBatches } from './batching.ts';
import { MalformedAnswerError } from '../../util/llm/request-errors.ts';
import type { SamplingOptions } from './sampling.ts';
import type { RequestScheduler } from '../../util/llm/scheduler.ts';
import { estimateTokens } from '../../util/llm/token-budget.ts';
import type { PhraseBackend } from './types.ts';

export const SEARLE_PROMPT = 'a photo of {concept} that';

export interface CompletionsBackendOptions {
  client: OpenAI;
  scheduler: RequestScheduler;
  model: string;
  sampling: SamplingOptions;
  promptTemplate?: string;
}

export function fillPrompt(template: string, concept: string): string {
  return template.split('{concept}').join(concept);
}

export function createCompletionsBackend(opts: CompletionsBackendOptions): PhraseBackend {
  const template = opts.promptTemplate ?? SEARLE_PROMPT;
  const { n, maxTokens, temperature, seed, extraBody } = opts.sampling;
  return {
    id: 'completions',
    model: opts.model,
    params: { prompt: template, n, max_tokens: maxTokens, temperature, seed, ...(extraBody ? { extra_body: extraBody } : {}) },
    cacheable: true,
    generate(concept, count) {
      const prompt = fillPrompt(template, concept);
      return generateInBatches(count, opts.sampling.batchN, (k, batchIndex) => opts.scheduler.run(
        `${JSON.stringify(concept)} batch ${batchIndex}`, estimateTokens(prompt) + k * maxTokens,
        async (signal) => {
          const res = await opts.client.completions.create({
            ...extraBody, // sent as is (the SDK passes unknown fields on); starword's own fields below win
            model: opts.model, prompt, n: k, max_tokens: maxTokens, temperature,
            ...(seed !== undefined ? { seed: seed + batchIndex } : {}),
          }, { signal });
          if (!res || !Array.isArray(res.choices)) throw new MalformedAnswerError('no choices in the answer');
          const phrases = res.choices.map((c) => {
            if (typeof c?.text !== 'string') throw new MalformedAnswerError('a choice without text');
            return prompt + c.text;
          });
          const usage = { prompt: res.usage?.prompt_tokens ?? 0, completion: res.usage?.completion_tokens ?? 0 };
          return { value: { phrases, usage }, tokens: res.usage ? usage.prompt + usage.completion : undefined };
        }));
    },
  };
}
