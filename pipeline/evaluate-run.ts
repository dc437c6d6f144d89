/**
 * `starword evaluate --dataset cirr|circo|fashioniq --annotations PATH --index DIR [--model DIR]
 * [--methods image,text,sum,searle-oti,searle,pic2word,lincir,captioning,cirevl | all] [--tokens PATH] [--phi FILE]
 * [--pic2word FILE | --pic2word-tokens PATH] [--lincir PATH | --lincir-tokens PATH] [caption / LLM endpoint options] [--split val] [--out FILE.json]`:
 * every method's metrics side by side, a row per method in the talk's layout (evaluate-methods.ts says
 * what each needs; one that cannot run keeps its row with the reason). With --out: the table as JSON,
 * Markdown, CSV and a bar chart (.svg, .png), and the metric curves (-curves.svg, .png). See the README,
 * "Composed image retrieval" and "Every method in one table".
 */
import { resolve } from 'node:path';
import { loadCirco } from '../stages/evaluate/circo.ts';
import { loadCirr } from '../stages/evaluate/cirr.ts';
import { FIQ_CATEGORIES, loadFashionIq } from '../stages/evaluate/fashioniq.ts';
import { RankingsCollector } from '../stages/evaluate/rankings.ts';
import { writeCurvesFiles } from '../stages/evaluate/report.ts';
import { type EvaluateOptions, type EvaluationReport, evaluate, referenceExcludedByDefault, refuseTestSplit } from '../stages/evaluate/run-evaluate.ts';
import { type EvaluationTable, type RowInput, buildTable, formatTableText, writeTableFiles } from '../stages/evaluate/table.ts';
import { type Annotations, DATASETS, type Dataset } from '../stages/evaluate/types.ts';
import type { ComposeMethod } from '../stages/retrieve/compose.ts';
import { type TokenProvider, partsTokenProvider } from '../stages/retrieve/sources.ts';
import { UserError } from '../util/errors.ts';
import { TABLE_METHODS, type TableMethod, captioningTexts, cirevlInstruction, isTableMethod } from './evaluate-methods.ts';
import { CAPTION_DEFAULTS, type CaptionCliOptions, captionUnavailable, describeForEvaluation } from './evaluate-captions.ts';
import { pic2wordTokenProvider } from './pic2word-tokens.ts';
import { lincirTokenProvider } from './lincir-tokens.ts';
import { type ModelFlags, openEncoders, openIndex, tokenProviderFrom } from './retrieve-query.ts';

export function loadAnnotations(dataset: string, path: string, split: string, categories?: string[]): Annotations {
  if (!(DATASETS as readonly string[]).includes(dataset)) throw new UserError(`--dataset must be one of ${DATASETS.join(', ')}, got '${dataset}'`);
  const d = dataset as Dataset;
  if (d === 'cirr') return loadCirr(path, split);
  if (d === 'circo') return loadCirco(path, split);
  return loadFashionIq(path, split, categories ?? FIQ_CATEGORIES);
}

/** "all" or a comma-separated list of TABLE_METHODS, in the order given. */
export function parseMethods(s: string, flag = '--methods'): TableMethod[] {
  if (s.trim() === 'all') return [...TABLE_METHODS];
  return [...new Set(s.split(',').map((m) => m.trim()).map((m) => {
    if (!isTableMethod(m)) throw new UserError(`${flag} must be all or a list of ${TABLE_METHODS.join(', ')}, got '${m}'`);
    return m;
  }))];
}

export interface EvaluateFlags extends ModelFlags, Partial<CaptionCliOptions> {
  dataset: string; annotations: string; index: string; tokens?: string; phi?: string; pic2word?: string; pic2wordTokens?: string; lincir?: string; lincirTokens?: string;
  methods?: string; method?: string; split: string;
  out?: string; rankings?: string; keepReference?: boolean; excludeReference?: boolean; categories?: string; blockRows: number; quiet?: boolean;
}

/** A method ready to evaluate, or the reason it cannot be. */
type Plan = { method: TableMethod; compose: ComposeMethod; tokens?: TokenProvider } | { method: TableMethod; described: 'captioning' | 'cirevl' } | { method: TableMethod; reason: string };

async function planMethods(methods: readonly TableMethod[], flags: EvaluateFlags, modelHash: () => string | undefined): Promise<Plan[]> {
  const oti = flags.tokens ? partsTokenProvider(flags.tokens, { modelHash }) : undefined;
  const phi = flags.phi ? await tokenProviderFrom({ ...flags, tokens: undefined }) : undefined;
  const pic2word = await pic2wordTokenProvider(flags, modelHash);
  const lincir = await lincirTokenProvider(flags, modelHash);
  const plan = (method: TableMethod): Plan => {
    switch (method) {
      case 'image': return { method, compose: 'image' };
      case 'text': case 'sum': return { method, compose: method };
      case 'searle-oti':
        return oti ? { method, compose: 'searle', tokens: oti } : { method, reason: 'no OTI tokens: give --tokens PATH (a run folder, its oti/ folder or a tokens .arrow file)' };
      case 'searle':
        if (phi) return { method, compose: 'searle', tokens: phi };
        if (oti && !methods.includes('searle-oti')) return { method, compose: 'searle', tokens: oti };
        if (!methods.includes('searle-oti')) return { method, reason: 'no tokens: give --phi FILE (or --tokens PATH)' };
        return { method, reason: `no phi network: give --phi FILE${oti ? ' (the --tokens are the searle-oti row)' : ''}` };
      case 'pic2word':
        return pic2word ? { method, compose: 'pic2word', tokens: pic2word } : { method, reason: 'no Pic2Word mapper: give --pic2word FILE (what `starword pic2word` exports) or --pic2word-tokens PATH (what `invert --pic2word` writes)' };
      case 'lincir':
        return lincir ? { method, compose: 'searle', tokens: lincir } : { method, reason: 'no LinCIR mapper: give --lincir PATH (what `starword lincir` exports, or its folder) or --lincir-tokens PATH (what `invert --lincir` writes)' };
      case 'captioning': case 'cirevl': {
        const why = captionUnavailable(flags as CaptionCliOptions, method === 'cirevl');
        return why ? { method, reason: why } : { method, described: method };
      }
    }
  };
  return methods.map((method) => {
    const p = plan(method);
    // every method but image reads CLIP's text tower
    return !('reason' in p) && method !== 'image' && !flags.model ? { method, reason: 'needs CLIP\'s text tower: give --model DIR' } : p;
  });
}

export async function runEvaluate(flags: EvaluateFlags, out: NodeJS.WritableStream = process.stdout): Promise<EvaluationTable> {
  if (flags.methods !== undefined && flags.method !== undefined) throw new UserError('give --methods or --method (its alias), not both');
  const methods = parseMethods(flags.methods ?? flags.method ?? 'searle', flags.methods !== undefined ? '--methods' : '--method');
  if (flags.keepReference && flags.excludeReference) throw new UserError('give --keep-reference or --exclude-reference, not both');
  const excludeFlag = flags.excludeReference ? true : flags.keepReference ? false : undefined;
  const ann = loadAnnotations(flags.dataset, flags.annotations, flags.split, flags.categories?.split(',').map((c) => c.trim()));
  refuseTestSplit(ann);
  const log = flags.quiet ? undefined : (line: string) => process.stderr.write(`evaluate: ${line}\n`);
  // the model, once loaded, is what the index and tokens are checked against (none when only image runs)
  let modelHash: string | undefined;
  const plans = await planMethods(methods, flags, () => modelHash);
  const needText = plans.some((p) => !('reason' in p) && !('compose' in p && p.compose === 'image'));
  const enc = await openEncoders(flags, { text: needText, image: false });
  modelHash = enc.model?.hash;
  const gallery = openIndex(flags.index, modelHash);

  // captions (and recompositions) once for both described methods
  const described = plans.filter((p): p is Extract<Plan, { described: string }> => 'described' in p);
  const captionTexts = new Map<TableMethod, { texts: Map<string, string[]>; failures: Record<string, string>; notes: string[] } | { reason: string }>();
  if (described.length > 0) {
    const o = { ...CAPTION_DEFAULTS, ...flags } as CaptionCliOptions;
    const wantCirevl = described.some((p) => p.described === 'cirevl');
    const d = await describeForEvaluation(ann.queries.map((q) => ({ id: q.id, reference: q.reference, instruction: cirevlInstruction(q.captions) })),
      ann.dataset, flags.index, o, wantCirevl, log);
    const captionNote = `captions by ${o.captionModel}: ${d.captions.requested} requested, ${d.captions.cached} cached, ${d.captions.failed} failed`;
    const recompNote = `recompositions by ${o.llmModel} (CIReVL prompt ${d.promptName}): ${d.recompositions.requested} requested, ${d.recompositions.cached} cached, ${d.recompositions.failed} failed, ${d.recompositions.fallbacks} without an "Edited Description:" line`;
    for (const p of described) {
      if (d.fatal && (d.fatal.step === 'caption' || p.described === 'cirevl')) {
        captionTexts.set(p.method, { reason: `${d.fatal.step} endpoint refused: ${d.fatal.message}` });
        continue;
      }
      const texts = new Map<string, string[]>();
      const failures: Record<string, string> = {};
      for (const q of ann.queries) {
        const got = d.queries.get(q.id);
        if (p.described === 'captioning' && got?.caption !== undefined) texts.set(q.id, captioningTexts(got.caption, q.captions));
        else if (p.described === 'cirevl' && got?.description !== undefined) texts.set(q.id, [got.description]);
        else failures[q.id] = got?.reason ?? 'no caption';
      }
      captionTexts.set(p.method, { texts, failures, notes: p.described === 'cirevl' ? [captionNote, recompNote] : [captionNote] });
    }
  }

  const rows: RowInput[] = [];
  const rankings = flags.rankings ? new RankingsCollector(ann.dataset, ann.split, resolve(flags.index)) : undefined;
  for (const p of plans) {
    if ('reason' in p) { rows.push({ method: p.method, reason: p.reason }); continue; }
    log?.(`${ann.dataset} ${ann.split}, method ${p.method}, ${ann.queries.length} queries`);
    const common: EvaluateOptions = { method: 'text', label: p.method, text: enc.text, excludeReference: excludeFlag, blockRows: flags.blockRows, log,
      onRanked: rankings?.collect(p.method) };
    let report: EvaluationReport;
    let notes: string[] | undefined;
    if ('described' in p) {
      const c = captionTexts.get(p.method);
      if (!c || 'reason' in c) { rows.push({ method: p.method, reason: c?.reason ?? 'no captions' }); continue; }
      report = await evaluate(ann, gallery, { ...common, queryTexts: c.texts, queryFailures: c.failures });
      notes = c.notes;
    } else {
      report = await evaluate(ann, gallery, { ...common, method: p.compose, tokens: p.tokens });
    }
    rows.push({ method: p.method, report, notes });
    if (report.missingTargets.length) log?.(`${p.method}: ${report.missingTargets.length} queries' targets are not in the index (counted as misses): ${report.missingTargets.slice(0, 10).join(', ')}${report.missingTargets.length > 10 ? ', …' : ''}`);
    if (report.unanswerable.length) {
      const why = report.failures ? Object.entries(report.failures).slice(0, 3).map(([id, r]) => `${id}: ${r}`).join('; ') : 'no token or features for the reference';
      log?.(`${p.method}: ${report.unanswerable.length} queries could not be formed (counted as misses): ${why}${report.unanswerable.length > 3 ? '; …' : ''}`);
    }
  }
  const table = buildTable(ann.dataset, ann.split, excludeFlag ?? referenceExcludedByDefault(ann.dataset), rows);
  out.write(formatTableText(table));
  if (rankings && flags.rankings) { await rankings.write(flags.rankings); log?.(`wrote ${flags.rankings}`); }
  if (flags.out) {
    const base = flags.out.replace(/\.json$/i, '');
    const paths = await writeTableFiles(base, table);
    const ran = table.reports;
    const curves = ran.length ? await writeCurvesFiles(`${base}-curves`, ran) : undefined;
    log?.(`wrote ${paths.json}, ${paths.md}, ${paths.csv}, ${paths.svg}, ${paths.png}${curves ? `, ${curves.svg}, ${curves.png}` : ''}`);
  }
  return table;
}
