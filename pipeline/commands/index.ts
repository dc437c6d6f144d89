/**
 * Every sub-command, with the one-line summary that `starword --help` lists. A command's module (and
 * with it onnxruntime-node, sharp, apache-arrow, SQLite) is imported only when that command runs, so
 * `--help` and light commands start fast. A test checks each summary against the module's own.
 */
import type { Command } from 'commander';
import type { AnyStage } from '../stage-command.ts';

export interface CommandModule { register(program: Command): void }

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandModule>;
}

/**
 * A stage whose command is derived from its declaration (`runFolder` in stages/<stage>/stage.ts) by
 * pipeline/stage-command.ts: no command file; the stage's modules load only when its command runs.
 */
function runFolderStage(load: () => Promise<AnyStage>): () => Promise<CommandModule> {
  return async () => {
    const [{ registerRunFolderStage }, def] = await Promise.all([import('../stage-command.ts'), load()]);
    return { register: (program) => registerRunFolderStage(program, def) };
  };
}

// One line per command; keep alphabetical by file name to avoid merge noise.
export const COMMANDS: CommandEntry[] = [
  { name: 'bench', summary: 'benchmarks (speed is measured here, not in tests)', load: () => import('./bench.ts') },
  { name: 'cache', summary: 'phrase caches (SQLite): merge the caches of separate jobs', load: () => import('./cache.ts') },
  { name: 'concepts', summary: 'zero-shot concepts per image: top-K vocabulary names by cosine with the 24-template text features', load: () => import('./concepts.ts') },
  { name: 'debug', summary: 'inspect single computations', load: () => import('./debug.ts') },
  { name: 'demo', summary: 'the pipeline, the toy CIRCO benchmark and the HTML report on the vendored toy world, offline (npm start)', load: () => import('./demo.ts') },
  { name: 'docs', summary: 'print generated reference pages (docs options > docs/options.md)', load: () => import('./docs.ts') },
  { name: 'embed-images', summary: 'CLIP image features: JSON lines {"pixels": [3][H][W]} or {"path": file} on stdin → {"features": [...]} on stdout', load: () => import('./embed-images.ts') },
  { name: 'embed-text', summary: 'CLIP text features: JSON lines {"ids": [...]} or {"text": s} (+ optional "pseudo") on stdin → {"features": [...]}', load: () => import('./embed-text.ts') },
  { name: 'evaluate', summary: 'CIRR / CIRCO / FashionIQ metrics of every composed-retrieval method over a gallery index, side by side', load: () => import('./evaluate.ts') },
  { name: 'export', summary: "write a run in another tool's layout", load: () => import('./export.ts') },
  { name: 'index', summary: 'gallery image features for retrieve/evaluate: ingest + embed into a run folder', load: () => import('./index-gallery.ts') },
  { name: 'inspect', summary: 'print counts, failures, loss distribution and timings of a run folder', load: () => import('./inspect.ts') },
  { name: 'invert', summary: 'invert images (or their features) with a trained phi or Pic2Word f_M: tokens parts that oti --init-from and retrieval read', load: () => import('./invert.ts') },
  { name: 'lincir', summary: "train LinCIR's φ (its defaults) on the phrases of a run or corpus and/or a caption file, text only; export ONNX + safetensors + LinCIR's .pt", load: () => import('./lincir.ts') },
  { name: 'make-model', summary: 'write a random CLIP checkpoint in Hugging Face layout (config.json + model.safetensors)', load: () => import('./make-model.ts') },
  { name: 'merge', summary: 'check that every shard of a run is complete and consistent, and build its one corpus (a run folder phi, retrieve, evaluate, inspect read)', load: () => import('./merge.ts') },
  { name: 'oti', summary: 'optimisation-based textual inversion of every embedded image (SEARLE defaults), as tokens parts', load: runFolderStage(async () => (await import('../../stages/oti/stage.ts')).otiStage) },
  { name: 'phi', summary: 'train the textual inversion network phi (SEARLE defaults) on the OTI tokens; export ONNX + safetensors', load: runFolderStage(async () => (await import('../../stages/phi/stage.ts')).phiStage) },
  { name: 'phrases', summary: "phrases per concept (SEARLE's LLM captions, cached; or offline templates / an imported file), concept swapped for ' $ '", load: () => import('./phrases.ts') },
  { name: 'pic2word', summary: "train Pic2Word's mapping network f_M (authors' defaults) on a run's image features; export ONNX + safetensors", load: () => import('./pic2word.ts') },
  { name: 'report', summary: 'a static HTML report of a run folder and, with --eval, of its evaluation', load: () => import('./report.ts') },
  { name: 'retrieve', summary: 'rank a gallery index for one reference image + relative caption; JSON lines {id, score, rank}', load: () => import('./retrieve.ts') },
  { name: 'run', summary: 'ingest → embed → concepts → phrases → oti on a folder or CSV manifest of images (resumable)', load: () => import('./run.ts') },
  { name: 'serve', summary: 'a local web page: pick or upload a reference, type a relative caption, see the top-K of the index', load: () => import('./serve.ts') },
  { name: 'submission', summary: "test-split prediction files for the CIRR / CIRCO evaluation servers (SEARLE's generate_test_submission.py)", load: () => import('./submission.ts') },
  { name: 'tokenize', summary: 'CLIP BPE ids of JSON lines {"text": s} on stdin, 77 per line (SOT … EOT, 0-padded)', load: () => import('./tokenize.ts') },
];
