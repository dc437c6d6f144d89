/**
 * `starword embed-text --model DIR`: JSON lines `{"ids": [...]}` or `{"text": s}`, with an optional
 * `"pseudo": [W floats]` that replaces the token embedding at the first `$` (id 259), on stdin →
 * `{"features": [P floats]}` (unnormalised, as HF get_text_features) on stdout, one line per line.
 * A bad line gets `{"error": reason}` and the run goes on.
 */
import type { Command } from 'commander';
import { addSharedOptions, sessionOptionsFrom, sharedOptionsFrom } from '../shared-options.ts';
import { resolve } from 'node:path';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import type { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { type JsonLine, jsonLineBatches, writeJsonLine } from '../jsonl.ts';
import { positiveIntOption } from '../options.ts';

type Prepared = { ids: Int32Array; pseudo: Float32Array | null } | { error: string };

export function prepareTextLine(input: JsonLine, tokenizer: ClipTokenizer, ctx: number, vocab: number, width: number): Prepared {
  if ('error' in input) return { error: input.error };
  const line = input.value;
  let ids: Int32Array;
  if (Array.isArray(line.ids)) {
    if (!line.ids.length || line.ids.length > ctx) return { error: `"ids" must hold 1 to ${ctx} ids` };
    if (!line.ids.every((x) => Number.isInteger(x) && x >= 0 && x < vocab)) return { error: `"ids" must be integers in [0, ${vocab})` };
    ids = Int32Array.from(line.ids as number[]);
  } else if (typeof line.text === 'string') {
    ids = tokenizer.tokenize(line.text, ctx);
  } else {
    return { error: 'expected {"ids": [...]} or {"text": "..."}' };
  }
  let pseudo: Float32Array | null = null;
  if (line.pseudo !== undefined) {
    if (!Array.isArray(line.pseudo) || line.pseudo.length !== width || !line.pseudo.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      return { error: `"pseudo" must be ${width} finite numbers (the model's token width)` };
    }
    pseudo = Float32Array.from(line.pseudo as number[]);
  }
  return { ids, pseudo };
}

export async function embedTextStream(encoder: TextEncoder, tokenizer: ClipTokenizer, cfg: { ctx: number; vocab: number },
  batch: number, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<void> {
  for await (const lines of jsonLineBatches(input, batch)) {
    const prepared = lines.map((l) => prepareTextLine(l, tokenizer, cfg.ctx, cfg.vocab, encoder.width));
    const good = prepared.filter((p): p is { ids: Int32Array; pseudo: Float32Array | null } => !('error' in p));
    const feats = good.length ? await encoder.encodeIds(good.map((p) => p.ids), good.map((p) => p.pseudo)) : [];
    let k = 0;
    for (const p of prepared) await writeJsonLine('error' in p ? { error: p.error } : { features: Array.from(feats[k++]) }, output);
  }
}

export function register(program: Command): void {
  const cmd = program.command('embed-text')
    .description('CLIP text features: JSON lines {"ids": [...]} or {"text": s} (+ optional "pseudo") on stdin → {"features": [...]}')
    .option('--batch-size <n>', 'lines per encoder call at most', positiveIntOption, 64);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir'], requireModel: true });
  cmd.action(async (o: { model: string; batchSize: number }) => {
      const { loadClipModel } = await import('../../clip/weights/clip-model.ts');
      const { createTextEncoder } = await import('../../clip/towers/text-encoder.ts');
      const { ClipTokenizer } = await import('../../clip/text/tokenizer.ts');
      const model = await loadClipModel(resolve(o.model));
      const tokenizer = await ClipTokenizer.forModelDir(model.dir);
      const encoder = await createTextEncoder(model, { ...sessionOptionsFrom(sharedOptionsFrom(o)), tokenizer, batchSize: o.batchSize });
      await embedTextStream(encoder, tokenizer, { ctx: model.config.text.ctx, vocab: model.config.text.vocab }, o.batchSize);
    });
}
