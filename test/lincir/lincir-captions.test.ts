/**
 * LinCIR on a caption file (`starword lincir --captions FILE`): the keyword the concept vocabulary picks,
 * the caption store (rows, targets from the text tower, a killed build resumed without recomputing its
 * done parts), training on captions alone and with a run's phrases, and bad files refused in one line.
 * The tiny fixture CLIP has a 1,000-id vocabulary and no BPE: its tests tokenize word by word as
 * lincir-train.test.ts does; the command-line case uses `make-model --preset tiny` (the real tokenizer).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { PHI_PARAMS } from '../../clip/training/searle-phi-net.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { DIRECT_SOURCE, PhraseStore, conceptRuns, packTexts, writeStorePart } from '../../schemas/phrase-store.ts';
import { parseVocabulary } from '../../stages/concepts/vocab.ts';
import { loadPhiSafetensors } from '../../stages/phi/export.ts';
import { VocabularyMasker } from '../../stages/lincir/caption-mask.ts';
import { buildCaptionStore } from '../../stages/lincir/caption-store.ts';
import { LINCIR_DEFAULTS, type LincirOptions } from '../../stages/lincir/options.ts';
import { runLincir } from '../../stages/lincir/run-lincir.ts';
import { TINY_MODEL_DIR, testCacheDir } from '../helpers/golden.ts';
import { OrderedDict, torchLoad } from '../helpers/python-formats.ts';

const cacheDir = testCacheDir();
const root = mkdtempSync(join(tmpdir(), 'starword-lincir-captions-'));
test.after.always(() => { rmSync(cacheDir, { recursive: true, force: true }); rmSync(root, { recursive: true, force: true }); });

test('the keyword: the longest vocabulary name found, on word boundaries, plural and any case; its first occurrence masked', (t) => {
  const m = new VocabularyMasker(['Car', 'Red car', 'Dog', 'Cat', 'Table', 'Box', 'Berry', 'c++']);
  t.deepEqual(m.mask('a red car next to a car'), { keyword: 'Red car', masked: 'a  $  next to a car' });
  t.deepEqual(m.mask('two dogs on a table'), { keyword: 'Table', masked: 'two dogs on a  $ ' }, 'longest name: "table" (5) over "dog" (3)');
  t.deepEqual(m.mask('Two Dogs run'), { keyword: 'Dog', masked: 'Two  $  run' }, 'plural, any case');
  t.deepEqual(m.mask('a dog and a cat'), { keyword: 'Dog', masked: 'a  $  and a cat' }, 'a tie goes to the earliest in the caption');
  t.deepEqual(m.mask('berries in boxes'), { keyword: 'Berry', masked: ' $  in boxes' });
  t.deepEqual(m.mask('learning c++ today'), { keyword: 'c++', masked: 'learning  $  today' });
  t.is(m.mask('a category of cartoons'), null, 'no name on word boundaries: "cat" is not in "category"');
  t.is(m.mask(''), null);
});

// the tiny model has no BPE: words map to ids of its vocabulary, `$` to 259
const WORDS = ['a', 'photo', 'of', 'the', 'red', 'blue', 'small', 'big', 'on', 'in', 'grass', 'table', 'street', 'water', 'with', 'sky'];
const NOUNS = ['cat', 'dog', 'car', 'boat', 'cup', 'tree'];
const ids = new Map([...WORDS, ...NOUNS].map((w, i) => [w, 300 + 7 * i]));
const VOCAB = parseVocabulary(['name', ...NOUNS, 'red car'].join('\n'), 'csv', 'test-vocab.csv');

const setup = (async () => {
  const model = await loadClipModel(TINY_MODEL_DIR);
  const tokenize = (s: string) => Int32Array.from([model.config.text.bos, ...s.trim().split(/\s+/).filter(Boolean).map((w) => {
    const id = w === '$' ? 259 : ids.get(w);
    if (id === undefined) throw new Error(`test tokenizer: no id for ${JSON.stringify(w)}`);
    return id;
  }), model.config.text.eos]);
  const text = await createTextEncoder(model, { cacheDir, threads: 1 });
  return { model, tokenize, text };
})();
test.after.always(async () => { await (await setup).text.release?.(); });

/** n lines: every 5th blank, every 4th with no vocabulary name; the rest name a noun (or "red car"). */
function captionLines(n: number): { lines: string[]; kept: string[]; noKeyword: number; blank: number } {
  const lines: string[] = [], kept: string[] = [];
  let noKeyword = 0, blank = 0;
  for (let i = 0; i < n; i++) {
    if (i % 5 === 4) { lines.push('   '); blank++; continue; }
    if (i % 4 === 3) { lines.push(`a photo of the ${WORDS[4 + (i % 12)]} sky`); noKeyword++; continue; }
    const c = i % 7 === 0 ? `the red car on the ${WORDS[10 + (i % 4)]}` : `a photo of the ${WORDS[4 + (i % 4)]} ${NOUNS[i % 6]} in the ${WORDS[10 + (i % 4)]}`;
    lines.push(c); kept.push(c);
  }
  return { lines, kept, noKeyword, blank };
}

test('a caption file of N lines gives one row per caption holding a name; targets are the text tower\'s features of the unmasked captions', async (t) => {
  const { model, tokenize, text } = await setup;
  const file = join(root, 'rows.txt');
  const { lines, kept, noKeyword, blank } = captionLines(37);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const dim = model.config.projectionDim;
  const s = await buildCaptionStore({ file, dir: join(root, 'rows-store'), vocabulary: VOCAB, modelHash: model.hash, dim, tokenize,
    encodeIds: (x) => text.encodeIds(x), partLines: 8 });
  t.like(s, { lines: 37, blank, noKeyword, cut: 0, kept: kept.length, parts: 5, partsBuilt: 5 });
  t.is(kept.length, 37 - blank - noKeyword);
  const store = await PhraseStore.open(s.dir, { dim, modelHash: model.hash });
  t.is(store.phraseCount, kept.length);
  const want = await text.encodeIds(kept.map((c) => tokenize(c)));
  let g = 0;
  for (const p of store.parts) {
    for (let r = 0; r < p.rows; r++, g++) {
      t.is(store.phrase(p.part, r), kept[g]);
      t.is(store.swapped(p.part, r), kept[g].includes('red car') ? kept[g].replace('red car', ' $ ') : kept[g].replace(NOUNS.find((n) => kept[g].includes(` ${n} `))!, ' $ '));
      const got = store.target(p.part, r);
      t.true(got.every((v, k) => Math.abs(v - want[g][k]) <= 1e-6 * (1 + Math.abs(want[g][k]))), `target of row ${g}`); // batches differ: float rounding only
    }
  }
  t.is(g, kept.length);
  store.close();
});

test('a killed build keeps its done parts: the rerun computes only the rest, and ends as an unbroken one', async (t) => {
  const { model, tokenize, text } = await setup;
  const file = join(root, 'kill.jsonl');
  const { lines, kept } = captionLines(40);
  writeFileSync(file, lines.map((c, i) => (c.trim() === '' ? '' : JSON.stringify(i % 2 ? { caption: c, id: i } : { text: c }))).join('\n'));
  const dim = model.config.projectionDim;
  const base = { file, vocabulary: VOCAB, modelHash: model.hash, dim, tokenize, partLines: 10 };
  let calls = 0;
  const dying = async (x: Int32Array[]) => { if (++calls === 3) throw new Error('killed'); return text.encodeIds(x); };
  const dir = join(root, 'kill-store');
  await t.throwsAsync(buildCaptionStore({ ...base, dir, encodeIds: dying }), { message: 'killed' });
  t.false(existsSync(join(dir, 'done.json')));
  const encoded: number[] = [];
  const counting = async (x: Int32Array[]) => { encoded.push(x.length); return text.encodeIds(x); };
  const resumed = await buildCaptionStore({ ...base, dir, encodeIds: counting });
  t.is(resumed.partsBuilt, 2, 'parts 0 and 1 were kept');
  t.is(resumed.kept, kept.length);
  const keptLater = lines.slice(20).filter((c) => c.trim() !== '' && !c.endsWith(' sky')).length; // the rest name no noun
  t.is(encoded.reduce((a, b) => a + b, 0), keptLater, 'only the captions of parts 2 and 3 were encoded');
  const again = await buildCaptionStore({ ...base, dir, encodeIds: async () => { throw new Error('nothing to compute'); } });
  t.is(again.partsBuilt, 0, 'a whole store is not read again');
  const whole = await buildCaptionStore({ ...base, dir: join(root, 'whole-store'), encodeIds: (x) => text.encodeIds(x) });
  const [a, b] = await Promise.all([PhraseStore.open(dir, { dim }), PhraseStore.open(whole.dir, { dim })]);
  t.deepEqual(a.parts, b.parts);
  for (const p of a.parts) for (let r = 0; r < p.rows; r++) {
    t.is(a.swapped(p.part, r), b.swapped(p.part, r));
    t.deepEqual([...a.target(p.part, r)], [...b.target(p.part, r)]);
  }
  a.close(); b.close();
  writeFileSync(file, `${lines.slice(0, 30).map((c) => JSON.stringify({ caption: c })).join('\n')}\n`);
  const logs: string[] = [];
  const changed = await buildCaptionStore({ ...base, dir, encodeIds: (x) => text.encodeIds(x), log: (l) => logs.push(l) });
  t.is(changed.lines, 30, 'another caption file: made again');
  t.true(logs.some((l) => /made again/.test(l)));
});

const opts = (o: Partial<LincirOptions> = {}): LincirOptions => ({ ...LINCIR_DEFAULTS, steps: 20, logEvery: 10, batch: 8, lr: 3e-3, checkpointEvery: 1, ...o });

test('φ trained on captions alone, and on a run\'s phrases with captions, is exported as for phrases', async (t) => {
  const { model, tokenize } = await setup;
  const file = join(root, 'train.txt');
  const vocabFile = join(root, 'vocab.txt');
  writeFileSync(vocabFile, `${NOUNS.join('\n')}\nred car\n`);
  const { lines, kept } = captionLines(30);
  writeFileSync(file, lines.join('\n'));
  const out = join(root, 'captions-only');
  const s = await runLincir({ outDir: out, src: model, tokenize, options: opts({ captions: file, vocab: vocabFile }), session: { cacheDir, threads: 1 } });
  t.is(s.phrases, kept.length);
  t.is(s.phrasesDir, null);
  t.is(s.captions?.kept, kept.length);
  t.is(s.steps, 20);
  const st = await loadPhiSafetensors(join(out, 'lincir.safetensors'));
  const ck = torchLoad(readFileSync(join(out, 'lincir.pt'))) as Map<string, unknown>;
  t.is(ck.get('epoch'), 20);
  const sd = ck.get('Phi') as OrderedDict;
  t.deepEqual([...sd.keys()], [...PHI_PARAMS]);
  for (const n of PHI_PARAMS) t.deepEqual([...(sd.get(n) as { data: Float32Array }).data], [...st.weights[n]], n);
  t.true(existsSync(join(out, 'lincir.onnx')));
  t.true(Number.isFinite(s.last!.trainLoss));

  // with a run: its phrases, then the captions, numbered across both
  const dim = model.config.projectionDim;
  const phrases = ['a photo of the cat', 'the big dog on the grass', 'a blue boat in the water'];
  const phrasesDir = join(root, 'run', 'phrases');
  writeStorePart(phrasesDir, 0, { rows: 3, dim, runs: conceptRuns(['cat', 'dog', 'boat']), targets: new Float32Array(3 * dim).fill(0.1),
    phrase: packTexts(phrases), swapped: packTexts(phrases.map((p) => p.replace(/cat|dog|boat/, '$'))) }, DIRECT_SOURCE);
  const both = await runLincir({ source: join(root, 'run'), outDir: join(root, 'both'), src: model, tokenize,
    options: opts({ captions: file, vocab: vocabFile, steps: 10 }), session: { cacheDir, threads: 1 } });
  t.is(both.phrases, 3 + kept.length);
  t.truthy(both.phrasesDir);
});

test('bad caption files and options are refused in one line', async (t) => {
  const { model, tokenize } = await setup;
  const run = (file: string, o: Partial<LincirOptions> = {}) => runLincir({ outDir: join(root, 'bad-out'), src: model, tokenize, options: opts({ captions: file, ...o }) });
  const jsonl = join(root, 'bad.jsonl');
  writeFileSync(jsonl, '{"caption": "a cat"}\nnot json\n');
  await t.throwsAsync(run(jsonl, { vocab: undefined }), { message: /bad\.jsonl:2: not JSON/ });
  writeFileSync(jsonl, '{"caption": "a cat"}\n{"title": "a dog"}\n');
  await t.throwsAsync(run(jsonl), { message: /bad\.jsonl:2: an object with a string "caption" or "text" field/ });
  await t.throwsAsync(run(join(root, 'missing.txt')), { message: /--captions .*missing\.txt: ENOENT/ });
  await t.throwsAsync(run(root), { message: /--captions .*not a file/ });
  const none = join(root, 'none.txt');
  writeFileSync(none, 'a photo of the sky\n\nthe water\n');
  const vocabFile = join(root, 'vocab-none.txt');
  writeFileSync(vocabFile, 'cat\n');
  await t.throwsAsync(run(none, { vocab: vocabFile }), { message: /none of its 2 captions holds a name of the vocabulary/ });
  await t.throwsAsync(runLincir({ outDir: join(root, 'x'), src: model, tokenize, options: opts() }), { message: /--captions FILE/ });
  for (const e of [jsonl, none]) t.notRegex(((await run(e, { vocab: vocabFile }).catch((err: Error) => err)) as Error).message, /\n/);
});

test('the command: captions alone train and export; bad files exit 2 in one line', async (t) => {
  const dir = join(root, 'cli');
  const made = await makeRandomModel({ preset: 'tiny', seed: 5, outDir: join(dir, 'model') });
  const file = join(dir, 'captions.txt');
  writeFileSync(file, 'A dog sleeps on the sofa\nit is what it is\n\nTwo red cars parked by a tree\na cup of coffee\n');
  const cli = (args: string[]) => spawnSync('node', ['bin/starword.js', 'lincir', ...args], { env: { ...process.env, STARWORD_CACHE_DIR: cacheDir }, encoding: 'utf8' });
  const ok = cli(['--captions', file, '--out', join(dir, 'out'), '--model', made.dir, '--steps', '4', '--batch', '2', '--log-every', '2', '--threads', '1']);
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, /captions .*: 3 of 5 lines kept; skipped 1 without a vocabulary name, 0 with the keyword past the context length, 1 blank/);
  for (const f of ['lincir.onnx', 'lincir.safetensors', 'lincir.pt', 'captions/done.json']) t.true(existsSync(join(dir, 'out', f)), f);
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '["a dog"]\n');
  const cases: [string[], RegExp][] = [
    [['--captions', join(dir, 'nope.txt'), '--out', join(dir, 'o'), '--model', made.dir], /--captions .*nope\.txt/],
    [['--captions', bad, '--out', join(dir, 'o'), '--model', made.dir], /bad\.jsonl:1: an object/],
    [['--captions', file, '--model', made.dir], /give --out DIR/],
    [['--captions', file, '--out', join(dir, 'o'), '--vocab', join(dir, 'nope.csv'), '--model', made.dir], /vocabulary .*nope\.csv/],
    [[dir, '--vocab', join(dir, 'nope.csv'), '--model', made.dir], /--vocab .*--captions/],
    [['--model', made.dir], /--captions FILE/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr, message, args.join(' '));
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
