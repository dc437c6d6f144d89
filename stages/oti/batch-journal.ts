/**
 * OTI's per-batch commits: each finished batch of a part is written, atomically and with its stats
 * marker last (schemas/part-io.ts), as a small tokens file in `<oti>/tokens-NNNNN.batches/`; the part is
 * assembled from them when its last batch is done and the folder removed. A killed run reloads the
 * finished batches and goes on with the next, so a SIGKILL loses at most one batch. Batches are keyed by
 * what shapes their rows (options, model, warm start) and by their image ids: a journal made otherwise is
 * discarded, never mixed in.
 */
import { existsSync, rmSync } from 'node:fs';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { listDoneParts, partName, readPart, readPartStats, writePart } from '../../schemas/part-io.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { join } from 'node:path';
import { sha256 } from '../../util/hash.ts';

export interface JournalBatch { rows: tokensSchema.TokenRow[]; computeS: number }

export class BatchJournal {
  readonly dir: string;

  /** `key` names what shaped the rows; a batch written under another key is not reused. */
  constructor(otiDir: string, part: number, private readonly key: string, private readonly width: number,
    private readonly metadata: Record<string, string>) {
    this.dir = join(otiDir, `${partName(tokensSchema.KIND, part)}.batches`);
  }

  /**
   * The finished batches by number, given each batch's image ids. When any batch on disk was made under
   * another key or for other images, the whole journal is dropped and the part starts over.
   */
  finished(idsOf: (batch: number) => string[]): Map<number, JournalBatch> {
    const out = new Map<number, JournalBatch>();
    for (const b of listDoneParts(this.dir, tokensSchema.KIND)) {
      const stats = readPartStats(this.dir, tokensSchema.KIND, b);
      const rows = stats.key === this.key && stats.ids === idsHash(idsOf(b))
        ? tokensSchema.fromTable(readPart(this.dir, tokensSchema.KIND, b)).rows : null;
      if (!rows || rows.length !== idsOf(b).length) {
        this.remove();
        return new Map();
      }
      out.set(b, { rows, computeS: Number(stats.compute_s) || 0 });
    }
    return out;
  }

  async write(batch: number, rows: tokensSchema.TokenRow[], computeS: number): Promise<void> {
    await writePart(this.dir, tokensSchema.KIND, batch, tokensSchema.toTable(rows, this.width, this.metadata), SCHEMA_VERSION, {
      key: this.key, ids: idsHash(rows.map((r) => r.imageId)), compute_s: computeS,
    });
  }

  remove(): void {
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}

function idsHash(ids: string[]): string {
  return sha256(ids.join('\n'));
}
