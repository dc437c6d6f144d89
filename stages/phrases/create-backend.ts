/** Builds the chosen backend with its client and scheduler. */
import { UserError } from '../../util/errors.ts';
import type { BackoffOptions } from '../../util/llm/backoff.ts';
import { type ChatFormat, createChatBackend } from './chat-backend.ts';
import { createCompletionsBackend } from './completions-backend.ts';
import { createImportBackend } from './import-backend.ts';
import type { LlmSettings } from './llm-settings.ts';
import { createOpenAiClient } from '../../util/llm/openai-client.ts';
import type { SamplingOptions } from './sampling.ts';
import { RequestScheduler, type SchedulerStats } from '../../util/llm/scheduler.ts';
import { createTemplatesBackend } from './templates-backend.ts';
import type { BackendId, PhraseBackend } from './types.ts';

export interface RequestOptions {
  concurrency: number;
  rpm?: number;
  tpm?: number;
  timeoutMs: number;
  retries: number;
  backoff?: Partial<BackoffOptions>;
}

export const DEFAULT_REQUESTS: RequestOptions = { concurrency: 16, timeoutMs: 120_000, retries: 6 };

export interface BackendSpec {
  backend: BackendId;
  llm: LlmSettings;
  requests: RequestOptions;
  sampling: SamplingOptions;
  chatFormat?: ChatFormat;
  promptTemplate?: string;
  importFile?: string;
  seed?: number;
  log?: (line: string) => void;
  /** Each retried request by cause, for the progress reporter's summary (then no line per retry). */
  onRetry?: (cause: string) => void;
}

export interface BuiltBackend {
  backend: PhraseBackend;
  /** HTTP requests made so far (0 for offline backends). */
  requestCount(): number;
  stats(): SchedulerStats | null;
  stop(): void;
}

export async function createBackend(spec: BackendSpec, needed: readonly string[]): Promise<BuiltBackend> {
  const offline = (backend: PhraseBackend): BuiltBackend => ({ backend, requestCount: () => 0, stats: () => null, stop: () => {} });
  switch (spec.backend) {
    case 'templates':
      return offline(createTemplatesBackend(spec.seed ?? 0));
    case 'import':
      if (!spec.importFile) throw new UserError('--backend import needs --import FILE');
      return offline(await createImportBackend(spec.importFile, new Set(needed)));
    case 'completions':
    case 'chat': {
      const model = spec.llm.model;
      if (!model) throw new UserError(`--backend ${spec.backend} needs --llm-model NAME (or STARWORD_LLM_MODEL)`);
      const { client, requestCount } = createOpenAiClient({ baseURL: spec.llm.baseURL, apiKey: spec.llm.apiKey, timeoutMs: spec.requests.timeoutMs });
      const scheduler = new RequestScheduler({ ...spec.requests, log: spec.log, onRetry: spec.onRetry });
      const sampling = { ...spec.sampling, seed: spec.sampling.seed ?? spec.seed };
      const backend = spec.backend === 'completions'
        ? createCompletionsBackend({ client, scheduler, model, sampling, promptTemplate: spec.promptTemplate })
        : createChatBackend({ client, scheduler, model, sampling, format: spec.chatFormat });
      return { backend, requestCount, stats: () => scheduler.stats, stop: () => scheduler.stop() };
    }
    default:
      throw new UserError(`unknown backend ${JSON.stringify(spec.backend)}`);
  }
}
