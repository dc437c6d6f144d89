/** `starword export searle`: every file decoded with the independent readers and compared with the run's parts. */
import test from 'ava';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as conceptsSchema from '../../schemas/concepts.ts';
import { readPart } from '../../schemas/part-io.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { writeBestSnapshot, writeSnapshot } from '../../stages/phi/checkpoint.ts';
import { exportPhiSafetensors } from '../../stages/phi/export.ts';
import { PHI_PARAMS, initPhiWeights, phiDims } from '../../stages/phi/phi-net.ts';
import { Rng } from '../../util/rng.ts';
import { csvField, exportSearle, searleName } from '../../pipeline/searle-export.ts';
import { OrderedDict, torchLoad, unpickle } from '../helpers/python-formats.ts';
import { CONCEPTS, SYN_DIMS, makeSyntheticRun } from '../phi/synthetic-run.ts';
import { tempDir } from '../helpers/test-utils.ts';

const made: string[] = [];
const tmp = () => { const d = tempDir('export'); made.push(d); return d; };
test.after.always(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

// oti_inversion.py's and train_phi.py's argparse destinations
const OTI_KEYS = ['batch_size', 'clip_model_name', 'dataset', 'dataset_path', 'ema_decay', 'exp_name', 'gpt_exp_name', 'lambda_cos', 'lambda_gpt',
  'learning_rate', 'oti_steps', 'preprocess_type', 'resume_experiment', 'save_frequency', 'seed', 'split', 'top_k', 'weight_decay'];
const PHI_KEYS = ['api_key', 'batch_size', 'cirr_dataset_path', 'clip_model_name', 'exp_name', 'gpt_exp_name', 'imagenet_dataset_path', 'lambda_distil',
  'lambda_gpt', 'learning_rate', 'num_epochs', 'num_workers', 'oti_exp_name', 'phi_dropout', 'preprocess_type', 'save_frequency', 'save_training',
  'seed', 'temperature', 'top_k_concepts', 'validation_frequency', 'weight_decay', 'workspace'];

const base = (runDir: string, outDir: string) => ({ runDir, outDir, dataset: 'imagenet', split: 'test', expName: 'syn', gptExpName: 'GPTNeo27B', clipModelName: 'ViT-B/32', names: 'id' as const });

test('tokens, names, hyperparameters, concepts CSV and phrases in SEARLE\'s layout', async (t) => {
  const run = await makeSyntheticRun(20); made.push(run);
  const out = tmp();
  const lines: string[] = [];
  const s = await exportSearle({ ...base(run, out), log: (l) => lines.push(l) });
  const oti = join(out, 'oti_pseudo_tokens', 'imagenet', 'test', 'syn');
  // the run's ok rows, in part order
  const rows = [0, 1].flatMap((i) => tokensSchema.fromTable(readPart(join(run, 'oti'), tokensSchema.KIND, i)).rows).filter((r) => r.status === 'ok');
  t.is(s.images, 18);
  t.deepEqual(unpickle(readFileSync(join(oti, 'image_names.pkl'))), rows.map((r) => r.imageId));
  for (const [file, key] of [['ema_oti_pseudo_tokens.pt', 'ema'], ['oti_pseudo_tokens.pt', 'token']] as const) {
    const tensor = torchLoad(readFileSync(join(oti, file))) as { data: Float32Array; shape: number[] };
    t.deepEqual(tensor.shape, [18, SYN_DIMS.textWidth]);
    rows.forEach((r, i) => t.deepEqual([...tensor.data.subarray(i * 16, (i + 1) * 16)], [...r[key]!]));
  }
  const hp = JSON.parse(readFileSync(join(oti, 'hyperparameters.json'), 'utf8')) as Record<string, unknown>;
  t.deepEqual(Object.keys(hp), OTI_KEYS); // sorted, as json.dump(sort_keys=True)
  t.is(hp.clip_model_name, 'ViT-B/32');
  t.is(hp.oti_steps, 350); // no run.json: starword's (SEARLE's) OTI defaults, said in a log line
  t.true(lines.some((l) => /no run.json/.test(l)));

  const csv = readFileSync(join(out, 'similar_concepts', 'imagenet', 'test', 'ViT-B32_top_250_ensembling_image_texts.csv'), 'utf8').trimEnd().split('\n');
  t.is(csv[0], 'Image Name,1,2,3');
  const concepts = [0, 1].flatMap((i) => conceptsSchema.fromTable(readPart(join(run, 'concepts'), conceptsSchema.KIND, i)));
  t.deepEqual(csv.slice(1), concepts.map((c) => [c.imageId, ...c.concepts].join(',')));
  t.true(lines.some((l) => /kept 3 concepts per image.*250/.test(l)));

  const c2p = unpickle(readFileSync(join(out, 'GPT_phrases', 'GPTNeo27B', 'concept_to_phrases.pkl'))) as Map<string, string[]>;
  t.deepEqual([...c2p.keys()], CONCEPTS);
  t.is(c2p.get('dog')!.length, 4);
  t.true(c2p.get('dog')!.every((p) => p.startsWith('a photo of dog that ')));
  t.is(s.phi, null);
});

test('phi as SEARLE\'s checkpoint: best by default, last or an epoch on request; bad input is one line', async (t) => {
  const run = await makeSyntheticRun(8, 2); made.push(run);
  const phiDir = join(run, 'phi');
  const dims = phiDims(SYN_DIMS.projectionDim, SYN_DIMS.textWidth);
  const at = (e: number) => initPhiWeights(dims, new Rng(`w${e}`));
  await writeSnapshot(phiDir, 5, dims, at(5));
  await writeBestSnapshot(phiDir, { epoch: 4, dims, weights: at(4), criterion: 'test', value: 1 });
  await exportPhiSafetensors(join(phiDir, 'phi.safetensors'), dims, at(6), { 'starword.epoch': '6', 'starword.options': JSON.stringify({ epochs: 6, dropout: 0.5, batchSize: 32 }) });
  const out = tmp();
  const load = (name: string) => torchLoad(readFileSync(join(out, 'phi_models', 'syn', 'checkpoints', name))) as Map<string, unknown>;
  const check = (ck: Map<string, unknown>, epoch: number) => {
    t.is(ck.get('epoch'), epoch);
    const sd = ck.get('Phi') as OrderedDict;
    t.true(sd instanceof OrderedDict);
    t.deepEqual([...sd.keys()], [...PHI_PARAMS]);
    const w = at(epoch);
    for (const n of PHI_PARAMS) t.deepEqual([...(sd.get(n) as { data: Float32Array }).data], [...w[n]], n);
    t.deepEqual((sd.get('layers.0.weight') as { shape: number[] }).shape, [dims.hidden, dims.input]);
  };
  const s = await exportSearle(base(run, out));
  t.is(s.phi?.epoch, 4);
  check(load('phi_best.pt'), 4);
  await exportSearle({ ...base(run, out), checkpoint: 'last' });
  check(load('phi_last.pt'), 6);
  await exportSearle({ ...base(run, out), checkpoint: 5 });
  check(load('phi_5.pt'), 5);
  const hp = JSON.parse(readFileSync(join(out, 'phi_models', 'syn', 'hyperparameters.json'), 'utf8')) as Record<string, unknown>;
  t.deepEqual(Object.keys(hp), PHI_KEYS);
  t.is(hp.num_epochs, 6);
  t.is(hp.phi_dropout, 0.5);
  await t.throwsAsync(exportSearle({ ...base(run, out), checkpoint: 7 }), { message: /no checkpoint of epoch 7 \(have 5\)/ });

  // a phi folder without checkpoints, a run without tokens
  const empty = join(tmp(), 'phi'); mkdirSync(empty);
  await t.throwsAsync(exportSearle({ ...base(run, out), phiDir: empty }), { message: /no phi.safetensors/ });
  await t.throwsAsync(exportSearle({ ...base(tmp(), out) }), { message: /no finished OTI tokens parts/ });
});

test('names as SEARLE spells them; CSV fields quoted as pandas does', (t) => {
  t.is(searleName('train/n01440764/ILSVRC2012_test_00000001.JPEG', 'basename'), 'ILSVRC2012_test_00000001.JPEG');
  t.is(searleName('dev/dev-190-0-img0.png', 'stem'), 'dev-190-0-img0');
  t.is(searleName('unlabeled2017/000000271520.jpg', 'coco'), '271520');
  t.throws(() => searleName('a/cat.jpg', 'coco'), { message: /not a COCO file name/ });
  t.is(csvField('Tennis ball'), 'Tennis ball');
  t.is(csvField('Ball (Rugby, American)'), '"Ball (Rugby, American)"');
  t.is(csvField('say "hi"'), '"say ""hi"""');
});
