/**
 * One output part: a chunk of concepts turned into rows (clean-up, then swap), their target features when
 * a text encoder is given, and the per-concept summary. Pure given its inputs, so the inputs' hash tells
 * whether an existing part can be kept.
 */
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { type PhraseRow, toTable } from '../../schemas/phrases.ts';
import type { Table } from 'apache-arrow';
import { sha256 } from '../../util/hash.ts';
import { cleanPhrases } from './cleanup.ts';
import { type ConceptSummary, failedSummary } from './concept-summary.ts';
import { type SwapMode, swapConceptPhrases } from './swap.ts';
import { computeTargets } from './targets.ts';

/** Bump when clean-up or swap rules change, so that existing parts are rebuilt. */
export const RULES_VERSION = 1;

export type RawConcept = { concept: string; phrases: string[] } | { concept: string; failed: string };

export interface PartContext {
  backend: string;
  model: string;
  paramsHash: string;
  swap: SwapMode;
  countTokens: (text: string) => number;
}

export interface BuiltRows {
  rows: PhraseRow[];
  summary: Record<string, ConceptSummary>;
}

export function buildRows(raw: readonly RawConcept[], ctx: PartContext): BuiltRows {
  const rows: PhraseRow[] = [];
  const summary: Record<string, ConceptSummary> = {};
  for (const item of raw) {
    if ('failed' in item) { summary[item.concept] = failedSummary(item.failed); continue; }
    const clean = cleanPhrases(item.phrases, ctx.countTokens);
    const swap = swapConceptPhrases(item.concept, clean.phrases, ctx.swap);
    summary[item.concept] = {
      status: swap.conceptDropped ? 'dropped' : 'ok',
      raw: item.phrases.length,
      kept: swap.kept.length,
      droppedWithoutConcept: swap.droppedWithoutConcept,
      droppedEmpty: clean.dropped.empty,
      droppedDuplicate: clean.dropped.duplicate,
      droppedTooLong: clean.dropped.tooLong,
      ...(swap.conceptDropped ? { reason: 'searle rule: a phrase lacks the concept' } : {}),
    };
    for (const { phrase, swapped } of swap.kept) {
      rows.push({ concept: item.concept, phrase, swapped, backend: ctx.backend, model: ctx.model, paramsHash: ctx.paramsHash });
    }
  }
  return { rows, summary };
}

/** A hash of everything a part depends on. */
export function partInputsHash(raw: readonly RawConcept[], ctx: PartContext, targetsId: string | null): string {
  return sha256(JSON.stringify({
    rules: RULES_VERSION, swap: ctx.swap, backend: ctx.backend, model: ctx.model, params: ctx.paramsHash, targetsId,
    raw: raw.map((r) => ('failed' in r ? [r.concept, null] : [r.concept, sha256(JSON.stringify(r.phrases))])),
  })).slice(0, 32);
}

export async function buildTable(rows: readonly PhraseRow[], encoder: TextEncoder | undefined, featureBatch: number,
  onBatch?: (done: number) => void): Promise<Table> {
  if (!encoder) return toTable(rows);
  const targets = await computeTargets(encoder, rows.map((r) => r.phrase), featureBatch, onBatch);
  return toTable(rows, { dim: encoder.dim, rows: targets });
}
