/**
 * `starword evaluate --dataset cirr|circo|fashioniq --annotations PATH --index DIR [--model DIR]
 * [--tokens PATH | --phi FILE] [--method searle|image|text|sum|all|a,b] [--split val] [--out FILE]`:
 * the benchmark's metrics for each method, as a table on stdout; with --out, the reports as JSON and a
 * plot of the metrics against k (.svg and .png beside it). See the README, "Composed image retrieval".
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadCirco } from '../../stages/evaluate/circo.ts';
import { loadCirr } from '../../stages/evaluate/cirr.ts';
import { FIQ_CATEGORIES, loadFashionIq } from '../../stages/evaluate/fashioniq.ts';
import { RankingsCollector } from '../../stages/evaluate/rankings.ts';
import { formatTable, writeReportFiles } from '../../stages/evaluate/report.ts';
import { type EvaluationReport, evaluate } from '../../stages/evaluate/run.ts';
import { type Annotations, DATASETS, type Dataset } from '../../stages/evaluate/types.ts';
import { type Method, METHODS, methodNeeds } from '../../stages/retrieve/compose.ts';
import { UserError } from '../../util/errors.ts';
import { type ModelFlags, addModelOptions, openEncoders, openIndex, parseMethod, tokenProviderFrom } from './retrieve.ts';

export function loadAnnotations(dataset: string, path: string, split: string, categories?: string[]): Annotations {
  if (!(DATASETS as readonly string[]).includes(dataset)) throw new UserError(`--dataset must be one of ${DATASETS.join(', ')}, got '${dataset}'`);
  const d = dataset as Dataset;
  if (d === 'cirr') return loadCirr(path, split);
  if (d === 'circo') return loadCirco(path, split);
  return loadFashionIq(path, split, categories ?? FIQ_CATEGORIES);
}

/** "all" or a comma-separated list. */
export function parseMethods(s: string): Method[] {
  if (s === 'all') return [...METHODS];
  return [...new Set(s.split(',').map((m) => parseMethod(m.trim())))];
}

export interface EvaluateFlags extends ModelFlags {
  dataset: string; annotations: string; index: string; tokens?: string; phi?: string; method: string; split: string;
  out?: string; rankings?: string; keepReference?: boolean; categories?: string; blockRows: number; quiet?: boolean;
}

export async function runEvaluate(flags: EvaluateFlags, out: NodeJS.WritableStream = process.stdout): Promise<EvaluationReport[]> {
  const methods = parseMethods(flags.method);
  const ann = loadAnnotations(flags.dataset, flags.annotations, flags.split, flags.categories?.split(',').map((c) => c.trim()));
  const gallery = openIndex(flags.index);
  const needText = methods.some((m) => methodNeeds(m).text);
  const tokens = methods.includes('searle') ? await tokenProviderFrom(flags) : undefined;
  if (methods.includes('searle') && !tokens) throw new UserError("method 'searle' needs --tokens or --phi (or pick --method image,text,sum)");
  const enc = await openEncoders(flags, { text: needText, image: false });
  const log = flags.quiet ? undefined : (line: string) => process.stderr.write(`evaluate: ${line}\n`);
  const reports: EvaluationReport[] = [];
  const rankings = flags.rankings ? new RankingsCollector(ann.dataset, ann.split, resolve(flags.index)) : undefined;
  for (const method of methods) {
    log?.(`${ann.dataset} ${ann.split}, method ${method}, ${ann.queries.length} queries`);
    reports.push(await evaluate(ann, gallery, {
      method, text: enc.text, tokens, excludeReference: !flags.keepReference, blockRows: flags.blockRows, log,
      onRanked: rankings?.collect(method),
    }));
  }
  out.write(formatTable(reports));
  for (const r of reports) {
    if (r.missingTargets.length) log?.(`${r.method}: ${r.missingTargets.length} queries' targets are not in the index (counted as misses): ${r.missingTargets.slice(0, 10).join(', ')}${r.missingTargets.length > 10 ? ', …' : ''}`);
    if (r.unanswerable.length) log?.(`${r.method}: ${r.unanswerable.length} queries lack their reference's token or features (counted as misses): ${r.unanswerable.slice(0, 10).join(', ')}${r.unanswerable.length > 10 ? ', …' : ''}`);
  }
  if (rankings && flags.rankings) { await rankings.write(flags.rankings); log?.(`wrote ${flags.rankings}`); }
  if (flags.out) {
    const base = flags.out.replace(/\.json$/i, '');
    const paths = await writeReportFiles(base, reports);
    log?.(`wrote ${paths.json}, ${paths.svg}, ${paths.png}`);
  }
  return reports;
}

export function register(program: Command): void {
  const cmd = program.command('evaluate')
    .description('CIRR / CIRCO / FashionIQ metrics of composed retrieval over a gallery index')
    .requiredOption('--dataset <name>', DATASETS.join(' | '))
    .requiredOption('--annotations <path>', 'the dataset folder (or its captions/annotations file)')
    .requiredOption('--index <dir>', 'gallery features: a run folder, its embed/ folder, or an .arrow file')
    .option('--tokens <path>', 'OTI tokens of the reference images: a run folder, its oti/ folder, or an .arrow file')
    .option('--phi <file>', 'phi exported as ONNX: predicts the references\' tokens from their indexed features')
    .option('--method <names>', `${METHODS.join(' | ')} | all | a comma-separated list`, 'searle')
    .option('--split <name>', 'annotation split', 'val')
    .option('--categories <list>', 'FashionIQ categories (default dress,shirt,toptee)')
    .option('--keep-reference', 'do not exclude the reference from its ranking (SEARLE\'s CIRCO and FashionIQ code keeps it)')
    .option('--out <file>', 'write the report JSON here, and the plot beside it (.svg, .png)')
    .option('--rankings <file>', 'write each query\'s top 10 per method as JSON lines (what `starword report --eval` shows)')
    .option('--quiet', 'no progress lines on stderr');
  addModelOptions(cmd).action(async (flags: EvaluateFlags) => { await runEvaluate(flags); });
}
