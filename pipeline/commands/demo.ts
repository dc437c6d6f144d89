/**
 * `starword demo` (what `npm start` runs): the whole pipeline on the vendored toy world, offline — its
 * tiny trained CLIP, the CIRCO references plus unlabeled images (two broken files among them on
 * purpose), its 72-name vocabulary, the offline `templates` phrase backend, a short OTI and phi — then
 * the toy CIRCO benchmark against the baselines, and the HTML report of it all.
 */
import { Command } from 'commander';
import type { Device } from '../../clip/runtime/onnx-session.ts';
import { addSharedOptions } from '../shared-options.ts';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { positiveIntOption } from '../options.ts';
import { toyWorld, writeDemoManifest } from '../demo/toy-world.ts';
import { writeReport } from '../report/write-report.ts';
import * as indexGallery from './index-gallery.ts';
import * as lincir from './lincir.ts';
import * as pic2word from './pic2word.ts';
import * as run from './run.ts';
import { runEvaluate } from '../evaluate-run.ts';

/** Runs a starword command as a user types it, so the demo goes through the real option handling. */
async function starword(register: (p: Command) => void, args: string[]): Promise<void> {
  const program = new Command('starword').exitOverride();
  register(program);
  await program.parseAsync(args, { from: 'user' });
}

export function register(program: Command): void {
  const cmd = program.command('demo')
    .description('the pipeline, the toy CIRCO benchmark and the HTML report on the vendored toy world, offline (npm start)')
    .option('--out <dir>', 'demo folder: run/, gallery/, eval/ and report/ inside', 'runs/demo')
    .option('--unlabeled <n>', 'unlabeled toy-world images added to the 100 references (phi trains on all)', positiveIntOption, 100)
    .option('--oti-steps <n>', 'OTI steps per image (SEARLE: 350)', positiveIntOption, 40)
    .option('--phi-epochs <n>', 'phi epochs (SEARLE: 100)', positiveIntOption, 40)
    .option('--pic2word-epochs <n>', 'Pic2Word epochs (authors: 30 on CC3M)', positiveIntOption, 40)
    .option('--lincir-steps <n>', 'LinCIR steps (LinCIR: 50,000)', positiveIntOption, 1000);
  addSharedOptions(cmd, { keys: ['threads', 'device'] });
  cmd.action(async (o: { out: string; unlabeled: number; otiSteps: number; phiEpochs: number; pic2wordEpochs: number; lincirSteps: number; threads?: number; device: Device }) => {
      const out = resolve(o.out);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const runDir = join(out, 'run'), galleryDir = join(out, 'gallery'), cache = join(out, 'cache');
      const threads = [...(o.threads ? ['--threads', String(o.threads)] : []), '--device', o.device];
      const t0 = performance.now();
      const made = await writeDemoManifest(out, o.unlabeled);
      log(`demo: the toy world (${toyWorld.model}): ${made.references} CIRCO references + ${made.unlabeled} unlabeled images + ${made.broken} broken files`);
      // phi's lr and batch are raised from SEARLE's (1e-4, 256) because the demo trains on 200 images, not 100,000
      await starword(run.register, ['run', '--images', made.manifest, '--allow-outside', '--model', toyWorld.model, '--out', runDir,
        '--vocab', toyWorld.vocab, '--top-k', '20', '--phi-top-k', '20', '--cache-dir', cache, '--backend', 'templates', '--n', '32',
        '--oti-steps', String(o.otiSteps), '--phi', '--phi-epochs', String(o.phiEpochs), '--phi-lr', '0.001', '--phi-batch', '64', ...threads]);
      // Pic2Word and LinCIR on the same material: f_M on the run's image features, φ on its phrases (the same
      // lr and batch as phi's; Pic2Word's warmup of 10,000 steps is sized for CC3M, so it is cut to a tenth of its steps)
      log('demo: Pic2Word on the run\'s image features');
      await starword(pic2word.register, ['pic2word', runDir, '--model', toyWorld.model, '--out', join(runDir, 'pic2word'), '--cache-dir', cache,
        '--epochs', String(o.pic2wordEpochs), '--lr', '0.001', '--batch', '64', '--warmup', String(Math.max(1, Math.round(o.pic2wordEpochs / 5))), ...threads]);
      log('demo: LinCIR on the run\'s phrases');
      await starword(lincir.register, ['lincir', runDir, '--model', toyWorld.model, '--out', join(runDir, 'lincir'), '--cache-dir', cache,
        '--steps', String(o.lincirSteps), '--log-every', String(Math.max(1, Math.round(o.lincirSteps / 20))), '--lr', '0.001', '--batch', '64', ...threads]);
      if (!existsSync(join(galleryDir, 'embed'))) log('demo: indexing the 1,024-image toy gallery');
      await starword(indexGallery.register, ['index', '--model', toyWorld.model, '--images', toyWorld.gallery, '--out', galleryDir, '--cache-dir', cache, ...threads]);
      log('demo: toy CIRCO, 100 queries: image, text, sum, searle-oti, searle (phi), pic2word, lincir');
      // the same evaluation as `starword evaluate`, its table and rankings in eval/ for the report
      const evalDir = join(out, 'eval');
      const tableText: string[] = [];
      await runEvaluate({
        dataset: 'circo', annotations: toyWorld.circo, split: 'val', index: galleryDir, model: toyWorld.model, device: o.device,
        cacheDir: cache, threads: o.threads, methods: 'image,text,sum,searle-oti,searle,pic2word,lincir', tokens: runDir, phi: join(runDir, 'phi', 'phi.onnx'),
        pic2word: join(runDir, 'pic2word', 'pic2word.onnx'), lincir: join(runDir, 'lincir', 'lincir.onnx'),
        out: join(evalDir, 'methods.json'), rankings: join(evalDir, 'rankings.jsonl'), blockRows: 8192, quiet: true,
      }, new Writable({ write(chunk, _enc, done) { tableText.push(String(chunk)); done(); } }));
      const report = await writeReport({
        run: runDir, eval: evalDir, out: join(out, 'report'), title: 'starword demo: the toy world',
        notes: [`A demo on the vendored toy world (data/toyworld): a tiny CLIP trained on coloured shapes. To stay about a minute and a half on two cores, OTI ran ${o.otiSteps} steps per image (SEARLE: 350) and phi ${o.phiEpochs} epochs at lr 1e-3, batch 64 (SEARLE: 100 epochs at 1e-4, batch 256, on 100,000 images); Pic2Word ${o.pic2wordEpochs} epochs and LinCIR ${o.lincirSteps} steps (LinCIR: 50,000 at 1e-4, batch 256) at the same lr and batch, on the same images and phrases. The phrases come from the offline templates backend, not a language model.`],
      });
      const seconds = (performance.now() - t0) / 1000;
      process.stdout.write(`\n${tableText.join('')}\nThe demo ran in ${seconds.toFixed(0)} s. The run is in ${runDir} (Arrow parts; starword inspect ${runDir}).\n`
        + `Open the report: ${report.html}\n`);
    });
}
