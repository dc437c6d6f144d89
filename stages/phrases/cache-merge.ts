/**
 * `starword cache merge OUT A B ...`: joins phrase caches made by separate jobs (each on its own local
 * disk: SQLite's WAL must never be shared between hosts) into one, so no concept is paid for twice.
 *
 * - Every input must hold the same backend configurations (backend, model, prompt, sampling): a cache
 *   made with other settings is refused, naming its file and the first setting that differs.
 * - A concept keeps ONE input's complete sample set, never a mix: an answered concept beats a failed
 *   one, a larger set beats a smaller one, and on a tie the earlier input wins (OUT itself, when it
 *   exists, comes first, so merging again changes nothing).
 * - A concept whose stored phrases do not match its recorded count is damaged and ignored (a later
 *   phrases run pays for it again); a file that fails SQLite's quick_check is refused.
 * The result is built in a temporary file beside OUT and renamed over it when complete. Do not merge
 * into a cache that a job is using.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError, errorMessage } from '../../util/errors.ts';
import { buildAtomically, fsyncPath } from '../../util/atomic-write.ts';
import { SCHEMA } from '../../util/llm/answer-cache.ts';

export interface CacheMergeResult {
  out: string;
  /** input files read (OUT included when it existed) */
  inputs: string[];
  configs: number;
  concepts: number;
  ok: number;
  failed: number;
  /** answered concepts found in more than one input (each kept from one input only) */
  duplicates: number;
  /** answered concepts ignored because their phrases did not match their count */
  damaged: number;
  phrases: number;
}

interface ConceptRow {
  config_key: string; concept: string; status: 'ok' | 'failed'; n_phrases: number; prompt_tokens: number;
  completion_tokens: number; failures: number; reason: string | null; updated_at: string; actual: number;
}

interface Winner { input: number; row: ConceptRow }

function openInput(path: string): Database.Database {
  if (!existsSync(path) || !statSync(path).isFile()) throw new UserError(`cache merge: ${path}: no such file`);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    for (const t of ['configs', 'concepts', 'phrases']) if (!tables.has(t)) throw new Error(`not a starword phrase cache (no '${t}' table)`);
    const check = (db.prepare('PRAGMA quick_check').all() as Record<string, string>[]).map((r) => Object.values(r)[0]);
    if (check.length !== 1 || check[0] !== 'ok') throw new Error(`damaged (quick_check: ${check.slice(0, 2).join('; ')})`);
  } catch (err) {
    throw new UserError(`cache merge: ${path}: ${errorMessage(err)}`);
  }
  return db;
}

function configsOf(db: Database.Database): Map<string, string> {
  return new Map((db.prepare('SELECT config_key, config_json FROM configs').all() as { config_key: string; config_json: string }[])
    .map((r) => [r.config_key, r.config_json]));
}

/** The first top-level setting (dotted) where two configuration JSONs differ. */
function firstDifference(a: string, b: string): string {
  const x = JSON.parse(a) as Record<string, unknown>, y = JSON.parse(b) as Record<string, unknown>;
  const flat = (o: unknown, pre = ''): Record<string, string> => (o !== null && typeof o === 'object' && !Array.isArray(o)
    ? Object.assign({}, ...Object.entries(o as Record<string, unknown>).map(([k, v]) => flat(v, pre ? `${pre}.${k}` : k)))
    : { [pre]: JSON.stringify(o) });
  const fx = flat(x), fy = flat(y);
  for (const k of [...new Set([...Object.keys(fx), ...Object.keys(fy)])].sort()) {
    if (fx[k] !== fy[k]) return `${k} ${fx[k] ?? 'unset'} here, ${fy[k] ?? 'unset'} in the others`;
  }
  return 'same settings, other key';
}

function checkSameSettings(paths: string[], configs: Map<string, string>[]): void {
  const refIndex = configs.findIndex((c) => c.size > 0);
  if (refIndex < 0) return;
  const ref = configs[refIndex];
  configs.forEach((c, i) => {
    if (c.size === 0) return;
    const extra = [...c.keys()].find((k) => !ref.has(k));
    const lacking = [...ref.keys()].find((k) => !c.has(k));
    if (extra === undefined && lacking === undefined) return;
    const what = extra !== undefined && ref.size === 1
      ? firstDifference(c.get(extra)!, [...ref.values()][0])
      : `${extra !== undefined ? `holds configuration ${extra}` : `lacks configuration ${lacking}`} of ${paths[refIndex]}`;
    throw new UserError(`cache merge: ${paths[i]} was made with other settings (${what}); merge only caches of one backend, model, prompt and sampling`);
  });
}

/** A better claim to a concept than the current winner? */
function better(row: ConceptRow, current: ConceptRow | undefined): boolean {
  if (!current) return true;
  if (row.status !== current.status) return row.status === 'ok';
  return row.status === 'ok' && row.n_phrases > current.n_phrases;
}

export function mergePhraseCaches(outArg: string, inputArgs: readonly string[]): CacheMergeResult {
  const out = resolve(outArg);
  if (inputArgs.length === 0) throw new UserError('cache merge: give the output file and at least one cache to merge into it');
  const paths = [...new Set([...(existsSync(out) ? [out] : []), ...inputArgs.map((p) => resolve(p))])];
  const dbs: Database.Database[] = [];
  try {
    for (const p of paths) dbs.push(openInput(p));
    const configs = dbs.map(configsOf);
    checkSameSettings(paths, configs);

    const winners = new Map<string, Winner>();
    let duplicates = 0, damaged = 0;
    dbs.forEach((db, input) => {
      const rows = db.prepare(`SELECT c.*, (SELECT count(*) FROM phrases p WHERE p.config_key = c.config_key AND p.concept = c.concept) AS actual
        FROM concepts c ORDER BY c.config_key, c.concept`).iterate() as IterableIterator<ConceptRow>;
      for (const row of rows) {
        if (row.status === 'ok' && row.actual !== row.n_phrases) { damaged++; continue; }
        const key = `${row.config_key}\u0000${row.concept}`;
        const current = winners.get(key);
        if (current && current.row.status === 'ok' && row.status === 'ok') duplicates++;
        if (better(row, current?.row)) winners.set(key, { input, row });
      }
    });

    mkdirSync(dirname(out), { recursive: true });
    let phrases = 0;
    try {
      buildAtomically(out, (tmp) => {
        const dst = new Database(tmp);
        try {
          dst.exec(SCHEMA);
          const insertConfig = dst.prepare('INSERT OR IGNORE INTO configs (config_key, config_json, created_at) VALUES (?, ?, ?)');
          const insertConcept = dst.prepare(`INSERT INTO concepts (config_key, concept, status, n_phrases, prompt_tokens, completion_tokens, failures, reason, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
          const insertPhrase = dst.prepare('INSERT INTO phrases (config_key, concept, idx, text) VALUES (?, ?, ?, ?)');
          const readPhrases = dbs.map((db) => db.prepare('SELECT idx, text FROM phrases WHERE config_key = ? AND concept = ? ORDER BY idx'));
          const readConfigRows = dbs.map((db) => db.prepare('SELECT config_key, config_json, created_at FROM configs'));
          dst.transaction(() => {
            for (const stmt of readConfigRows) {
              for (const c of stmt.all() as { config_key: string; config_json: string; created_at: string }[]) insertConfig.run(c.config_key, c.config_json, c.created_at);
            }
            const sorted = [...winners.values()].sort((a, b) => (a.row.config_key + a.row.concept < b.row.config_key + b.row.concept ? -1 : 1));
            for (const { input, row: r } of sorted) {
              insertConcept.run(r.config_key, r.concept, r.status, r.n_phrases, r.prompt_tokens, r.completion_tokens, r.failures, r.reason, r.updated_at);
              if (r.status !== 'ok') continue;
              for (const p of readPhrases[input].iterate(r.config_key, r.concept) as IterableIterator<{ idx: number; text: string }>) {
                insertPhrase.run(r.config_key, r.concept, p.idx, p.text);
                phrases++;
              }
            }
          })();
        } finally {
          dst.close();
        }
        fsyncPath(tmp);
        for (const db of dbs) db.close();
        dbs.length = 0;
        // A WAL left beside OUT belongs to the old file (its content was read above): it must not be
        // replayed onto the new one.
        rmSync(`${out}-wal`, { force: true });
        rmSync(`${out}-shm`, { force: true });
      });
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`cache merge: writing ${out}: ${errorMessage(err)}`);
    }
    const rows = [...winners.values()].map((w) => w.row);
    return {
      out, inputs: paths, configs: new Set(rows.map((r) => r.config_key)).size, concepts: rows.length,
      ok: rows.filter((r) => r.status === 'ok').length, failed: rows.filter((r) => r.status === 'failed').length,
      duplicates, damaged, phrases,
    };
  } finally {
    for (const db of dbs) db.close();
  }
}
