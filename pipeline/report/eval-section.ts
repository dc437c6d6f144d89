/**
 * The report's evaluation section: the method × metric table and its bar chart, then a sample of
 * queries — reference, relative caption, and the top-10 of each method with the ground truth marked —
 * failure cases first (queries whose ground truth the best method misses in its top 10).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { barChartSvg } from '../../util/svg-charts.ts';
import { findRunDirs } from '../merge-runs.ts';
import { type Section, esc, num, table } from './html.ts';
import { type EvalData, type RankingLine, headlineMetric } from './eval-data.ts';
import { imagePaths } from './run-data.ts';
import type { Thumbnails } from './thumbnails.ts';

export const TOP_SHOWN = 10;

/** The run folders of an index path (a run folder, its embed/ folder, or a features file inside it). */
function indexRunDirs(index: string | undefined): string[] {
  if (!index || !existsSync(index)) return [];
  let dir = statSync(index).isFile() ? dirname(index) : index;
  if (basename(dir) === 'embed') dir = dirname(dir);
  try { return findRunDirs(dir); } catch { return []; }
}

export interface QueryView { query: string; reference: string; captions: string[]; gts: string[]; lines: RankingLine[]; bestMisses: boolean }

/** Queries with their lines per method, the best method's misses first, then in query order; at most `limit`. */
export function orderQueries(rankings: readonly RankingLine[], best: string | undefined, limit: number): QueryView[] {
  const byQuery = new Map<string, QueryView>();
  for (const r of rankings) {
    const key = `${r.dataset ?? ''}\u0000${r.query}`;
    let q = byQuery.get(key);
    if (!q) byQuery.set(key, (q = { query: r.query, reference: r.reference, captions: r.captions, gts: r.gts, lines: [], bestMisses: false }));
    q.lines.push(r);
  }
  const all = [...byQuery.values()];
  for (const q of all) {
    const line = q.lines.find((l) => l.method === best) ?? q.lines[0];
    const gts = new Set(q.gts);
    q.bestMisses = !line.top.slice(0, TOP_SHOWN).some((h) => gts.has(h.id));
  }
  const misses = all.filter((q) => q.bestMisses), hits = all.filter((q) => !q.bestMisses);
  // spread the sample over the query list rather than taking its head
  const take = (list: QueryView[], k: number) => (list.length <= k ? list : Array.from({ length: k }, (_, i) => list[Math.floor((i * list.length) / k)]));
  const m = take(misses, Math.min(misses.length, Math.ceil(limit / 2)));
  return [...m, ...take(hits, Math.min(hits.length, limit - m.length))];
}

export async function evaluationSection(e: EvalData, thumbs: Thumbnails, queryLimit: number): Promise<Section> {
  const html: string[] = [];
  const metricNames = [...new Set(e.methods.flatMap((m) => Object.keys(m.metrics)))];
  const head = headlineMetric(e.methods);
  if (e.methods.length) {
    const ds = e.methods.find((m) => m.dataset);
    html.push(`<p>${esc(ds ? `${ds.dataset} ${ds.split ?? ''}` : '')}${ds?.queries ? `, ${num(ds.queries)} queries` : ''}. Sources: ${e.sources.map((s) => `<code>${esc(s)}</code>`).join(', ')}</p>`);
    html.push(table(['method', ...metricNames.map(esc)], e.methods.map((m) => [
      `<b>${esc(m.method)}</b>`,
      ...(m.reason && Object.keys(m.metrics).length === 0 ? [`<span class="note">not run: ${esc(m.reason)}</span>`, ...metricNames.slice(1).map(() => '')]
        : metricNames.map((k) => `<span class="n" data-method="${esc(m.method)}" data-metric="${esc(k)}">${k in m.metrics ? m.metrics[k].toFixed(2) : '–'}</span>`)),
    ]), 'id="methods-table"'));
    const ran = e.methods.filter((m) => Object.keys(m.metrics).length > 0);
    const shown = metricNames.filter((k) => /^mAP@|^R@|Rsubset|avg|average/.test(k)).slice(0, 8);
    if (ran.length && shown.length) {
      html.push(`<div class="charts">${barChartSvg({ categories: shown, series: ran.map((m) => ({ name: m.method, values: shown.map((k) => m.metrics[k] ?? NaN) })),
        title: 'method × metric (%)', yLabel: '%', yMax: 100 })}</div>`);
    }
  }
  if (e.rankings.length) {
    const methods = [...new Set(e.rankings.map((r) => r.method))];
    const best = head ? [...e.methods].filter((m) => methods.includes(m.method) && head in m.metrics).sort((a, b) => b.metrics[head] - a.metrics[head])[0]?.method : methods[0];
    const queries = orderQueries(e.rankings, best ?? methods[0], queryLimit);
    const ids = new Set(queries.flatMap((q) => [q.reference, ...q.lines.flatMap((l) => l.top.slice(0, TOP_SHOWN).map((h) => h.id))]));
    const indexes = [...new Set(e.rankings.map((r) => r.index).filter((x): x is string => !!x))];
    const paths = imagePaths(indexes.flatMap(indexRunDirs), ids);
    // query thumbnails load lazily: a report may hold a few thousand of them
    const thumb = async (id: string, extra: string, caption: string) => {
      const src = await thumbs.of(paths.get(id));
      return `<div class="thumb ${extra}" title="${esc(id)}">${src ? `<img src="${esc(src)}" width="72" height="72" loading="lazy" alt="${esc(id)}">` : `<div style="width:72px;height:72px">${esc(id)}</div>`}${caption}</div>`;
    };
    html.push(`<h3>Queries</h3><p>${num(queries.length)} of ${num(new Set(e.rankings.map((r) => r.query)).size)} queries; first those where the best method (${esc(best ?? '?')}${head ? ` by ${esc(head)}` : ''}) has no ground truth in its top ${TOP_SHOWN} (<span class="miss">miss</span>), then others. Ground truths have a green frame.</p>`);
    for (const q of queries) {
      const gts = new Set(q.gts);
      const rows: string[] = [];
      for (const l of q.lines) {
        const cells: string[] = [];
        for (const h of l.top.slice(0, TOP_SHOWN)) cells.push(await thumb(h.id, gts.has(h.id) ? 'gt' : '', `<div>${h.score.toFixed(3)}</div>`));
        const hit = l.top.slice(0, TOP_SHOWN).findIndex((h) => gts.has(h.id));
        rows.push(`<div class="row" data-method="${esc(l.method)}"><div class="m">${esc(l.method)}<br>${hit >= 0 ? `<span class="hit">hit @${hit + 1}</span>` : '<span class="miss">miss</span>'}</div>${cells.join('')}</div>`);
      }
      html.push(`<div class="query" data-query="${esc(q.query)}" data-best-misses="${q.bestMisses}"><p class="cap">query ${esc(q.query)}: <b>“${esc(q.captions.join(' / '))}”</b>${q.bestMisses ? ' <span class="miss">best method misses</span>' : ''}</p>
<div class="row"><div class="m">reference</div>${await thumb(q.reference, 'ref', `<div>${esc(q.reference)}</div>`)}<div class="note" style="margin-left:12px">ground truth: ${q.gts.map(esc).join(', ')}</div></div>
${rows.join('\n')}</div>`);
    }
  }
  return { id: 'evaluation', title: 'Evaluation', html: html.join('\n') };
}
