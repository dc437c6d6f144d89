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
