/**
 * LLM connection settings from options, falling back to the usual environment variables:
 * OPENAI_BASE_URL, OPENAI_API_KEY (or the variable named by apiKeyEnv) and STARWORD_LLM_MODEL.
 * The key is registered as a secret here, the moment it is read, so nothing later can print it.
 */
import { UserError } from '../../util/errors.ts';
import { checkBaseUrl, readApiKey } from '../../util/llm/endpoint.ts';
import { registerSecret } from '../../util/llm/secrets.ts';
import type { BackendId } from './types.ts';

export interface LlmSettings {
  baseURL?: string;
  apiKey?: string;
  model?: string;
}

export interface LlmOptionInput extends LlmSettings {
  /** Name of the environment variable that holds the key (default OPENAI_API_KEY). */
  apiKeyEnv?: string;
}

export function resolveLlmSettings(input: LlmOptionInput = {}, env: NodeJS.ProcessEnv = process.env): LlmSettings {
  const keyVar = input.apiKeyEnv ?? 'OPENAI_API_KEY';
  if (input.apiKeyEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(keyVar)) {
    throw new UserError(`--api-key-env ${JSON.stringify(keyVar)}: not an environment variable name`);
  }
  const apiKey = input.apiKey ?? readApiKey(keyVar, env);
  registerSecret(apiKey);
  const baseURL = checkBaseUrl(input.baseURL ?? (env.OPENAI_BASE_URL || undefined));
  return { baseURL, apiKey: apiKey || undefined, model: input.model ?? (env.STARWORD_LLM_MODEL || undefined) };
}

/** The backend when none is chosen: SEARLE's completions when an LLM model is configured, else offline templates. */
export function defaultBackend(settings: LlmSettings): BackendId {
  return settings.model ? 'completions' : 'templates';
}
