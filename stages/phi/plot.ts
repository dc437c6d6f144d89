/**
 * The loss plot of phi training as an SVG (three panels: L_distil, L_gpt, held-out cosine; train and
 * held-out curves by epoch), and its PNG rendering through sharp. Hand-drawn: a few polylines do not
 * need a charting library.
 */
import sharp from 'sharp';
import type { PhiMetricsRow } from '../../schemas/phi-metrics.ts';

interface Series { label: string; color: string; points: [number, number][] }

const W = 320, H = 270, M = { l: 52, r: 12, t: 42, b: 36 };

function fmt(x: number): string {
  return Math.abs(x) >= 100 || (Math.abs(x) < 0.01 && x !== 0) ? x.toExponential(1) : x.toPrecision(3);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

function panel(title: string, series: Series[], x0: number): string {
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const out: string[] = [`<g transform="translate(${x0},0)">`, `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`];
  const pw = W - M.l - M.r, ph = H - M.t - M.b;
  out.push(`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  if (pts.length) {
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    const xmin = Math.min(...xs), xmax = Math.max(...xs, xmin + 1);
    let ymin = Math.min(...ys), ymax = Math.max(...ys);
    if (ymax - ymin < 1e-12) { ymin -= 0.5 * Math.abs(ymin || 1) * 0.1; ymax += 0.5 * Math.abs(ymax || 1) * 0.1; }
    const sx = (x: number) => M.l + ((x - xmin) / (xmax - xmin)) * pw;
    const sy = (y: number) => M.t + (1 - (y - ymin) / (ymax - ymin)) * ph;
    out.push(`<text x="${M.l - 4}" y="${M.t + 10}" text-anchor="end" font-size="11">${fmt(ymax)}</text>`);
    out.push(`<text x="${M.l - 4}" y="${M.t + ph}" text-anchor="end" font-size="11">${fmt(ymin)}</text>`);
    out.push(`<text x="${M.l}" y="${H - M.b + 14}" font-size="11">${xmin}</text>`);
    out.push(`<text x="${M.l + pw}" y="${H - M.b + 14}" text-anchor="end" font-size="11">${xmax}</text>`);
    out.push(`<text x="${M.l + pw / 2}" y="${H - 6}" text-anchor="middle" font-size="11">epoch</text>`);
    series.forEach((s, k) => {
      const ok = s.points.filter(([, y]) => Number.isFinite(y));
      if (ok.length) {
        out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${ok.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
        for (const [x, y] of ok) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
      }
      // the legend sits in a row above the plot area, so it never hides a curve
      out.push(`<text x="${M.l + 80 * k}" y="${M.t - 8}" font-size="11" fill="${s.color}">■ ${esc(s.label)}</text>`);
    });
  }
  out.push('</g>');
  return out.join('\n');
}

export function lossPlotSvg(rows: readonly PhiMetricsRow[]): string {
  const pick = (k: keyof PhiMetricsRow): [number, number][] => rows.map((r) => [r.epoch, r[k]]);
  const train = '#1f77b4', val = '#d62728';
  const panels = [
    panel('L_distil (NT-Xent)', [{ label: 'train', color: train, points: pick('trainDistil') }, { label: 'held-out', color: val, points: pick('valDistil') }], 0),
    panel('L_gpt', [{ label: 'train', color: train, points: pick('trainGpt') }, { label: 'held-out', color: val, points: pick('valGpt') }], W),
    panel('cos(phi(x), OTI token), held-out', [{ label: 'held-out', color: val, points: pick('valCosine') }], 2 * W),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${3 * W}" height="${H}" font-family="sans-serif">\n`
    + `<rect width="100%" height="100%" fill="white"/>\n${panels.join('\n')}\n</svg>\n`;
}

export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}
