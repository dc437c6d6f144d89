/**
 * The phrases stage, end to end: generate what the cache lacks (paid, committed per concept), then build
 * the output parts from the cache (clean-up, swap, targets) and write the run summary. The programmatic
 * API the pipeline calls; `starword phrases` is a thin layer over it.
 */
import { existsSync, readdirSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { KIND as PHRASES_KIND } from '../../schemas/phrases.ts';
import { partSource, removeStorePart, storeDataFromTable, writeStorePart } from '../../schemas/phrase-store.ts';
import { isPartCurrent, partPaths, readPartStats, writeFileAtomic, writePart } from '../../schemas/part-io.ts';
import { UserError, errorMessage } from '../../util/errors.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { type BuiltRows, type PartContext, type RawConcept, buildRows, buildTable, partInputsHash } from './build-part.ts';
import { LlmAnswerCache, configKey } from '../../util/llm/answer-cache.ts';
import type { ChatFormat } from './chat-backend.ts';
import type { ConceptSummary } from './concept-summary.ts';
import { type BuiltBackend, DEFAULT_REQUESTS, type RequestOptions, createBackend } from './create-backend.ts';
import { generateMissing } from './generate.ts';
import { type LlmOptionInput, defaultBackend, resolveLlmSettings } from './llm-settings.ts';
import { DEFAULT_SAMPLING, type SamplingOptions } from './sampling.ts';
import { scrub } from '../../util/llm/secrets.ts';
import { type SwapMode, defaultSwapFor } from './swap.ts';
import { DEFAULT_FEATURE_BATCH } from './targets.ts';
import { type BackendId, ConceptFailedError, RunFatalError, type TokenUsage } from './types.ts';

export const CACHE_FILE = 'phrases-cache.sqlite';
export const SUMMARY_FILE = 'phrases-summary.json';
export const DEFAULT_CONCEPTS_PER_PART = 1000;
/** Concept failures printed one line each; past that, counted only (the progress line and SUMMARY_FILE have them all). */
const FAILURE_LINES = 10;

export interface RunPhrasesOptions {
  /** The needed concepts, in order (see concept-source.ts to read them). */
  concepts: readonly string[];
  outDir: string;
  /** Default: 'completions' when an LLM model is configured (option or STARWORD_LLM_MODEL), else 'templates'. */
  backend?: BackendId;
  llm?: LlmOptionInput;
  requests?: Partial<RequestOptions>;
  sampling?: Partial<SamplingOptions>;
  chatFormat?: ChatFormat;
  importFile?: string;
  seed?: number;
  /** Default <outDir>/phrases-cache.sqlite; point several runs or datasets at one file to share paid phrases. */
  cachePath?: string;
  swap?: SwapMode;
  /** CLIP token count of a text, SOT and EOT included. */
  countTokens: (text: string) => number;
  /** When given, each kept phrase's CLIP text feature is stored as its target. */
  textEncoder?: TextEncoder;
  /**
   * The model hash of the encoder's weights: parts built with other weights are rebuilt, and the part's
   * marker records it (provenance.modelHash) so that OTI and phi refuse targets of another model.
   */
  textEncoderId?: string;
  featureBatch?: number;
  conceptsPerPart?: number;
  /** Concepts generated at once (default 2 × concurrency). */
  conceptWorkers?: number;
  /** Progress and notices, one line each (already scrubbed). */
  log?: (line: string) => void;
  /** Progress over concepts, with outcomes and retries summarised (pipeline/progress.ts; none when absent). */
  progress?: ProgressSink;
  env?: NodeJS.ProcessEnv;
  /**
   * Go on when no concept got a phrase (every request failed, an empty import file, all dropped by the
   * swap rule): the result says so and the summary records every failed concept. Without it, that ends
   * the stage with a UserError, since OTI's and phi's L_gpt would silently have nothing.
   */
  allowEmpty?: boolean;
}

/** The flag that sets `allowEmpty`, named in the refusal. */
export const ALLOW_EMPTY_FLAG = '--allow-empty-phrases';

export interface PhrasesResult {
  /** HTTP requests actually made this run (retries included). */
  requests: number;
  /** Concepts served from the cache. */
  cached: number;
  /** Concepts generated (and committed) this run. */
  generated: number;
  /** Concepts with no phrases: generation failed, or missing from an import file. */
  failed: number;
  /** Concepts dropped whole by the 'searle' swap rule. */
  dropped: number;
  concepts: number;
  phrases: number;
  usage: TokenUsage;
  retries: number;
  faults: Record<string, number>;
  /** Requests never sent because the server refused every connection (the circuit breaker opened). */
  shortCircuited: number;
  /** Set when the server was found down: it refused this many connections in a row. */
  serverDownAfter: number | null;
  backend: BackendId;
  model: string;
  paramsHash: string;
  cachePath: string | null;
  parts: number[];
  /** Parts kept from an earlier run because their inputs had not changed. */
  partsReused: number;
  perConcept: Record<string, ConceptSummary>;
}

export async function runPhrases(options: RunPhrasesOptions): Promise<PhrasesResult> {
  // Blank names cannot be swapped and a repeated name would be written twice: both go here.
  const opts = { ...options, concepts: [...new Set(options.concepts.map((c) => c.trim()).filter(Boolean))] };
  const log = opts.log ?? (() => {});
  const llm = resolveLlmSettings(opts.llm, opts.env);
  const backendId = opts.backend ?? defaultBackend(llm);
  const requests: RequestOptions = { ...DEFAULT_REQUESTS, ...opts.requests };
  const sampling: SamplingOptions = { ...DEFAULT_SAMPLING, ...opts.sampling };
  validate(opts, requests, sampling);
  const swap = opts.swap ?? defaultSwapFor(backendId);
  const built = await createBackend({
    backend: backendId, llm, requests, sampling, chatFormat: opts.chatFormat, importFile: opts.importFile,
    seed: opts.seed, log: (line) => log(scrub(line)),
    // with a progress reporter, retries are summarised by it; without, the scheduler's throttled lines tell them
    onRetry: opts.progress?.retry ? (cause) => opts.progress!.retry!(cause) : undefined,
  }, opts.concepts);
  const { backend } = built;
  const paramsHash = configKey({ backend: backend.id, model: backend.model, params: backend.params });
  const cachePath = backend.cacheable ? resolve(opts.cachePath ?? join(opts.outDir, CACHE_FILE)) : null;
  const cache = cachePath ? LlmAnswerCache.open(cachePath) : null;
  try {
    let cached = 0, generated = 0;
    const usage: TokenUsage = { prompt: 0, completion: 0 };
    if (cache) {
      const key = cache.register({ backend: backend.id, model: backend.model, params: backend.params });
      const progress = opts.progress;
      progress?.start(opts.concepts.length);
      let failuresShown = 0;
      const report = await generateMissing({
        concepts: opts.concepts, backend, cache, cacheKey: key, n: sampling.n,
        workers: opts.conceptWorkers ?? Math.max(2, 2 * requests.concurrency),
        onConcept: (e) => {
          // the first few failures each get a line; the rest are counted by the progress line and listed in the summary
          if (e.status === 'failed' && ++failuresShown <= FAILURE_LINES) {
            log(`phrases: ${JSON.stringify(e.concept)} failed: ${e.reason}${failuresShown === FAILURE_LINES ? ` (further failures: see the progress line and ${SUMMARY_FILE})` : ''}`);
          }
          progress?.increment(1, e.status);
        },
      }).catch((err: unknown) => {
        progress?.stop();
        built.stop();
        if (err instanceof RunFatalError) throw new UserError(`phrases: ${scrub(errorMessage(err))}`);
        throw err;
      });
      progress?.stop();
      const down = built.stats()?.shortCircuited;
      if (down) log(`phrases: ${down} requests not sent (server down)`);
      cached = report.cached;
      generated = report.generated;
      usage.prompt += report.usage.prompt;
      usage.completion += report.usage.completion;
    }

    const ctx: PartContext = { backend: backend.id, model: backend.model, paramsHash, swap, countTokens: opts.countTokens };
    const perPart = opts.conceptsPerPart ?? DEFAULT_CONCEPTS_PER_PART;
    const perConcept: Record<string, ConceptSummary> = {};
    const parts: number[] = [];
    let phrases = 0, partsReused = 0;
    for (let start = 0, index = 0; start < opts.concepts.length; start += perPart, index++) {
      const chunk = opts.concepts.slice(start, start + perPart);
      const raw: RawConcept[] = [];
      for (const concept of chunk) raw.push(await rawConcept(concept, built, cache, paramsHash, sampling.n));
      const inputsHash = partInputsHash(raw, ctx, opts.textEncoder ? (opts.textEncoderId ?? 'unnamed-encoder') : null);
      let part: BuiltRows;
      // kept only when sound on disk and made from the same answers, swap rule and target encoder
      if (isPartCurrent(opts.outDir, PHRASES_KIND, index, {}, (l) => log(`phrases: ${l}`))
        && readPartStats(opts.outDir, PHRASES_KIND, index).inputsHash === inputsHash) {
        const stats = readPartStats(opts.outDir, PHRASES_KIND, index);
        part = { rows: [], summary: stats.concepts as Record<string, ConceptSummary> };
        phrases += stats.rows;
        partsReused++;
        log(`phrases: part ${index} unchanged, kept (${stats.rows} phrases)`);
      } else {
        part = buildRows(raw, ctx);
        // one line per part (below), none per feature batch
        const table = await buildTable(part.rows, opts.textEncoder, opts.featureBatch ?? DEFAULT_FEATURE_BATCH);
        // the model that embedded the targets, where every reader checks it (none without targets)
        const provenance = opts.textEncoder && opts.textEncoderId ? { modelHash: opts.textEncoderId } : undefined;
        await writePart(opts.outDir, PHRASES_KIND, index, table, SCHEMA_VERSION, {
          inputsHash, backend: backend.id, model: backend.model, paramsHash, swap,
          targetDim: opts.textEncoder?.dim ?? null, concepts: part.summary,
        }, provenance);
        // the random-access copy OTI and phi read (parts without targets are indexed when a model first opens them)
        if (opts.textEncoder) writeStorePart(opts.outDir, index, await storeDataFromTable(table, opts.textEncoder.dim, undefined, opts.outDir), partSource(opts.outDir, index));
        phrases += part.rows.length;
        log(`phrases: wrote part ${index} (${chunk.length} concepts, ${part.rows.length} phrases)`);
      }
      Object.assign(perConcept, part.summary);
      parts.push(index);
    }
    removeStaleParts(opts.outDir, parts.length);

    const summaries = Object.values(perConcept);
    const stats = built.stats();
    const result: PhrasesResult = {
      requests: built.requestCount(), cached, generated,
      failed: summaries.filter((s) => s.status === 'failed').length,
      dropped: summaries.filter((s) => s.status === 'dropped').length,
      concepts: opts.concepts.length, phrases, usage,
      retries: stats?.retries ?? 0, faults: { ...(stats?.faults ?? {}) },
      shortCircuited: stats?.shortCircuited ?? 0, serverDownAfter: stats?.breakerOpenedAfter ?? null,
      backend: backend.id, model: backend.model, paramsHash, cachePath, parts, partsReused, perConcept,
    };
    const { perConcept: _omit, ...headline } = result;
    writeFileAtomic(join(opts.outDir, SUMMARY_FILE), `${JSON.stringify({ ...headline, swap, sampling: backend.params, perConcept }, null, 2)}\n`);
    if (phrases === 0) {
      const line = emptyOutputLine(result);
      if (!opts.allowEmpty) throw new UserError(`${line}. Fix the cause and rerun (answered concepts are cached), or pass ${ALLOW_EMPTY_FLAG} to go on without them`);
      log(`warning: ${line}; going on (${ALLOW_EMPTY_FLAG})`);
    }
    return result;
  } finally {
    cache?.close();
  }
}

/** 'phrases: no phrases for any of 31 concepts (31 failed: <most common reason>)'. */
export function emptyOutputLine(r: PhrasesResult): string {
  const reasons = new Map<string, number>();
  for (const s of Object.values(r.perConcept)) {
    if (s.status !== 'failed') continue;
    // '(after 7 attempts)' differs between concepts that failed alike
    const reason = (s.reason ?? 'unknown').replace(/ \(after \d+ attempts\)$/, '');
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const common = [...reasons].sort((a, b) => b[1] - a[1])[0]?.[0];
  const why = [
    r.failed > 0 ? `${r.failed} failed${common ? `: ${common}` : ''}` : '',
    r.dropped > 0 ? `${r.dropped} dropped by the swap rule` : '',
  ].filter(Boolean).join('; ');
  return `phrases: no phrases for any of ${r.concepts} concepts${why ? ` (${why})` : ''}; OTI's and phi's L_gpt need them`;
}

async function rawConcept(concept: string, built: BuiltBackend, cache: LlmAnswerCache | null, key: string, n: number): Promise<RawConcept> {
  if (cache) {
    const hit = cache.get(key, concept);
    if (hit) return { concept, phrases: hit.phrases };
    return { concept, failed: cache.failure(key, concept)?.reason || 'not generated' };
  }
  try {
    return { concept, phrases: (await built.backend.generate(concept, n)).phrases };
  } catch (err) {
    if (err instanceof ConceptFailedError) return { concept, failed: scrub(err.message) };
    throw err;
  }
}

/** Parts left by an earlier run with more concepts would otherwise be read as part of this output. */
function removeStaleParts(dir: string, keep: number): void {
  if (!existsSync(dir)) return;
  const re = new RegExp(`^${PHRASES_KIND}-(\\d{5,})\\.(arrow|stats\\.json)$`);
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (m && Number(m[1]) >= keep) {
      const paths = partPaths(dir, PHRASES_KIND, Number(m[1]));
      for (const p of [paths.stats, paths.arrow]) if (existsSync(p)) unlinkSync(p);
      removeStorePart(dir, Number(m[1]));
    }
  }
}

function validate(opts: RunPhrasesOptions, requests: RequestOptions, sampling: SamplingOptions): void {
  const positiveInt = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new UserError(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('--n', sampling.n);
  positiveInt('--batch-n', sampling.batchN);
  positiveInt('--max-tokens', sampling.maxTokens);
  positiveInt('--concurrency', requests.concurrency);
  positiveInt('--rpm', requests.rpm);
  positiveInt('--tpm', requests.tpm);
  positiveInt('--timeout-ms', requests.timeoutMs);
  positiveInt('--concepts-per-part', opts.conceptsPerPart);
  if (!(Number.isInteger(requests.retries) && requests.retries >= 0)) throw new UserError(`--retries must be an integer ≥ 0, got ${requests.retries}`);
  if (!(sampling.temperature >= 0 && sampling.temperature <= 2)) throw new UserError(`--temperature must be in [0, 2], got ${sampling.temperature}`);
  if (opts.concepts.length === 0) throw new UserError('no concepts to make phrases for');
}
