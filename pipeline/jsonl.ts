/**
 * JSON lines on stdin → stdout, as the streaming commands (tokenize, embed-text, embed-images) use them:
 * every non-blank input line gets exactly one output line, in order; a line that is not a JSON object is
 * answered with an error and the stream goes on.
 */
import { createInterface } from 'node:readline';
import { errorMessage } from '../util/errors.ts';

/** One input line: its object, or why it has none (`line N: …`). */
export type JsonLine = { lineNo: number; value: Record<string, unknown> } | { lineNo: number; error: string };

export function parseJsonLine(text: string, lineNo: number): JsonLine {
  let value: unknown;
  try { value = JSON.parse(text); } catch (err) {
    return { lineNo, error: `line ${lineNo}: not valid JSON (${errorMessage(err)})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { lineNo, error: `line ${lineNo}: expected a JSON object` };
  return { lineNo, value: value as Record<string, unknown> };
}

/**
 * Input lines in batches of whatever has arrived, at most `max`: a pipe gets full batches, an interactive
 * user an answer per line. At most 4 × max lines are held: past that the input is paused (back-pressure
 * for large lines such as pixel arrays).
 */
export async function* jsonLineBatches(input: NodeJS.ReadableStream, max: number): AsyncGenerator<JsonLine[]> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  const queue: JsonLine[] = [];
  let lineNo = 0;
  let ended = false;
  let wake: (() => void) | null = null;
  lines.on('line', (text) => {
    lineNo++;
    if (!text.trim()) return;
    queue.push(parseJsonLine(text, lineNo));
    if (queue.length >= 4 * max) lines.pause();
    wake?.();
  });
  lines.on('close', () => { ended = true; wake?.(); });
  for (;;) {
    if (!queue.length) {
      if (ended) return;
      await new Promise<void>((resolve) => { wake = resolve; });
      wake = null;
      continue;
    }
    // let the rest of the chunk being read join this batch
    await new Promise((resolve) => setImmediate(resolve));
    const batch = queue.splice(0, max);
    if (queue.length < 4 * max) lines.resume();
    yield batch;
  }
}

/** Writes one JSON line to stdout, waiting when the pipe is full. */
export async function writeJsonLine(value: unknown, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const ok = out.write(`${JSON.stringify(value)}\n`);
  if (!ok) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}
