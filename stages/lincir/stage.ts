/**
 * LinCIR's φ, one declaration: its options (LinCIR's defaults, options.ts) and its run: train on the
 * phrase store of a run folder, merged corpus or phrases folder, text only, resumable; export ONNX,
 * safetensors and LinCIR's own checkpoint (run-lincir.ts).
 */
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import type { StageDefinition } from '../stage.ts';
import { lincirOptionsSchema } from './options.ts';
import { type LincirSummary, runLincir } from './run-lincir.ts';

export const lincirStage: StageDefinition<typeof lincirOptionsSchema, LincirSummary, { source?: string }> = {
  name: 'lincir',
  summary: 'train LinCIR\'s φ (its defaults) on the phrases of a run or corpus and/or a caption file, text only; export ONNX + safetensors + LinCIR\'s .pt',
  input: ['phrases'],
  output: ['lincir-metrics'],
  options: lincirOptionsSchema,
  config: (o) => o,
  async run(ctx, o) {
    const { model } = ctx;
    const tokenizer = await ClipTokenizer.forModelDir(model.dir);
    return runLincir({
      source: ctx.inputs.source, outDir: ctx.runDir, src: model, tokenize: (t) => tokenizer.tokenize(t, model.config.text.ctx),
      options: o, session: ctx.session, progress: ctx.progress('lincir'), log: ctx.log,
    });
  },
  counts: (r) => ({ steps: r.steps, phrases: r.phrases, roundsRunNow: r.roundsRunNow }),
};
