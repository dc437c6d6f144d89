/** `starword report`'s work: read the run (and the evaluation), make the thumbnails, write index.html. */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomicAsync } from '../../util/atomic-write.ts';
import { join, resolve } from 'node:path';
import { readEvalData } from './eval-data.ts';
import { evaluationSection } from './eval-section.ts';
import { type Section, page } from './html.ts';
import { readRunData } from './run-data.ts';
import { conceptsSection, errorsSection, otiSection, overviewSection, phrasesSection, trainingSection } from './run-sections.ts';
import { Thumbnails } from './thumbnails.ts';

export interface ReportOptions {
  run: string;
  out: string;
  eval?: string;
  /** images with thumbnails, concepts with phrases (default 300) */
  sample?: number;
  /** queries shown with their rankings (default 40) */
  queries?: number;
  title?: string;
  /** lines shown at the top of the overview (e.g. the demo says it used fewer OTI steps) */
  notes?: string[];
}

export interface ReportResult { html: string; thumbnails: number; bytes: number }

export async function writeReport(o: ReportOptions): Promise<ReportResult> {
  const out = resolve(o.out);
  await mkdir(out, { recursive: true });
  const sample = o.sample ?? 300;
  const data = readRunData(resolve(o.run), { sample });
  const evalData = o.eval ? readEvalData(resolve(o.eval)) : undefined;
  const thumbs = new Thumbnails(out);
  const steps = (data.manifest?.config as { oti?: { steps?: number } } | undefined)?.oti?.steps;
  const stepsNote = steps !== undefined && steps < 350 ? `OTI ran ${steps} steps per image (SEARLE's default is 350).` : undefined;
  const sections: Section[] = [
    overviewSection(data, o.notes ?? []),
    errorsSection(data),
    await conceptsSection(data, thumbs),
    phrasesSection(data),
    otiSection(data, stepsNote),
    trainingSection(data),
  ];
  if (evalData) sections.push(await evaluationSection(evalData, thumbs, o.queries ?? 40));
  const html = page(o.title ?? `starword report: ${data.dir}`, `made ${new Date().toISOString()} from ${data.dir}${o.eval ? ` and ${resolve(o.eval)}` : ''}`, sections);
  const file = join(out, 'index.html');
  await writeFileAtomicAsync(file, html);
  return { html: file, thumbnails: thumbs.count - thumbs.failed, bytes: Buffer.byteLength(html) };
}
