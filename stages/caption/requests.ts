/**
 * The two paid requests, each one chat completion through the shared scheduler (rate limits, retries
 * with backoff honouring Retry-After, the masked key):
 * - caption: a vision chat model gets CIReVL's captioning prompt and the image as an `image_url` part;
 * - recompose: a chat model gets CIReVL's modifier prompt + "Image Content: {caption}" + "Instruction:
 *   {relative caption}" as one user message, temperature 0, max_tokens 700, stop at a blank line
 *   (src/openai_api.py), and answers with an "Edited Description:" line.
 * An empty answer is malformed (retried like a server error, then the item fails).
 */
import type OpenAI from 'openai';
import { estimateTokens } from '../../util/llm/token-budget.ts';
import { MalformedAnswerError } from '../../util/llm/request-errors.ts';
import type { RequestScheduler } from '../../util/llm/scheduler.ts';
import { recompositionPrompt } from './cirevl-prompts.ts';

export interface ChatAnswer { text: string; usage: { prompt: number; completion: number } }

export interface ChatTarget {
  client: OpenAI;
  scheduler: RequestScheduler;
  model: string;
  maxTokens: number;
  temperature: number;
}

/** Vision-model tokens of an image are server-specific; this is a reservation for the TPM budget only. */
const IMAGE_TOKEN_ESTIMATE = 800;

function contentOf(res: OpenAI.Chat.Completions.ChatCompletion | undefined): ChatAnswer {
  if (!res || !Array.isArray(res.choices) || res.choices.length === 0) throw new MalformedAnswerError('no choices in the answer');
  const content = res.choices[0]?.message?.content;
  if (typeof content !== 'string' || content.trim() === '') throw new MalformedAnswerError('empty answer');
  return { text: content.trim(), usage: { prompt: res.usage?.prompt_tokens ?? 0, completion: res.usage?.completion_tokens ?? 0 } };
}

export function requestCaption(t: ChatTarget, label: string, prompt: string, imageUrl: string): Promise<ChatAnswer> {
  return t.scheduler.run(label, estimateTokens(prompt) + IMAGE_TOKEN_ESTIMATE + t.maxTokens, async (signal) => {
    const res = await t.client.chat.completions.create({
      model: t.model,
      messages: [{ role: 'user', content: [
        { type: 'text', text: prompt },
        { type: 'image_url', image_url: { url: imageUrl } },
      ] }],
      max_tokens: t.maxTokens,
      temperature: t.temperature,
    }, { signal });
    const answer = contentOf(res);
    return { value: answer, tokens: res.usage ? answer.usage.prompt + answer.usage.completion : undefined };
  });
}

export function requestRecomposition(t: ChatTarget, label: string, basePrompt: string, caption: string, instruction: string): Promise<ChatAnswer> {
  const prompt = recompositionPrompt(basePrompt, caption, instruction);
  return t.scheduler.run(label, estimateTokens(prompt) + t.maxTokens, async (signal) => {
    const res = await t.client.chat.completions.create({
      model: t.model,
      messages: [{ role: 'user', content: prompt }],
      max_tokens: t.maxTokens,
      temperature: t.temperature,
      stop: ['\n\n', '<|endoftext|>'],
    }, { signal });
    const answer = contentOf(res);
    return { value: answer, tokens: res.usage ? answer.usage.prompt + answer.usage.completion : undefined };
  });
}

/**
 * The target description in an answer, as CIReVL reads it: the first line that starts with
 * "Edited Description:", the text after its colon, trimmed; null when there is none or it is empty (CIReVL
 * then retrieves with the relative caption alone). CIReVL keeps only the text up to a second colon
 * (`split(':')[1]`); starword keeps the whole rest of the line.
 */
export function parseEditedDescription(answer: string): string | null {
  for (const line of answer.split('\n')) {
    const s = line.trim();
    if (s.startsWith('Edited Description:')) {
      const d = s.slice('Edited Description:'.length).trim();
      return d === '' ? null : d;
    }
  }
  return null;
}
