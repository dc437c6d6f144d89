/**
 * Phrases a user brings (SEARLE's published GPT-Neo phrases, once turned to JSON): a JSON object
 * {concept: [phrases]} or JSON lines {"concept": ..., "phrases": [...]}. JSON lines are streamed and only
 * the concepts the run needs are kept, so a corpus larger than memory's comfort still loads. All of a
 * concept's phrases are used (n does not apply). A concept missing from the file is failed, not fatal.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { sha256File } from '../../util/hash.ts';
import { UserError } from '../../util/errors.ts';
import { ConceptFailedError, type PhraseBackend } from './types.ts';

const jsonFile = z.record(z.string(), z.array(z.string()));
const jsonLine = z.object({ concept: z.string(), phrases: z.array(z.string()) });

/** Reads the file's concept → phrases for `needed` concepts (all when undefined). Lines of one concept accumulate. */
export async function readImportFile(file: string, needed?: ReadonlySet<string>): Promise<Map<string, string[]>> {
  try { statSync(file); } catch { throw new UserError(`--import ${file}: no such file`); }
  const out = new Map<string, string[]>();
  const keep = (concept: string, phrases: string[]): void => {
    if (needed && !needed.has(concept) && !needed.has(concept.toLowerCase())) return;
    out.set(concept, [...(out.get(concept) ?? []), ...phrases]);
  };
  if (!/\.(jsonl|ndjson)$/i.test(file)) {
    // One JSON document, unless it does not parse as one (then it is JSON lines under another name).
    let json: unknown;
    try { json = JSON.parse(readFileSync(file, 'utf8')); } catch { json = undefined; }
    const asLine = jsonLine.safeParse(json);
    if (asLine.success) { keep(asLine.data.concept, asLine.data.phrases); return out; }
    if (json !== undefined) {
      const parsed = jsonFile.safeParse(json);
      if (!parsed.success) throw new UserError(`--import ${file}: expected {"concept": ["phrase", …]}`);
      for (const [c, p] of Object.entries(parsed.data)) keep(c, p);
      return out;
    }
  }
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (!line.trim()) continue;
    let value: unknown;
    try { value = JSON.parse(line); } catch { throw new UserError(`--import ${file} line ${lineNo}: not valid JSON`); }
    const parsed = jsonLine.safeParse(value);
    if (!parsed.success) throw new UserError(`--import ${file} line ${lineNo}: expected {"concept": …, "phrases": […]}`);
    keep(parsed.data.concept, parsed.data.phrases);
  }
  return out;
}

export async function createImportBackend(file: string, needed?: ReadonlySet<string>): Promise<PhraseBackend> {
  const table = await readImportFile(file, needed ? new Set([...needed, ...[...needed].map((c) => c.toLowerCase())]) : undefined);
  const lower = new Map<string, string>();
  for (const c of table.keys()) if (!lower.has(c.toLowerCase())) lower.set(c.toLowerCase(), c);
  return {
    id: 'import',
    model: basename(file),
    params: { file: await sha256File(file) },
    cacheable: false,
    async generate(concept) {
      const phrases = table.get(concept) ?? table.get(lower.get(concept.toLowerCase()) ?? '\u0000');
      if (!phrases) throw new ConceptFailedError('not in the import file');
      return { phrases, usage: { prompt: 0, completion: 0 } };
    },
  };
}
