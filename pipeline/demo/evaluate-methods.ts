/**
 * The demo's method table on the toy CIRCO benchmark: the image, text and sum baselines, SEARLE with
 * the run's OTI tokens (searle-oti) and SEARLE with the run's phi (searle). Writes methods.json (one
 * report per method, labelled), rankings.jsonl (each query's top 10 per method) and the table as text.
 */
import type { Device } from '../../clip/onnx-session.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadCirco } from '../../stages/evaluate/circo.ts';
import { RankingsCollector } from '../../stages/evaluate/rankings.ts';
import { type EvaluationReport, type TokenSource, evaluate } from '../../stages/evaluate/run.ts';
import { buildTable, formatTableText } from '../../stages/evaluate/table.ts';
import type { Method } from '../../stages/retrieve/compose.ts';
import { openEncoders, openIndex, tokenProviderFrom } from '../retrieve-query.ts';

export interface DemoMethod { label: string; method: Method; tokens?: TokenSource }

export interface DemoEvaluation { table: string; reports: (EvaluationReport & { label: string })[]; dir: string }

export async function evaluateDemo(o: { annotations: string; index: string; model: string; run: string; phi: string; out: string; cacheDir?: string; threads?: number; device?: Device }): Promise<DemoEvaluation> {
  const ann = loadCirco(o.annotations, 'val');
  const flags = { model: o.model, device: o.device ?? 'cpu', cacheDir: o.cacheDir, threads: o.threads };
  const enc = await openEncoders(flags, { text: true, image: false });
  const modelHash = enc.model!.hash;
  const gallery = openIndex(o.index, modelHash);
  const oti = await tokenProviderFrom({ ...flags, tokens: o.run }, () => modelHash);
  const phi = await tokenProviderFrom({ ...flags, phi: o.phi });
  const methods: DemoMethod[] = [
    { label: 'image', method: 'image' }, { label: 'text', method: 'text' }, { label: 'sum', method: 'sum' },
    { label: 'searle-oti', method: 'searle', tokens: oti }, { label: 'searle', method: 'searle', tokens: phi },
  ];
  const rankings = new RankingsCollector(ann.dataset, ann.split, resolve(o.index));
  const reports: (EvaluationReport & { label: string })[] = [];
  try {
    for (const m of methods) {
      const r = await evaluate(ann, gallery, { method: m.method, text: enc.text, tokens: m.tokens, onRanked: rankings.collect(m.label) });
      reports.push({ ...r, label: m.label });
    }
  } finally {
    await enc.text?.release?.();
  }
  await mkdir(o.out, { recursive: true });
  // the rows are named by label (searle-oti and searle are both the searle method)
  const table = formatTableText(buildTable(ann.dataset, ann.split, true, reports.map((r) => ({ method: r.label, report: r }))));
  await writeFile(join(o.out, 'methods.json'), `${JSON.stringify(reports, null, 2)}\n`);
  await writeFile(join(o.out, 'methods.txt'), table);
  await rankings.write(join(o.out, 'rankings.jsonl'));
  return { table, reports, dir: o.out };
}
