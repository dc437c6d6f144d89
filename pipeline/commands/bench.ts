/** `starword bench oti`: the OTI yardstick (DESIGN.md) on random weights. */
import type { Command } from 'commander';
import { cpus } from 'node:os';
import { benchOti } from '../../stages/oti/bench.ts';
import { benchEmbed } from '../bench/embed.ts';
import { benchText } from '../bench/text.ts';
import { choiceOption, intOption, positiveIntOption } from '../options.ts';
import { addSharedOptions, sharedOptionsFrom } from '../shared-options.ts';
import { benchScale, formatFigures } from '../bench/scale.ts';
import { PRESETS } from '../../clip/weights/make-model.ts';
import { describeDevice, openDevice } from '../../clip/runtime/device.ts';
import { benchMatmul } from '../bench/matmul.ts';

/** Random weights of these dims for bench embed/text when no --model. */
const benchPresetOption = choiceOption('b32', 'l14');

export function register(program: Command): void {
  const bench = program.command('bench').description('benchmarks (speed is measured here, not in tests)');
  bench.command('oti')
    .description('OTI steps on random weights with CLIP text dims; last line: "N image-steps/s"')
    .option('--width <n>', 'text width', intOption, 512)
    .option('--layers <n>', 'text layers', intOption, 12)
    .option('--heads <n>', 'attention heads', intOption, 8)
    .option('--mlp <n>', 'MLP width (default 4×width)', intOption)
    .option('--batch <n>', 'images per step', intOption, 32)
    .option('--phrase-len <n>', 'phrase length in ids, SOT and EOT included', intOption, 25)
    .option('--dollar-pos <n>', 'position of $ in the phrase', intOption, 4)
    .option('--steps <n>', 'timed steps', intOption, 4)
    .option('--warmup <n>', 'untimed steps first', intOption, 1)
    .option('--pad77', 'pad every row to 77 as SEARLE does (to measure the EOT cut)', false)
    .option('--no-prefix-cache', 'recompute the positions before $ every step (to measure the prefix cache; state on the host only)')
    .option('--state <where>', 'where v*, AdamW\'s moments and the EMA live between steps: host | device (default: device on webgpu, else host)', choiceOption('host', 'device'))
    .option('-v, --verbose', 'print every step', false)
    .action(async (o) => {
      console.log(`device: ${describeDevice(await openDevice(o.device, o.cacheDir))}`);
      o.threads ??= cpus().length;
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const r = await benchOti({ width: o.width, layers: o.layers, heads: o.heads, mlp: o.mlp, batch: o.batch, phraseLen: o.phraseLen,
        dollarPos: o.dollarPos, steps: o.steps, warmup: o.warmup, threads: o.threads, device: o.device, cacheDir: o.cacheDir, padTo77: o.pad77, prefixCache: o.prefixCache,
        stateOnDevice: o.state === undefined ? undefined : o.state === 'device' }, o.verbose ? log : () => {});
      const prefix = o.pad77 ? '' : r.stateOnDevice ? ', prefix keys and values computed on the device' : o.prefixCache ? ', prefix cache' : '';
      console.log(`width ${o.width}, layers ${o.layers}, heads ${o.heads}, batch ${o.batch}, ${r.tokensPerStep} positions computed per step, threads ${o.threads}${o.pad77 ? ', padded to 77' : ', cut at EOT'}${prefix}`);
      console.log(`state ${r.stateOnDevice ? 'on the device (AdamW and EMA in the graph)' : 'on the host (AdamW and EMA in JavaScript)'}; ${(r.bytesPerStep / 1024).toFixed(1)} KiB fed and read back per step`);
      console.log(`step median ${r.medianMs.toFixed(0)} ms (steps: ${r.stepMs.map((t) => t.toFixed(0)).join(', ')})`);
      console.log(`${r.gflops.toFixed(1)} GFLOP/s (forward + input-gradient matmuls)`);
      console.log(`${r.imageStepsPerS.toFixed(2)} image-steps/s`);
    });

  bench.command('embed')
    .description('image embedding: decode + preprocess only, forward only, and the embed stage; last line: "N images/s"')
    .option('--images <dir>', 'a folder of images (default: generated 640×480 JPEGs in the cache folder)')
    .option('--count <n>', 'images', intOption, 256)
    .option('--batch <n>', 'images per encoder call', intOption, 32)
    .option('--concurrency <n>', 'images decoded at once (default: all cores)', intOption)
    .option('--rounds <n>', 'rounds (the median is reported)', intOption, 3)
    .option('--unfused', 'also time the vision graph built from primitive ops instead of fused kernels, side by side')
    .option('--preset <name>', 'random weights of these dims when no --model: b32 | l14', benchPresetOption, 'b32')
    .action(async (o) => {
      console.log(`device: ${describeDevice(await openDevice(o.device, o.cacheDir))}`);
      o.threads ??= cpus().length;
      o.concurrency ??= cpus().length;
      const r = await benchEmbed(o, (line) => process.stderr.write(`${line}\n`));
      console.log(`${r.images} images, batch ${o.batch}, threads ${o.threads}, decode concurrency ${o.concurrency}, median of ${o.rounds} rounds`);
      console.log(`decode + preprocess only: ${r.decodePerS.toFixed(1)} images/s`);
      console.log(`forward only: ${r.forwardPerS.toFixed(1)} images/s`);
      if (r.unfusedPerS !== undefined) console.log(`forward only, primitive-op graph: ${r.unfusedPerS.toFixed(1)} images/s (fused/primitive ${r.fusedOverUnfused!.toFixed(2)}×, median of per-round ratios)`);
      console.log(`${r.wholePerS.toFixed(2)} images/s`);
    });
  bench.command('text')
    .description('text tower: vocabulary features (names × 24 templates) and phrase targets; last line: "N prompts/s" (vocabulary)')
    .option('--names <n>', 'Open Images names', intOption, 64)
    .option('--phrases <n>', 'phrases', intOption, 512)
    .option('--batch <n>', 'rows per text-encoder call (default: the encoder\'s)', positiveIntOption)
    .option('--rounds <n>', 'rounds (the median is reported)', intOption, 3)
    .option('--preset <name>', 'random weights of these dims when no --model: b32 | l14', benchPresetOption, 'b32')
    .action(async (o) => {
      o.threads ??= cpus().length;
      console.log(`device: ${describeDevice(await openDevice(o.device, o.cacheDir))}`);
      const r = await benchText(o, (line) => process.stderr.write(`${line}\n`));
      console.log(`${r.vocabPrompts} vocabulary prompts, ${r.phrases} phrases, threads ${o.threads}${o.batch ? `, batch ${o.batch}` : ''}, median of ${o.rounds} rounds`);
      console.log(`phrase targets: ${r.phrasePromptsPerS.toFixed(1)} prompts/s`);
      console.log(`${r.vocabPromptsPerS.toFixed(1)} prompts/s`);
    });
  bench.command('matmul')
    .description('the device\'s fp32 matrix roof through ONNX Runtime: a chain of N×N MatMuls; last line: "N GFLOP/s"')
    .option('--size <n>', 'matrix side N', positiveIntOption, 2048)
    .option('--chain <n>', 'MatMuls per session.run (amortises the upload and read-back)', positiveIntOption, 4)
    .option('--rounds <n>', 'timed runs (the median is reported)', positiveIntOption, 5)
    .action(async (o) => {
      o.threads ??= cpus().length;
      console.log(`device: ${describeDevice(await openDevice(o.device, o.cacheDir))}`);
      const r = await benchMatmul({ size: o.size, chain: o.chain, rounds: o.rounds, threads: o.threads, device: o.device, cacheDir: o.cacheDir },
        (l) => process.stderr.write(`${l}\n`));
      console.log(`${o.chain} × ${o.size}³ fp32 MatMul per run, median of ${o.rounds} runs: ${Math.min(...r.roundMs).toFixed(1)}–${Math.max(...r.roundMs).toFixed(1)} ms`);
      console.log(`${r.gflops.toFixed(1)} GFLOP/s`);
    });
  bench.command('scale')
    .description('SEARLE scale on random weights (a preset\'s dims, B/32 by default, one layer) and a synthetic run: peak RSS, time and disk of oti, phi and lincir')
    .requiredOption('--out <dir>', 'work folder (model, graph cache, run; the synthetic run is reused while its counts are unchanged)')
    .option('--images <n>', 'images', positiveIntOption, 10000)
    .option('--concepts <n>', 'concepts (the first N Open Images names)', positiveIntOption, 20931)
    .option('--phrases-per-concept <n>', 'phrases per concept', positiveIntOption, 256)
    .option('--part-size <n>', 'images per part', positiveIntOption, 1000)
    .option('--oti-top-k <n>', 'concepts per image for OTI', positiveIntOption, 15)
    .option('--phi-top-k <n>', 'concepts per image for phi (and stored per image)', positiveIntOption, 150)
    .option('--oti-steps <n>', 'OTI steps', positiveIntOption, 1)
    .option('--phi-epochs <n>', 'phi epochs', positiveIntOption, 1)
    .option('--lincir-steps <n>', 'LinCIR steps (batch 256)', positiveIntOption, 3)
    .option('--stages <list>', 'measured stages, comma-separated: oti, phi, lincir', 'oti,phi')
    .option('--preset <name>', `random model's architecture (activation, vision tower): ${PRESETS.join(' | ')}`, 'b32')
    .option('--text-width <n>', 'text width = OTI token size (multiple of 64; heads width/64, MLP 4×); bigG: 1280', positiveIntOption, 512)
    .option('--projection <n>', 'projection size = image features and phrase targets; bigG: 1280', positiveIntOption, 512)
    .action(async (o) => {
      o.threads ??= cpus().length;
      const opts = { device: o.device, out: o.out, preset: o.preset, textWidth: o.textWidth, projection: o.projection,
        images: o.images, concepts: o.concepts, phrasesPerConcept: o.phrasesPerConcept, partSize: o.partSize,
        otiTopK: o.otiTopK, phiTopK: o.phiTopK, otiSteps: o.otiSteps, phiEpochs: o.phiEpochs, lincirSteps: o.lincirSteps, threads: o.threads,
        stages: String(o.stages).split(',').map((s: string) => s.trim()).filter(Boolean) };
      const figures = await benchScale(opts, (l) => process.stderr.write(`${l}\n`));
      console.log(formatFigures(opts, figures));
    });
  // the shared options, declared once (pipeline/shared-options.ts): --threads defaults to all cores here too
  for (const sub of bench.commands) {
    const keys = sub.name() === 'scale' ? ['threads', 'device'] as const : ['oti', 'matmul'].includes(sub.name()) ? ['threads', 'device', 'cacheDir'] as const
      : ['model', 'threads', 'device', 'cacheDir'] as const;
    addSharedOptions(sub, { keys, help: { model: 'a CLIP folder (default: random weights of ViT-B/32 dims)', cacheDir: 'where generated inputs, the model and graphs live' } });
    // checked as every command checks them (a bad --device is one line naming it), before the benchmark starts
    sub.hook('preAction', (cmd) => { sharedOptionsFrom(cmd.opts()); });
  }
}
