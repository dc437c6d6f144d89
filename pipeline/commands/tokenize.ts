/**
 * `starword tokenize [--model DIR]`: JSON lines `{"text": s}` on stdin → `{"text": s, "ids": [77 ints]}`
 * on stdout. A line that is not an object with a string "text" gives `{"error": reason}` and the run goes
 * on, so one bad line never loses the rest of a stream.
 */
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { ClipTokenizer } from '../../clip/tokenizer.ts';
import { errorMessage } from '../../util/errors.ts';
import { writeJsonLine } from '../jsonl.ts';

interface Options { model?: string }

/** The ids of one input line, or why there are none. */
function tokenizeLine(tokenizer: ClipTokenizer, line: string, lineNo: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { error: `line ${lineNo}: not valid JSON (${errorMessage(err)})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: `line ${lineNo}: expected a JSON object` };
  }
  const text = (value as Record<string, unknown>).text;
  if (typeof text !== 'string') return { error: `line ${lineNo}: "text" must be a string` };
  return { text, ids: Array.from(tokenizer.tokenize(text)) };
}

export function register(program: Command): void {
  program
    .command('tokenize')
    .description('CLIP BPE ids of JSON lines {"text": s} on stdin, 77 per line (SOT … EOT, 0-padded)')
    .option('--model <dir>', "model folder whose vocab.json + merges.txt to use (default: CLIP's vocabulary)")
    .action(async (opts: Options) => {
      const tokenizer = opts.model === undefined ? ClipTokenizer.default() : await ClipTokenizer.forModelDir(opts.model);
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
      let lineNo = 0;
      for await (const line of lines) {
        lineNo++;
        if (!line.trim()) continue;
        await writeJsonLine(tokenizeLine(tokenizer, line, lineNo));
      }
    });
}
