/**
 * `starword tokenize [--model DIR]`: JSON lines `{"text": s}` on stdin → `{"text": s, "ids": [77 ints]}`
 * on stdout. A line that is not an object with a string "text" gives `{"error": reason}` and the run goes
 * on, so one bad line never loses the rest of a stream.
 */
import type { Command } from 'commander';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { type JsonLine, jsonLineBatches, writeJsonLine } from '../jsonl.ts';

interface Options { model?: string }

/** The ids of one input line, or why there are none. */
function tokenizeLine(tokenizer: ClipTokenizer, line: JsonLine): Record<string, unknown> {
  if ('error' in line) return { error: line.error };
  const text = line.value.text;
  if (typeof text !== 'string') return { error: `line ${line.lineNo}: "text" must be a string` };
  return { text, ids: Array.from(tokenizer.tokenize(text)) };
}

export function register(program: Command): void {
  program
    .command('tokenize')
    .description('CLIP BPE ids of JSON lines {"text": s} on stdin, 77 per line (SOT … EOT, 0-padded)')
    .option('--model <dir>', "model folder whose vocab.json + merges.txt to use (default: CLIP's vocabulary)")
    .action(async (opts: Options) => {
      const tokenizer = opts.model === undefined ? ClipTokenizer.default() : await ClipTokenizer.forModelDir(opts.model);
      for await (const batch of jsonLineBatches(process.stdin, 256)) {
        for (const line of batch) await writeJsonLine(tokenizeLine(tokenizer, line));
      }
    });
}
