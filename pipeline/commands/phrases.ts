/**
 * `starword phrases --concepts FILE|DIR --out DIR [--backend completions|chat|templates|import] ...`:
 * phrases for every needed concept (LLM through a durable cache, or offline), cleaned, with the concept
 * swapped for " $ ", and with CLIP target features when --model is given. Progress and notices go to
 * stderr; the LAST stdout line is `requests: N, cached: M, failed: F`.
 * The API key is read from an environment variable only (never an option: argv is visible to `ps`).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadConcepts } from '../../stages/phrases/concept-source.ts';
import { BACKEND_IDS, type BackendId } from '../../stages/phrases/types.ts';
import { DEFAULT_SAMPLING } from '../../stages/phrases/sampling.ts';
import { DEFAULT_REQUESTS } from '../../stages/phrases/create-backend.ts';
import { type RunPhrasesOptions, runPhrases } from '../../stages/phrases/run-phrases.ts';
import { SWAP_MODES, type SwapMode } from '../../stages/phrases/swap.ts';
import { scrub } from '../../stages/phrases/secrets.ts';
import type { ChatFormat } from '../../stages/phrases/chat-backend.ts';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import { UserError } from '../../util/errors.ts';

interface Options {
  concepts: string; out: string; backend?: string; topK: string;
  baseUrl?: string; llmModel?: string; apiKeyEnv?: string;
  n: string; batchN: string; maxTokens: string; temperature: string; seed?: string;
  concurrency: string; rpm?: string; tpm?: string; timeoutMs: string; retries: string;
  cache?: string; import?: string; swap: string; chatFormat: string;
  model?: string; threads?: string; device: string; cacheDir?: string; featureBatch: string; conceptsPerPart: string;
}

function int(value: string | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < min) {
    throw new UserError(`${flag} must be an integer ≥ ${min}, got '${value}'`);
  }
  return Number(value);
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UserError(`${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

export function register(program: Command): void {
  program
    .command('phrases')
    .description("phrases per concept (SEARLE's LLM captions, cached; or offline templates / an imported file), concept swapped for ' $ '")
    .requiredOption('--concepts <path>', 'a file of concept names (one per line) or a folder of concepts parts')
    .requiredOption('--out <dir>', 'folder for the phrases parts, the summary and (by default) the cache')
    .option('--backend <name>', `${BACKEND_IDS.join(' | ')} (default: completions if an LLM model is set, else templates)`)
    .option('--top-k <n>', 'with a concepts-parts folder: concepts taken per image', '15')
    .option('--base-url <url>', 'OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL, else OpenAI)')
    .option('--llm-model <name>', 'LLM name as the server knows it (default: $STARWORD_LLM_MODEL)')
    .option('--api-key-env <var>', 'environment variable holding the API key', 'OPENAI_API_KEY')
    .option('--n <n>', 'phrases (samples) per concept', String(DEFAULT_SAMPLING.n))
    .option('--batch-n <n>', 'samples per request (servers cap n; 1 for servers that ignore n)', String(DEFAULT_SAMPLING.batchN))
    .option('--max-tokens <n>', 'new tokens per sample (SEARLE: max_length 35 with the prompt)', String(DEFAULT_SAMPLING.maxTokens))
    .option('--temperature <t>', 'sampling temperature', String(DEFAULT_SAMPLING.temperature))
    .option('--seed <n>', 'seed for templates, and sent to the LLM (seed + batch index) when given')
    .option('--concurrency <n>', 'requests in flight', String(DEFAULT_REQUESTS.concurrency))
    .option('--rpm <n>', 'requests per minute limit')
    .option('--tpm <n>', 'tokens per minute limit (estimated before, corrected after each request)')
    .option('--timeout-ms <n>', 'per-request timeout', String(DEFAULT_REQUESTS.timeoutMs))
    .option('--retries <n>', 'retries per request on 429, 5xx, timeouts, connection errors, malformed answers', String(DEFAULT_REQUESTS.retries))
    .option('--cache <file>', 'phrase cache (SQLite); share one file across runs and datasets (default: <out>/phrases-cache.sqlite)')
    .option('--import <file>', 'with --backend import: JSON {concept: [phrases]} or JSONL {"concept","phrases"} lines')
    .option('--swap <mode>', "word (case-insensitive, word boundaries, plurals) | searle (exact replace, drops a concept if any phrase lacks it)", 'word')
    .option('--chat-format <f>', 'with --backend chat: json_schema | json_object', 'json_schema')
    .option('--model <dir>', 'CLIP folder: store each phrase\'s text feature as its target')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)')
    .option('--device <name>', 'cpu | cuda', 'cpu')
    .option('--cache-dir <dir>', 'cache root for ONNX graphs (default: $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .option('--feature-batch <n>', 'phrases per target-feature batch', '256')
    .option('--concepts-per-part <n>', 'concepts per output part', '1000')
    .action(async (opts: Options) => {
      const log = (line: string): void => { process.stderr.write(`${scrub(line)}\n`); };
      const backend = opts.backend === undefined ? undefined : oneOf<BackendId>(opts.backend, BACKEND_IDS, '--backend');
      const swap = oneOf<SwapMode>(opts.swap, SWAP_MODES, '--swap');
      const chatFormat = oneOf<ChatFormat>(opts.chatFormat, ['json_schema', 'json_object'], '--chat-format');
      const device = oneOf(opts.device, ['cpu', 'cuda'] as const, '--device');
      const temperature = Number(opts.temperature);
      if (!Number.isFinite(temperature)) throw new UserError(`--temperature must be a number, got '${opts.temperature}'`);
      const concepts = loadConcepts(resolve(opts.concepts), int(opts.topK, '--top-k')!);
      log(`phrases: ${concepts.length} concepts from ${opts.concepts}`);

      const modelDir = opts.model === undefined ? undefined : resolve(opts.model);
      const countTokens = await tokenCounter(modelDir);
      let textEncoder: TextEncoder | undefined;
      let textEncoderId: string | undefined;
      if (modelDir) {
        // Loaded only when asked for: onnxruntime-node is heavy and most phrase runs are LLM-bound.
        const { loadClipModel } = await import('../../clip/weights.ts');
        const { createTextEncoder } = await import('../../clip/text-encoder.ts');
        const model = await loadClipModel(modelDir);
        textEncoder = await createTextEncoder(model, {
          threads: int(opts.threads, '--threads'), device, cacheDir: opts.cacheDir === undefined ? undefined : resolve(opts.cacheDir),
        });
        textEncoderId = model.hash;
      }

      const run: RunPhrasesOptions = {
        concepts, outDir: resolve(opts.out), backend, swap, chatFormat,
        llm: { baseURL: opts.baseUrl, model: opts.llmModel, apiKeyEnv: opts.apiKeyEnv },
        sampling: {
          n: int(opts.n, '--n'), batchN: int(opts.batchN, '--batch-n'), maxTokens: int(opts.maxTokens, '--max-tokens'), temperature,
        },
        requests: {
          concurrency: int(opts.concurrency, '--concurrency'), rpm: int(opts.rpm, '--rpm'), tpm: int(opts.tpm, '--tpm'),
          timeoutMs: int(opts.timeoutMs, '--timeout-ms'), retries: int(opts.retries, '--retries', 0),
        },
        seed: int(opts.seed, '--seed', 0),
        cachePath: opts.cache === undefined ? undefined : resolve(opts.cache),
        importFile: opts.import === undefined ? undefined : resolve(opts.import),
        countTokens, textEncoder, textEncoderId,
        featureBatch: int(opts.featureBatch, '--feature-batch'),
        conceptsPerPart: int(opts.conceptsPerPart, '--concepts-per-part'),
        log,
      };
      const r = await runPhrases(run);
      process.stdout.write(`phrases: ${r.concepts} concepts, ${r.phrases} phrases in ${r.parts.length} parts `
        + `(${r.generated} generated, ${r.dropped} dropped by the swap rule), backend ${r.backend} ${r.model}, `
        + `tokens: ${r.usage.prompt} prompt + ${r.usage.completion} completion, ${r.retries} retries\n`);
      process.stdout.write(`requests: ${r.requests}, cached: ${r.cached}, failed: ${r.failed}\n`);
    });
}

/** CLIP token count with SOT and EOT, from the model's own tokenizer when there is a model. */
async function tokenCounter(modelDir: string | undefined): Promise<(text: string) => number> {
  const { ClipTokenizer } = await import('../../clip/tokenizer.ts');
  const tokenizer = modelDir ? await ClipTokenizer.forModelDir(modelDir) : ClipTokenizer.default();
  return (text) => tokenizer.encode(text).length + 2;
}
