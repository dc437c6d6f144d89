/**
 * Bad input is refused before any work, and nothing is left behind: option ranges and top-k consistency
 * (run and the stage commands), a missing or empty source, a model the tokenizer does not fit; and the
 * run's notes and warnings (swap chosen for the chat backend, template phrases on a real checkpoint).
 * Everything runs in this process (commander and runPipeline as bin/starword.js wires them): a node
 * process per case would cost seconds each on a shared machine.
 */
import test from 'ava';
import { Command, CommanderError } from 'commander';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRealCheckpoint, testModelReason } from '../../clip/weights/model-origin.ts';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { COMMANDS } from '../../pipeline/commands/index.ts';
import { formatReport, inspectRun } from '../../pipeline/inspect-run.ts';
import { type RunCliOptions, runPipeline } from '../../pipeline/run-pipeline.ts';
import { errorMessage } from '../../util/errors.ts';
import { startLlmTestServer } from '../helpers/llm-test-server.ts';
import { GOLDEN_MODEL } from '../helpers/model-files.ts';
import { tempDir } from '../helpers/test-utils.ts';

const TOY = 'data/toyworld';
delete process.env.STARWORD_LLM_MODEL; // the backend must not depend on the caller's environment
process.env.STARWORD_TEST_KEY = 'sk-test';

/** A fresh program with every command, as bin/starword.js builds it, that throws instead of exiting. */
const modules = await Promise.all(COMMANDS.map((c) => c.load()));

function program(onRun?: (o: RunCliOptions) => Promise<void>): Command {
  const p = new Command('starword').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  for (const mod of modules) mod.register(p);
  if (onRun) p.commands.find((c) => c.name() === 'run')!.action(onRun);
  for (const c of p.commands) c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  return p;
}

/** The one-line message a command line ends with ('' when it succeeds). */
async function failure(args: string[]): Promise<string> {
  try {
    await program().parseAsync(args, { from: 'user' });
    return '';
  } catch (err) {
    return err instanceof CommanderError ? err.message.replace(/^error: /, '') : errorMessage(err);
  }
}

/** `starword run ARGS` with its log lines captured. */
async function run(args: string[]): Promise<{ error: string; log: string[] }> {
  const log: string[] = [];
  let error = '';
  await program(async (o) => {
    try { await runPipeline(o, (l) => log.push(l)); } catch (err) { error = errorMessage(err); }
  }).parseAsync(['run', ...args], { from: 'user' });
  return { error, log };
}

interface Fixture { root: string; images: string; vocab: string; model: string }

function fixture(teardown: (fn: () => void) => void): Fixture {
  const root = tempDir('validate', teardown);
  const images = join(root, 'images');
  mkdirSync(images);
  for (const name of readdirSync(join(TOY, 'phi-train')).sort().slice(0, 3)) cpSync(join(TOY, 'phi-train', name), join(images, name));
  writeFileSync(join(images, 'notes.txt'), 'not an image\n');
  const vocab = join(root, 'vocab.txt');
  writeFileSync(vocab, `${readFileSync(join(TOY, 'bench', 'vocab.txt'), 'utf8').split('\n').slice(0, 6).join('\n')}\n`);
  // a copy outside starword's data/ folder: a trained CLIP that counts as a real checkpoint
  const model = join(root, 'model');
  cpSync(join(TOY, 'model'), model, { recursive: true });
  return { root, images, vocab, model };
}

const runArgs = (f: Fixture, out: string, extra: string[] = []): string[] => [
  '--images', f.images, '--model', f.model, '--out', out, '--vocab', f.vocab, '--top-k', '4', '--oti-top-k', '2',
  '--cache-dir', join(f.root, 'cache'), '--n', '4', '--oti-steps', '2', '--oti-batch', '2', '--threads', '1', ...extra,
];

test('run: a bad option of any stage fails before ingest, names the option, and writes nothing', async (t) => {
  const f = fixture(t.teardown);
  const cases: [string[], RegExp][] = [
    [['--phi', '--phi-val-fraction', '1.5'], /^--phi-val-fraction must be in \[0, 1\), got 1\.5$/],
    [['--lr', '-5'], /^--lr must be > 0, got -5$/],
    [['--oti-top-k', '50', '--top-k', '20'], /^--oti-top-k 50 is more than --top-k 20/],
    [['--weight-decay', '-0.1'], /^--weight-decay must be ≥ 0, got -0\.1$/],
    [['--ema-decay', '1'], /^--ema-decay must be in \[0, 1\), got 1$/],
    [['--init-std', '-1'], /^--init-std must be ≥ 0, got -1$/],
    [['--lambda-cos', '0', '--lambda-gpt', '0'], /^--lambda-gpt and --lambda-cos are both 0/],
    [['--phi', '--phi-lr', '0'], /^--phi-lr must be > 0, got 0$/],
    [['--phi', '--phi-batch', '1'], /^--phi-batch must be an integer ≥ 2/],
    [['--phi', '--phi-dropout', '1'], /^--phi-dropout must be in \[0, 1\)/],
    [['--phi', '--phi-temperature', '0'], /^--phi-temperature must be > 0/],
    [['--phi', '--phi-top-k', '5'], /^--phi-top-k 5 is more than --top-k 4/],
    [['--phrases-top-k', '1'], /^--phrases-top-k 1 is less than --oti-top-k 2/],
    [['--phrases-top-k', '9'], /^--phrases-top-k 9 is more than --top-k 4/],
    [['--temperature', '3'], /^--temperature must be in \[0, 2\], got 3$/],
    [['--swap', 'fuzzy'], /^--swap must be one of searle, word, got 'fuzzy'$/],
    [['--chat-format', 'xml'], /^--chat-format must be one of json_schema, json_object/],
    [['--backend', 'import'], /^--backend import needs --import FILE$/],
    [['--backend', 'import', '--import', 'no-such.json'], /^--import no-such\.json: no such file$/],
    [['--backend', 'chat'], /^--backend chat needs --llm-model NAME/],
    [['--extra-body', '[1]'], /--extra-body <json>' argument '\[1\]' is invalid\. expected a JSON object/],
    [['--extra-body', '{nope'], /--extra-body <json>' argument '\{nope' is invalid\. expected a JSON object/],
    [['--preprocess', 'squash'], /^--preprocess must be one of targetpad, plain, got 'squash'$/],
  ];
  for (const [i, [extra, message]] of cases.entries()) {
    const out = join(f.root, `out-${i}`);
    const r = await run(runArgs(f, out, extra)).catch((err: unknown) => ({ error: errorMessage(err), log: [] }));
    t.regex(r.error, message, extra.join(' '));
    t.false(r.error.includes('\n'), 'one line');
    t.deepEqual(r.log, [], `${extra.join(' ')}: no stage ran`);
    t.false(existsSync(out), `${extra.join(' ')} left its out folder`);
  }
});

test('oti and phi commands check their options before loading the model', async (t) => {
  const root = tempDir('model', t.teardown);
  const missing = join(root, 'no-model');
  t.is(await failure(['oti', '--run', root, '--model', missing, '--lr', '-5']), '--lr must be > 0, got -5');
  t.is(await failure(['oti', '--run', root, '--model', missing, '--ema-decay', '-1']), '--ema-decay must be in [0, 1), got -1');
  t.is(await failure(['phi', '--run', root, '--model', missing, '--val-fraction', '1.5']), '--val-fraction must be in [0, 1), got 1.5');
  t.is(await failure(['phi', '--run', root, '--model', missing, '--weight-decay', '-1']), '--weight-decay must be ≥ 0, got -1');
  t.regex(await failure(['oti', '--run', root, '--model', missing]), /model folder .*no-model does not exist/, 'good options reach the model');
  // top-k against what the run's concepts stage kept
  writeFileSync(join(root, 'run.json'), JSON.stringify({ format: 'starword-run', config: { concepts: { topK: 4 } } }));
  t.is(await failure(['oti', '--run', root, '--model', missing, '--oti-top-k', '5']), '--oti-top-k 5 is more than the 4 concepts per image this run kept (its --top-k)');
  t.is(await failure(['phi', '--run', root, '--model', missing]), '--top-k 150 is more than the 4 concepts per image this run kept (its --top-k)');
  t.regex(await failure(['oti', '--run', root, '--model', missing, '--oti-top-k', '4']), /model folder .*no-model does not exist/);
});

test('a source that does not exist or is empty leaves no run.json; the right source then works in that folder', async (t) => {
  const f = fixture(t.teardown);
  const out = join(f.root, 'out');
  const empty = join(f.root, 'empty');
  mkdirSync(empty);
  const withSource = (src: string) => runArgs(f, out, ['--until', 'ingest']).map((a) => (a === f.images ? src : a));
  t.regex((await run(withSource(join(f.root, 'nope')))).error, /^images source .*nope: no such file or folder$/);
  t.false(existsSync(out));
  t.regex((await run(withSource(empty))).error, /^images source .*empty: no images found$/);
  t.false(existsSync(out));
  const ok = await run(withSource(f.images));
  t.is(ok.error, '');
  t.true(ok.log.some((l) => /^ingest: 3 images .*; 1 file skipped as not an image \(\.txt 1\)$/.test(l)), ok.log.join('\n'));
  const report = inspectRun(out);
  t.deepEqual(report.skippedFiles, { count: 1, byExtension: { '.txt': 1 } });
  t.regex(formatReport(report), /^source: 1 file skipped as not an image \(\.txt 1\)$/m);
});

test('a model whose vocabulary the tokenizer does not fit is refused at load, naming the config keys', async (t) => {
  const f = fixture(t.teardown);
  const out = join(f.root, 'out');
  const keys = /config\.json: text_config\.vocab_size 1000 is too small for the CLIP tokenizer \(ids up to 49407: SOT 49406, EOT 49407; the config declares bos_token_id 998, eos_token_id 999\)/;
  const r = await run(runArgs(f, out, ['--until', 'concepts']).map((a) => (a === f.model ? GOLDEN_MODEL : a)));
  t.regex(r.error, keys);
  t.false(existsSync(out), 'refused before the run folder is made');
  t.regex(await failure(['concepts', '--model', GOLDEN_MODEL, '--features', join(f.root, 'none'), '--out', join(f.root, 'c'), '--vocab', f.vocab]), keys);
  // ids are not text: a run that stops before the text tower still takes the model
  t.is((await run(runArgs(f, join(f.root, 'embed-only'), ['--until', 'embed']).map((a) => (a === f.model ? GOLDEN_MODEL : a)))).error, '');
});

test('chat backend: word swap chosen automatically, said and recorded; --extra-body reaches the server as is', async (t) => {
  const f = fixture(t.teardown);
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  const bodies: Record<string, unknown>[] = [];
  server.faultFor((info) => { bodies.push(info.body); return null; });
  const out = join(f.root, 'out');
  const r = await run(runArgs(f, out, ['--until', 'phrases', '--backend', 'chat', '--base-url', server.baseURL, '--llm-model', 'test-chat',
    '--api-key-env', 'STARWORD_TEST_KEY', '--batch-n', '4', '--extra-body', '{"no_repeat_ngram_size": 2, "top_k": 40}']));
  t.is(r.error, '');
  t.true(r.log.some((l) => /^phrases: --swap word chosen for --backend chat .*pass --swap searle for SEARLE's rule$/.test(l)), r.log.join('\n'));
  const manifest = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: { phrases: Record<string, unknown> }; notes: string[]; warnings: string[] };
  t.is(manifest.config.phrases.swap, 'word');
  t.deepEqual(manifest.config.phrases.extraBody, { no_repeat_ngram_size: 2, top_k: 40 });
  t.is(manifest.notes.length, 1);
  t.regex(manifest.notes[0], /--swap word chosen for --backend chat/);
  t.deepEqual(manifest.warnings, [], 'an LLM wrote the phrases: no warning');
  t.true(bodies.length > 0);
  for (const b of bodies) {
    t.is(b.no_repeat_ngram_size, 2);
    t.is(b.top_k, 40);
    t.is(b.model, 'test-chat', 'starword\'s own fields stay');
  }
  t.regex(formatReport(inspectRun(out)), /^note: phrases: --swap word chosen for --backend chat/m);
});

test('template phrases feeding L_gpt of a real checkpoint: one warning line, kept in run.json, shown by inspect', async (t) => {
  const f = fixture(t.teardown);
  const out = join(f.root, 'out');
  const r = await run(runArgs(f, out));
  t.is(r.error, '');
  const warnings = r.log.filter((l) => l.startsWith('warning:'));
  t.is(warnings.length, 1, r.log.join('\n'));
  t.regex(warnings[0], /^warning: L_gpt is regularised with offline template phrases, not an LLM's \(no LLM model is configured\)/);
  const manifest = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: { phrases: { swap: string } }; warnings: string[] };
  t.is(manifest.config.phrases.swap, 'searle', 'SEARLE\'s exact swap by default');
  t.deepEqual(manifest.warnings, [warnings[0].replace(/^warning: /, '')]);
  t.regex(formatReport(inspectRun(out)), /^warning: L_gpt is regularised with offline template phrases/m);
  // the oti command alone tells it from the phrases parts, and records it once
  const otiArgs = ['oti', '--run', out, '--model', f.model, '--oti-top-k', '2', '--oti-steps', '2', '--oti-batch', '2', '--cache-dir', join(f.root, 'cache'), '--threads', '1'];
  for (let i = 0; i < 2; i++) t.is(await failure(otiArgs), '');
  const after = (JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { warnings: string[] }).warnings;
  t.is(after.length, 2);
  t.regex(after[1], /^L_gpt is regularised with offline template phrases, not an LLM's \(the phrases in .*phrases come from --backend templates\)/);
  // the same run on starword's own toy world says nothing
  const toy = await run(runArgs(f, join(f.root, 'toy')).map((a) => (a === f.model ? join(TOY, 'model') : a)));
  t.is(toy.error, '');
  t.false(toy.log.some((l) => l.startsWith('warning:')));
});

test('real checkpoint: not a make-model random model, not the vendored toy world', async (t) => {
  const f = fixture(t.teardown);
  t.true(isRealCheckpoint(f.model), 'a trained CLIP outside starword\'s data/ folder');
  t.false(isRealCheckpoint(join(TOY, 'model')));
  const made = await makeRandomModel({ preset: 'tiny', seed: 1, outDir: join(f.root, 'random'), overrides: { vocab: 500, textWidth: 16, textHeads: 2, visionWidth: 16, visionHeads: 2, projectionDim: 8 } });
  t.false(isRealCheckpoint(made.dir));
  t.regex(testModelReason(made.dir) ?? '', /make-model/);
});
