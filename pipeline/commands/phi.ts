/** `starword phi --run DIR --model DIR`: train SEARLE's phi on a run folder's OTI tokens (resumable), export it. */
import type { Command } from 'commander';
import { isAbsolute, relative, resolve } from 'node:path';
import { loadModel } from '../model-loading.ts';
import { positiveIntOption } from '../options.ts';
import { guardStageRun, underLock } from '../run-manifest.ts';
import { type PhiCliOptions, addPhiOptions, phiOptionsFrom, runPhiStage } from '../stage-runners/phi.ts';

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export function register(program: Command): void {
  const cmd = program.command('phi')
    .description('train the textual inversion network phi (SEARLE defaults) on the OTI tokens; export ONNX + safetensors')
    .requiredOption('--run <dir>', 'run folder (embed, concepts, phrases and oti done)')
    .requiredOption('--model <dir>', 'Hugging Face CLIP folder (the one the run was made with)')
    .option('--out <dir>', 'output folder (default <run>/phi); holds checkpoints, so a rerun resumes')
    .option('--phrases-dir <dir>', 'folder of phrases parts (default <run>/phrases)')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', positiveIntOption)
    .option('--cache-dir <dir>', 'graph cache (default $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .option('--force', 'accept options or a model other than the run recorded')
    .option('--log-json', 'progress as JSON lines on stderr', false);
  addPhiOptions(cmd).action(async (o: PhiCliOptions & { run: string; model: string; force?: boolean }) => {
    const options = phiOptionsFrom(o);
    const model = await loadModel(resolve(o.model));
    // the same guard as `run`; an --out elsewhere gets its own lock
    const lock = guardStageRun(resolve(o.run), 'phi', options, model.hash, !!o.force);
    const outLock = o.out && !isInside(resolve(o.out), resolve(o.run)) ? underLock(resolve(o.out), 'phi', () => undefined).lock : null;
    const s = await runPhiStage(resolve(o.run), model, o, (l) => process.stderr.write(`${l}\n`));
    outLock?.release();
    lock.release();
    const last = s.last;
    const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));
    console.log(`phi: ${s.train} train / ${s.val} held-out images, ${s.epochsRunNow} epochs run now`
      + `${s.resumedFrom !== null ? ` (resumed after epoch ${s.resumedFrom})` : ''}, epoch ${last?.epoch ?? 0}: `
      + `held-out L_distil ${f(last?.valDistil)}, L_gpt ${f(last?.valGpt)}, cosine ${f(last?.valCosine)}; `
      + `${s.files.onnx}, ${s.files.safetensors}`);
  });
}
