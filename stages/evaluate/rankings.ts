/**
 * Per-query rankings as JSON lines (`evaluate --rankings FILE`): one line per query and method with the
 * query, its ground truths and the scored top of its ranking, in gallery ids. `starword report --eval`
 * shows them; they are small (top 10 by default), so any benchmark fits.
 */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomicAsync } from '../../util/atomic-write.ts';
import { dirname } from 'node:path';
import type { QueryOutcome } from './types.ts';

export interface RankingLine {
  method: string; dataset: string; split: string; query: string; reference: string; captions: string[];
  gts: string[]; top: { id: string; score: number }[]; index?: string;
}

export class RankingsCollector {
  readonly lines: RankingLine[] = [];
  constructor(private readonly dataset: string, private readonly split: string, private readonly index: string | undefined, private readonly k = 10) {}

  /** The onRanked callback of evaluate() for one method. */
  collect(method: string): (o: QueryOutcome, hits: { id: string; score: number }[], reference: string | undefined) => void {
    return (o, hits, reference) => {
      this.lines.push({
        method, dataset: this.dataset, split: this.split, query: o.query.id,
        reference: reference ?? o.query.reference, captions: o.query.captions,
        gts: o.gts.filter((g): g is string => g !== undefined),
        top: hits.slice(0, this.k).map((h) => ({ id: h.id, score: Number(h.score.toFixed(6)) })),
        ...(this.index ? { index: this.index } : {}),
      });
    };
  }

  async write(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomicAsync(path, this.lines.map((l) => JSON.stringify(l)).join('\n') + (this.lines.length ? '\n' : ''));
  }
}
