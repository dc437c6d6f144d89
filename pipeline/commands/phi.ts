/** `starword phi --run DIR --model DIR`: train SEARLE's phi on a run folder's OTI tokens (resumable), export it; stages/phi/stage.ts declares it. */
import type { Command } from 'commander';
import { isAbsolute, relative, resolve } from 'node:path';
import { phiStage } from '../../stages/phi/stage.ts';
import { checkTopKAgainstRun, underLock } from '../run-manifest.ts';
import { registerRunFolderStage } from '../stage-command.ts';

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export function register(program: Command): void {
  registerRunFolderStage(program, phiStage, {
    runHelp: 'run folder (embed, concepts, phrases and oti done)',
    inputs: (cmd) => cmd
      .option('--out <dir>', 'output folder (default <run>/phi); holds checkpoints, so a rerun resumes')
      .option('--phrases-dir <dir>', 'folder of phrases parts (default <run>/phrases)'),
    inputsFrom: (raw) => ({ out: raw.out as string | undefined, phrasesDir: raw.phrasesDir as string | undefined }),
    check: (runDir, o) => checkTopKAgainstRun(runDir, o.topK, '--top-k'),
    lambdaGpt: (o) => o.lambdaGpt,
    outputDir: (_, i) => (i.out ? resolve(i.out) : undefined),
    // an --out elsewhere gets its own lock
    extraLocks: (runDir, i) => (i.out && !isInside(resolve(i.out), runDir) ? [underLock(resolve(i.out), 'phi', () => undefined).lock] : []),
    summary: (s) => {
      const last = s.last;
      const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));
      return `phi: ${s.train} train / ${s.val} held-out images, ${s.epochsRunNow} epochs run now`
        + `${s.resumedFrom !== null ? ` (resumed after epoch ${s.resumedFrom})` : ''}, epoch ${last?.epoch ?? 0}: `
        + `held-out L_distil ${f(last?.valDistil)}, L_gpt ${f(last?.valGpt)}, cosine ${f(last?.valCosine)}; `
        + `${s.best ? `best CIRR val epoch ${s.best.epoch} (R@5 ${f(s.best.cirrR5)}, Rsubset@1 ${f(s.best.cirrRs1)}); ` : ''}`
        + `${s.files.onnx}, ${s.files.safetensors}`;
    },
  });
}
