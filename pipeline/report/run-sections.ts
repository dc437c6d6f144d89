/** The report's sections about the run itself: overview, errors, concepts, phrases, OTI, training. */
import { histogramSvg, lineChartSvg } from '../../util/svg-charts.ts';
import { skippedFilesText, skippedLinksText } from '../inspect-run.ts';
import { type Section, esc, num, table } from './html.ts';
import type { RunData, TrainingMetrics } from './run-data.ts';
import type { Thumbnails } from './thumbnails.ts';

const n = (x: number | null | undefined) => `<span class="n">${num(x)}</span>`;

/** Images per second of a stage: its first image-like count over its seconds. */
function throughput(counts: Record<string, number>, seconds: number): string {
  const key = ['images', 'embedded', 'ok', 'rows', 'phrases', 'concepts'].find((k) => typeof counts[k] === 'number');
  if (!key || !(seconds > 0)) return '–';
  return `${num(counts[key] / seconds)} ${esc(key)}/s`;
}

export function overviewSection(d: RunData, notes: readonly string[]): Section {
  const m = d.manifest;
  const parts: string[] = [];
  for (const line of notes) parts.push(`<div class="warn">${esc(line)}</div>`);
  for (const w of d.warnings) parts.push(`<div class="warn" data-kind="run-warning">${esc(w)}</div>`);
  parts.push(`<p>${d.runDirs.length > 1 ? `${d.runDirs.length} shards; ` : ''}images planned: <b id="count-images">${num(d.inspect.images.planned)}</b>
   of ${num(d.inspect.images.source)} in the source; failures: <b id="count-failures">${num(d.inspect.failures.total)}</b>;
   OTI tokens: <b id="count-tokens-ok">${num(d.inspect.tokens?.ok ?? 0)}</b> ok, <b id="count-tokens-failed">${num(d.inspect.tokens?.failed ?? 0)}</b> failed.</p>`);
  const skipped = [
    ...(d.inspect.skippedFiles.count > 0 ? [skippedFilesText(d.inspect.skippedFiles)] : []),
    ...(d.inspect.skippedLinks > 0 ? [skippedLinksText(d.inspect.skippedLinks)] : []),
  ];
  if (skipped.length > 0) parts.push(`<p class="note" id="skipped-source">source: ${esc(skipped.join('; '))}</p>`);
  parts.push(table(['stage', 'status', 'seconds', 'throughput', 'counts'], d.stages.map((s) => [
    esc(s.stage), esc(s.status), n(s.seconds), throughput(s.counts, s.seconds),
    Object.entries(s.counts).map(([k, v]) => `${esc(k)} <b data-stage="${esc(s.stage)}" data-count="${esc(k)}">${num(v)}</b>`).join(', '),
  ]), 'id="stages"'));
  parts.push('<h3>Parts</h3>');
  parts.push(table(['stage/kind', 'done', 'planned', 'rows'], Object.entries(d.inspect.parts).map(([k, e]) => [
    esc(k), n(e.done), n(e.planned), `<span data-part-rows="${esc(k)}">${num(e.rows)}</span>`,
  ])));
  if (m) {
    parts.push('<h3>Model and sources</h3>');
    parts.push(table(['what', 'value'], [
      ['model', esc(m.model ? `${m.model.dir}` : 'none')],
      ['model hash', `<code>${esc(m.model?.hash ?? '–')}</code>`],
      ['config fingerprint', `<code>${esc(m.fingerprint)}</code>`],
      ...Object.entries(m.sources ?? {}).map(([k, v]) => [esc(k), `<code>${esc(typeof v === 'string' ? v : JSON.stringify(v))}</code>`]),
      ['seeds', `<code>${esc(JSON.stringify(m.seeds))}</code>`],
      ['packages', esc(Object.entries(m.packages ?? {}).map(([k, v]) => `${k} ${v}`).join(', '))],
      ['created', esc(`${m.createdAt} (updated ${m.updatedAt})`)],
    ]));
    parts.push(`<details><summary>Config (run.json)</summary><pre>${esc(JSON.stringify(m.config, null, 2))}</pre></details>`);
  }
  return { id: 'overview', title: 'Overview', html: parts.join('\n') };
}

export function errorsSection(d: RunData): Section {
  const e = d.errors;
  if (e.total === 0) return { id: 'errors', title: 'Errors', html: '<p>No errors recorded: every image went through every stage.</p>' };
  const html = [
    `<p><b id="errors-total">${num(e.total)}</b> rows in the errors parts.</p>`,
    table(['stage', 'reason (code)', 'count'], e.byStageCode.map((r) => [esc(r.stage), esc(r.code), n(r.count)]), 'id="errors-by-reason"'),
    `<h3>Files${e.rows.length < e.total ? ` (the first ${num(e.rows.length)})` : ''}</h3>`,
    table(['stage', 'code', 'image', 'path', 'reason'], e.rows.map((r) => [esc(r.stage), esc(r.code), esc(r.imageId), `<code>${esc(r.path)}</code>`, esc(r.reason)]), 'id="errors-files"'),
  ];
  return { id: 'errors', title: 'Errors', html: html.join('\n') };
}

export async function conceptsSection(d: RunData, thumbs: Thumbnails): Promise<Section> {
  const c = d.concepts;
  const cards: string[] = [];
  for (const s of c.sample) {
    const src = await thumbs.of(s.path);
    const img = src ? `<img src="${esc(src)}" width="96" height="96" alt="${esc(s.imageId)}">` : '<div class="note">(no thumbnail)</div>';
    const search = [s.imageId, ...s.concepts].join(' | ').toLowerCase();
    cards.push(`<div class="card" data-search="${esc(search)}">${img}<div class="id">${esc(s.imageId)}</div><ol>${
      // name and score in one grid row of their item: a name that wraps never pushes its score below
      s.concepts.map((name, i) => `<li><div class="cg"><span class="cn">${esc(name)}</span> <span class="cs">${s.scores[i].toFixed(3)}</span></div></li>`).join('')}</ol></div>`);
  }
  const html = [
    `<p>${num(c.sample.length)} of ${num(c.total)} images (evenly spaced over the parts), each with its top-10 concepts and cosine scores.</p>`,
    `<p><input type="search" placeholder="search image ids and concepts" data-filter="concept-cards"> <span class="note"><span id="concept-cards-count">${c.sample.length}</span> shown</span></p>`,
    `<div class="cards" id="concept-cards">${cards.join('\n')}</div>`,
  ];
  return { id: 'concepts', title: 'Concepts', html: html.join('\n') };
}

export function phrasesSection(d: RunData): Section {
  const p = d.phrases;
  if (p.concepts === 0) return { id: 'phrases', title: 'Phrases', html: '<p>No phrases parts in this run.</p>' };
  const rows = p.shown.map((c) => [
    esc(c.concept), esc(c.status) + (c.reason ? `: ${esc(c.reason)}` : ''), n(c.raw), n(c.kept),
    Object.entries(c.dropped).map(([why, k]) => `${num(k)} ${esc(why)}`).join('<br>') || '0',
    c.examples.map((x) => esc(x.phrase)).join('<br>'), c.examples.map((x) => esc(x.swapped)).join('<br>'),
  ]);
  return { id: 'phrases', title: 'Phrases', html: [
    `<p><b id="count-phrases">${num(p.phrases)}</b> phrases for <b id="count-concepts">${num(p.concepts)}</b> concepts${p.shown.length < p.concepts ? `; ${num(p.shown.length)} concepts shown, failed and dropped first` : ''}.</p>`,
    table(['concept', 'status', 'raw', 'kept', 'dropped (why)', 'raw phrases (examples)', 'swapped'], rows, 'id="phrases-table"'),
  ].join('\n') };
}

export function otiSection(d: RunData, stepsNote: string | undefined): Section {
  const o = d.oti;
  if (!o) return { id: 'oti', title: 'OTI', html: '<p>No OTI tokens parts in this run.</p>' };
  const html: string[] = [];
  if (stepsNote) html.push(`<div class="warn">${esc(stepsNote)}</div>`);
  html.push(`<p>${num(o.lcos.length)} tokens ok, ${num(o.parts.reduce((a, p) => a + p.failed, 0))} failed.</p>`);
  html.push(`<div class="charts">${histogramSvg({ values: o.lcos, title: 'final L_cos', xLabel: 'L_cos = 1 − cos(text(template, v*), image)' })}${
    histogramSvg({ values: o.lgpt, title: 'final L_gpt', xLabel: 'L_gpt = 1 − cos(text(phrase with v*), text(phrase))' })}</div>`);
  html.push('<h3>Per part</h3>');
  html.push(table(['part', 'rows', 'ok', 'failed', 'compute s', 'total s', 'images/s'], o.parts.map((p) => [
    esc(p.where), n(p.rows), n(p.ok), n(p.failed), n(p.computeS), n(p.seconds), num(p.seconds > 0 ? p.rows / p.seconds : NaN),
  ])));
  if (o.failed.length) {
    html.push('<h3>Failed rows</h3>');
    html.push(table(['image', 'error'], o.failed.map((f) => [esc(f.imageId), esc(f.error)])));
  }
  return { id: 'oti', title: 'OTI', html: html.join('\n') };
}

/** Charts of one metrics table: train_X and val_X of one X share a chart; other columns get one each. */
export function trainingCharts(t: TrainingMetrics): string[] {
  const x = t.rows.map((r) => r.epoch ?? NaN);
  const groups = new Map<string, string[]>();
  for (const c of t.columns) {
    if (['epoch', 'steps', 'seconds'].includes(c)) continue;
    const base = c.replace(/^(train|val)_/, '');
    groups.set(base, [...(groups.get(base) ?? []), c]);
  }
  const charts: string[] = [];
  for (const [base, cols] of groups) {
    const series = cols.map((c) => ({ name: c, values: t.rows.map((r) => r[c]) })).filter((s) => s.values.some(Number.isFinite));
    if (series.length) charts.push(lineChartSvg({ x, series, title: `${t.name}: ${series.length === 1 ? series[0].name : base}`, xLabel: 'epoch', width: 400, height: 260 }));
  }
  return charts;
}

export function trainingSection(d: RunData): Section {
  if (!d.training.length) return { id: 'training', title: 'phi, Pic2Word and LinCIR', html: '<p>No trained network in this run (run with --phi, or `starword phi`).</p>' };
  const html = d.training.flatMap((t) => {
    const last = t.rows.at(-1);
    return [
      `<h3>${esc(t.name)}</h3><p>${num(t.rows.length)} epochs recorded${last ? `; last: ${t.columns.filter((c) => c !== 'epoch').map((c) => `${esc(c)} ${num(last[c])}`).join(', ')}` : ''}.</p>`,
      `<div class="charts">${trainingCharts(t).join('')}</div>`,
    ];
  });
  return { id: 'training', title: 'phi, Pic2Word and LinCIR', html: html.join('\n') };
}
