/**
 * The one chart module: line, grouped-bar and histogram charts as plain SVG strings (rect, line,
 * polyline, text only, so every renderer draws them: browsers inline in the HTML report, and librsvg
 * through sharp for PNG files). Hand-written on purpose: a charting library would need a DOM or a
 * canvas in Node, and the report must open offline from the file system with nothing fetched.
 */

export interface Series { name: string; values: readonly number[] }

export interface ChartFrame {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

export interface LineChart extends ChartFrame { x: readonly number[]; series: readonly Series[] }
export interface BarChart extends ChartFrame { categories: readonly string[]; series: readonly Series[]; yMax?: number }
export interface Histogram extends ChartFrame { values: ArrayLike<number>; bins?: number }

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const FONT = 'font-family="sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Short tick labels: 3 significant digits, exponent for very large or small values. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

interface Plot { width: number; height: number; l: number; r: number; t: number; b: number }

function frame(f: ChartFrame, legendWidth: number, defaults: [number, number]): { plot: Plot; head: string[] } {
  const width = f.width ?? defaults[0], height = f.height ?? defaults[1];
  const plot: Plot = { width, height, l: 58, r: 14 + legendWidth, t: f.title ? 34 : 14, b: f.xLabel ? 48 : 34 };
  const head = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (f.title) head.push(`<text x="${plot.l}" y="22" ${FONT} font-size="14" fill="#222">${escapeXml(f.title)}</text>`);
  const pw = width - plot.l - plot.r, ph = height - plot.t - plot.b;
  if (f.xLabel) head.push(`<text x="${plot.l + pw / 2}" y="${height - 8}" text-anchor="middle" ${FONT} font-size="12" fill="#222">${escapeXml(f.xLabel)}</text>`);
  if (f.yLabel) head.push(`<text x="14" y="${plot.t + ph / 2}" text-anchor="middle" ${FONT} font-size="12" fill="#222" transform="rotate(-90 14 ${plot.t + ph / 2})">${escapeXml(f.yLabel)}</text>`);
  return { plot, head };
}

function yAxis(p: Plot, lo: number, hi: number): { y: (v: number) => number; parts: string[] } {
  const ph = p.height - p.t - p.b, pw = p.width - p.l - p.r;
  const y = (v: number) => p.t + ph - ((v - lo) / (hi - lo || 1)) * ph;
  const parts: string[] = [];
  for (const v of niceTicks(lo, hi)) {
    parts.push(`<line x1="${p.l}" y1="${y(v).toFixed(1)}" x2="${p.l + pw}" y2="${y(v).toFixed(1)}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${p.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" ${FONT} font-size="11" fill="#444">${formatTick(v)}</text>`);
  }
  parts.push(`<line x1="${p.l}" y1="${p.t}" x2="${p.l}" y2="${p.t + ph}" stroke="#444"/>`);
  parts.push(`<line x1="${p.l}" y1="${p.t + ph}" x2="${p.l + pw}" y2="${p.t + ph}" stroke="#444"/>`);
  return { y, parts };
}

function legend(p: Plot, names: readonly string[]): string[] {
  if (names.length < 2) return [];
  const x0 = p.width - p.r + 10;
  return names.flatMap((n, i) => {
    const y = p.t + 12 + i * 17, c = PALETTE[i % PALETTE.length];
    return [`<rect x="${x0}" y="${y - 9}" width="11" height="11" fill="${c}"/>`,
      `<text x="${x0 + 16}" y="${y}" ${FONT} font-size="11" fill="#222">${escapeXml(n)}</text>`];
  });
}

function legendWidth(names: readonly string[]): number {
  return names.length < 2 ? 0 : 30 + 6.5 * Math.max(...names.map((n) => n.length));
}

function finiteRange(values: readonly number[], fallback: [number, number]): [number, number] {
  const ok = values.filter(Number.isFinite);
  if (ok.length === 0) return fallback;
  let lo = Math.min(...ok), hi = Math.max(...ok);
  if (hi - lo < 1e-12) { const pad = Math.abs(hi) * 0.05 || 0.5; lo -= pad; hi += pad; }
  return [lo, hi];
}

/** Lines over a shared x axis; non-finite values leave gaps. */
export function lineChartSvg(c: LineChart): string {
  const names = c.series.map((s) => s.name);
  const { plot: p, head } = frame(c, legendWidth(names), [480, 300]);
  const [ylo, yhi] = finiteRange(c.series.flatMap((s) => [...s.values]), [0, 1]);
  const [xlo, xhi] = finiteRange([...c.x], [0, 1]);
  const { y, parts } = yAxis(p, ylo, yhi);
  const pw = p.width - p.l - p.r;
  const x = (v: number) => p.l + ((v - xlo) / (xhi - xlo || 1)) * pw;
  for (const t of niceTicks(xlo, xhi, 6)) {
    parts.push(`<text x="${x(t).toFixed(1)}" y="${p.height - p.b + 16}" text-anchor="middle" ${FONT} font-size="11" fill="#444">${formatTick(t)}</text>`);
  }
  c.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    // split at gaps so a missing value never draws a line through it
    let run: string[] = [];
    const flush = () => { if (run.length > 1) parts.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`); run = []; };
    s.values.forEach((v, j) => {
      if (!Number.isFinite(v) || j >= c.x.length) { flush(); return; }
      const px = x(c.x[j]).toFixed(1), py = y(v).toFixed(1);
      run.push(`${px},${py}`);
      parts.push(`<circle cx="${px}" cy="${py}" r="2.2" fill="${color}"/>`);
    });
    flush();
  });
  return [...head, ...parts, ...legend(p, names), '</svg>', ''].join('\n');
}

/** Grouped bars: one group per category, one bar per series, the value printed above each bar. */
export function barChartSvg(c: BarChart): string {
  const names = c.series.map((s) => s.name);
  const { plot: p, head } = frame(c, legendWidth(names), [Math.max(360, 90 + c.categories.length * (24 + 16 * c.series.length)), 320]);
  const vals = c.series.flatMap((s) => [...s.values]).filter(Number.isFinite);
  const hi = c.yMax ?? niceTicks(0, Math.max(1e-9, ...vals, 0)).at(-1) ?? 1;
  const { y, parts } = yAxis(p, 0, Math.max(hi, ...vals));
  const pw = p.width - p.l - p.r;
  const group = pw / Math.max(1, c.categories.length);
  const bar = Math.min(28, (group * 0.8) / Math.max(1, c.series.length));
  c.categories.forEach((cat, g) => {
    const gx = p.l + g * group + (group - bar * c.series.length) / 2;
    c.series.forEach((s, i) => {
      const v = s.values[g];
      if (!Number.isFinite(v)) return;
      const bx = gx + i * bar, by = y(v), base = y(0);
      parts.push(`<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${Math.max(0, base - by).toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${s.name}, ${cat}: ${formatTick(v)}`)}</title></rect>`);
      if (bar >= 16) parts.push(`<text x="${(bx + bar / 2 - 1).toFixed(1)}" y="${(by - 3).toFixed(1)}" text-anchor="middle" ${FONT} font-size="9" fill="#333">${formatTick(v)}</text>`);
    });
    parts.push(`<text x="${(p.l + g * group + group / 2).toFixed(1)}" y="${p.height - p.b + 16}" text-anchor="middle" ${FONT} font-size="11" fill="#444">${escapeXml(cat)}</text>`);
  });
  return [...head, ...parts, ...legend(p, names), '</svg>', ''].join('\n');
}

/** Counts of `values` in `bins` equal-width bins between their finite min and max. */
export function histogramCounts(values: ArrayLike<number>, bins: number): { edges: number[]; counts: number[] } {
  const ok: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) ok.push(values[i]);
  const [lo, hi] = finiteRange(ok, [0, 1]);
  const counts = new Array<number>(bins).fill(0);
  for (const v of ok) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]++;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
  return { edges, counts };
}

export function histogramSvg(c: Histogram): string {
  const bins = c.bins ?? 30;
  const { edges, counts } = histogramCounts(c.values, bins);
  const { plot: p, head } = frame({ yLabel: 'count', ...c }, 0, [480, 280]);
  const { y, parts } = yAxis(p, 0, Math.max(1, ...counts));
  const pw = p.width - p.l - p.r;
  const x = (v: number) => p.l + ((v - edges[0]) / (edges[bins] - edges[0] || 1)) * pw;
  counts.forEach((n, i) => {
    const x0 = x(edges[i]), x1 = x(edges[i + 1]);
    parts.push(`<rect x="${x0.toFixed(1)}" y="${y(n).toFixed(1)}" width="${Math.max(0.5, x1 - x0 - 0.5).toFixed(1)}" height="${(y(0) - y(n)).toFixed(1)}" fill="${PALETTE[0]}"><title>${formatTick(edges[i])}–${formatTick(edges[i + 1])}: ${n}</title></rect>`);
  });
  for (const t of niceTicks(edges[0], edges[bins], 6)) {
    parts.push(`<text x="${x(t).toFixed(1)}" y="${p.height - p.b + 16}" text-anchor="middle" ${FONT} font-size="11" fill="#444">${formatTick(t)}</text>`);
  }
  return [...head, ...parts, '</svg>', ''].join('\n');
}

/** Places finished charts side by side in one SVG (for multi-panel PNG files). */
export function chartsRowSvg(charts: readonly string[]): string {
  const dims = charts.map((s) => {
    const m = /width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(s);
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  });
  const width = dims.reduce((a, d) => a + d[0], 0), height = Math.max(0, ...dims.map((d) => d[1]));
  let x = 0;
  const parts = charts.map((s, i) => {
    const inner = s.replace(/^<svg[^>]*>/, '').replace(/<\/svg>\s*$/, '');
    const g = `<g transform="translate(${x},0)">${inner}</g>`;
    x += dims[i][0];
    return g;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n${parts.join('\n')}\n</svg>\n`;
}

/** PNG bytes of an SVG through sharp (librsvg), loaded only when a PNG is asked for. */
export async function svgToPng(svg: string): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(svg)).png().toBuffer();
}
