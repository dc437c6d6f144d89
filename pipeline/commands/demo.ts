/**
 * `starword demo` (what `npm start` runs): the whole pipeline on the embedded default, offline — a tiny
 * random CLIP made by make-model, generated sample images (three of them broken on purpose), the offline
 * `templates` phrase backend, a short OTI and a few phi epochs — then what `inspect` says of the run.
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeRandomModel } from '../../clip/make-model.ts';
import { writeSampleImages } from '../demo/sample-images.ts';
import { positiveIntOption } from '../options.ts';
import { formatReport, inspectRun } from './inspect.ts';
import * as run from './run.ts';

export function register(program: Command): void {
  program.command('demo')
    .description('the pipeline end to end on a tiny random model and generated images, offline (npm start)')
    .option('--out <dir>', 'demo folder: model/, images/, cache/ and run/ inside', 'runs/demo')
    .option('--images <n>', 'sample images to generate', positiveIntOption, 48)
    .option('--oti-steps <n>', 'OTI steps per image (SEARLE: 350)', positiveIntOption, 50)
    .action(async (o: { out: string; images: number; otiSteps: number }) => {
      const out = resolve(o.out);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const modelDir = join(out, 'model'), imagesDir = join(out, 'images'), runDir = join(out, 'run');
      if (!existsSync(join(modelDir, 'model.safetensors'))) {
        log(`demo: making a tiny random CLIP (make-model --preset tiny --seed 0) in ${modelDir}`);
        await makeRandomModel({ preset: 'tiny', seed: 0, outDir: modelDir });
      }
      if (!existsSync(imagesDir)) {
        const made = await writeSampleImages(imagesDir, o.images);
        log(`demo: wrote ${made.good} sample images and ${made.broken} broken files to ${imagesDir}`);
      }
      const t0 = performance.now();
      // the same command a user types, so the demo exercises run's real option handling
      const runner = new Command('starword').exitOverride();
      run.register(runner);
      await runner.parseAsync(['run', '--images', imagesDir, '--model', modelDir, '--out', runDir,
        '--cache-dir', join(out, 'cache'), '--backend', 'templates', '--n', '32', '--oti-steps', String(o.otiSteps),
        // 48 images: SEARLE's batch of 256 with drop_last would train nothing
        '--phi', '--phi-epochs', '10', '--phi-batch', '16'], { from: 'user' });
      const seconds = (performance.now() - t0) / 1000;
      process.stdout.write(`\n${formatReport(inspectRun(runDir))}\n`);
      process.stdout.write(`\nThe pipeline ran in ${seconds.toFixed(1)} s. Shards (Arrow IPC stream files) are in ${runDir}:\n`
        + `  embed/features-*.arrow, concepts/concepts-*.arrow, phrases/phrases-*.arrow, oti/tokens-*.arrow, */errors-*.arrow\n`
        + `  phi/phi.onnx and phi/phi.safetensors (SEARLE's layout), phi/metrics.arrow and phi/losses.png\n`
        + `Inspect again with: starword inspect ${runDir}\n`);
    });
}
