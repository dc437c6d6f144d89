/**
 * `starword submission --dataset cirr|circo --annotations PATH --index DIR [--tokens PATH | --phi FILE]
 * --out FILE`: the prediction files of a test split for the benchmark's evaluation server, as SEARLE's
 * generate_test_submission.py writes them (CIRR: FILE and subset_FILE beside it; CIRCO: FILE), each
 * checked against the server's documented layout before it is written.
 */
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { circoSubmissionSchema, cirrSubmissionSchema, firstProblem } from '../../stages/evaluate/submission-format.ts';
import { pythonSortedJson, rankForSubmission, submissionObjects } from '../../stages/evaluate/submission.ts';
import { methodNeeds } from '../../stages/retrieve/compose.ts';
import { UserError } from '../../util/errors.ts';
import { loadAnnotations } from '../evaluate-run.ts';
import { type ModelFlags, openEncoders, openIndex, parseMethod, tokenProviderFrom } from '../retrieve-query.ts';
import { addQueryModelOptions } from '../shared-options.ts';

interface SubmissionFlags extends ModelFlags {
  dataset: string; annotations: string; index: string; tokens?: string; phi?: string; method: string; split: string;
  out: string; blockRows: number; quiet?: boolean;
}

export async function runSubmission(flags: SubmissionFlags): Promise<string[]> {
  if (flags.dataset !== 'cirr' && flags.dataset !== 'circo') throw new UserError(`--dataset must be cirr or circo (the benchmarks with a test server), got '${flags.dataset}'`);
  const method = parseMethod(flags.method);
  const ann = loadAnnotations(flags.dataset, flags.annotations, flags.split);
  // the model, once loaded, is what the index and tokens are checked against (none for --method image)
  let modelHash: string | undefined;
  const tokens = methodNeeds(method).token ? await tokenProviderFrom(flags, () => modelHash) : undefined;
  if (methodNeeds(method).token && !tokens) throw new UserError("method 'searle' needs --tokens or --phi");
  const enc = await openEncoders(flags, { text: methodNeeds(method).text, image: false });
  modelHash = enc.model?.hash;
  const gallery = openIndex(flags.index, modelHash);
  const log = flags.quiet ? undefined : (line: string) => process.stderr.write(`submission: ${line}\n`);
  const r = await rankForSubmission(ann, gallery, { method, text: enc.text, tokens, blockRows: flags.blockRows, log });
  if (r.unanswerable.length) {
    throw new UserError(`${r.unanswerable.length} queries lack their reference's token or features (${r.unanswerable.slice(0, 5).join(', ')}${r.unanswerable.length > 5 ? ', …' : ''}): the server needs every query`);
  }
  const objs = submissionObjects(r);
  const out = resolve(flags.out);
  const ids = ann.queries.map((q) => (r.dataset === 'cirr' ? String(Number.parseInt(q.id, 10)) : q.id));
  const files: [string, Record<string, string | string[]>, ReturnType<typeof cirrSubmissionSchema>][] = r.dataset === 'cirr'
    ? [[out, objs.recall, cirrSubmissionSchema('recall', ids)], [join(dirname(out), `subset_${basename(out)}`), objs.subset!, cirrSubmissionSchema('recall_subset', ids)]]
    : [[out, objs.recall, circoSubmissionSchema(ids)]];
  for (const [path, obj, schema] of files) {
    const problem = firstProblem(schema, obj);
    if (problem) throw new UserError(`${path}: would not pass the ${r.dataset.toUpperCase()} server's checks: ${problem}`);
  }
  mkdirSync(dirname(out), { recursive: true });
  for (const [path, obj] of files) writeFileAtomic(path, pythonSortedJson(obj));
  log?.(`${ann.queries.length} queries of ${ann.dataset} ${ann.split} ranked against ${r.gallerySize} images; wrote ${files.map(([p]) => p).join(', ')}`);
  return files.map(([p]) => p);
}

export function register(program: Command): void {
  const cmd = program.command('submission')
    .description('test-split prediction files for the CIRR / CIRCO evaluation servers (SEARLE\'s generate_test_submission.py)')
    .requiredOption('--dataset <name>', 'cirr | circo')
    .requiredOption('--annotations <path>', 'the dataset folder (or its test captions/annotations file)')
    .requiredOption('--index <dir>', 'gallery features of the test images: a run folder, its embed/ folder, or an .arrow file')
    .option('--tokens <path>', 'OTI tokens of the reference images: a run folder, its oti/ folder, or an .arrow file')
    .option('--phi <path>', 'phi (.onnx, .safetensors, or a phi output folder: its best checkpoint) predicting the references\' tokens')
    .option('--method <name>', 'searle | image | text | sum', 'searle')
    .option('--split <name>', 'annotation split (CIRR test1, CIRCO test)', 'test')
    .requiredOption('--out <file>', 'the submission JSON (CIRR: subset_<name> is written beside it)')
    .option('--quiet', 'no progress lines on stderr');
  addQueryModelOptions(cmd).action(async (flags: SubmissionFlags) => {
    const files = await runSubmission(flags);
    console.log(files.join('\n'));
  });
}
