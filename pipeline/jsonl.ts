import { createInterface } from 'node:readline';
import { UserError } from '../util/errors.ts';

/** Parsed JSON objects from a stream of JSON lines (blank lines skipped). A bad line is a UserError naming its line number. */
export async function* readJsonLines(input: NodeJS.ReadableStream = process.stdin): AsyncGenerator<Record<string, unknown>> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (!line.trim()) continue;
    let value: unknown;
    try { value = JSON.parse(line); } catch (err) {
      throw new UserError(`stdin line ${lineNo}: not valid JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UserError(`stdin line ${lineNo}: expected a JSON object`);
    }
    yield value as Record<string, unknown>;
  }
}

/** Writes one JSON line to stdout, waiting when the pipe is full. */
export async function writeJsonLine(value: unknown, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const ok = out.write(`${JSON.stringify(value)}\n`);
  if (!ok) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}

/**
 * JSON-line values (or a parse error per line) in batches of whatever has arrived, at most `max`: a
 * pipe gets full batches, an interactive user gets an answer per line without waiting for more.
 */
export async function* batchedJsonLines(input: NodeJS.ReadableStream, max: number): AsyncGenerator<(Record<string, unknown> | { error: string })[]> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  const queue: string[] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  lines.on('line', (l) => { if (l.trim()) queue.push(l); wake?.(); });
  lines.on('close', () => { ended = true; wake?.(); });
  for (;;) {
    if (!queue.length) {
      if (ended) return;
      await new Promise<void>((resolve) => { wake = resolve; });
      wake = null;
      continue;
    }
    yield queue.splice(0, max).map((line) => {
      try {
        const v: unknown = JSON.parse(line);
        return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : { error: 'expected a JSON object' };
      } catch (err) {
        return { error: `not valid JSON (${(err as Error).message})` };
      }
    });
  }
}
