/**
 * `starword run` with its LLM server down (OPENAI_BASE_URL at a closed loopback port), as a user meets it:
 * the run stops after the phrases stage with one line and a non-zero exit, after a bounded number of
 * attempts; with --allow-empty-phrases it goes on (OTI and phi warn that L_gpt is off), and `inspect` and `report` show
 * the failures and the warnings.
 */
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BIN, pipelineFixture, runArgs, runSync } from '../helpers/pipeline-run.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

test('LLM server down: the run stops with one line; --allow-empty-phrases goes on and inspect and report count the failures', async (t) => {
  const f = await pipelineFixture(8);
  t.teardown(() => rmSync(f.root, { recursive: true, force: true }));
  const out = join(f.root, 'run');
  const env = { OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1`, OPENAI_API_KEY: 'k', STARWORD_LLM_MODEL: '' };
  const llm = ['--backend', 'completions', '--llm-model', 'm'];

  const stopped = runSync(runArgs(f, out, llm), env);
  t.not(stopped.status, 0, stopped.stderr);
  const last = stopped.stderr.trim().split('\n').at(-1) ?? '';
  t.regex(last, /^starword: phrases: no phrases for any of \d+ concepts \(\d+ failed: connection error: .*ECONNREFUSED.*\).*--allow-empty-phrases/);
  t.false(/^oti: /m.test(stopped.stderr), 'OTI did not run');
  // 16 requests in flight (the default): 32 refusals in a row open the breaker; not 7 attempts per concept
  const retryLines = stopped.stderr.split('\n').filter((l) => /; retry \d+\/\d+/.test(l)).length;
  t.true(retryLines <= 48, `${retryLines} retry lines`);
  t.regex(stopped.stderr, /LLM server down: .*refused \d+ connections in a row/);

  // phi too goes on without L_gpt only because it was allowed, and says so (it trained silently before)
  const goOn = runSync(runArgs(f, out, [...llm, '--allow-empty-phrases', '--phi', '--phi-epochs', '1', '--phi-batch', '2', '--phi-keep-last-batch', '--phi-top-k', '10']), env);
  t.is(goOn.status, 0, goOn.stderr);
  t.regex(goOn.stderr, /warning: oti: no phrases in .*: L_gpt is off for every image \(--allow-empty-phrases\)/);
  t.regex(goOn.stderr, /warning: phi: no phrases in .*: L_gpt is off for every image \(--allow-empty-phrases\)/);
  const concepts = Number(/phrases: (\d+) concepts needed/.exec(goOn.stderr)?.[1]);
  t.true(concepts > 0);

  const inspect = runSync([BIN, 'inspect', out]);
  t.is(inspect.status, 0, inspect.stderr);
  // the 3 broken images of the fixture fail in embed; every concept fails in phrases
  const failures = Number(/^failures: (\d+)$/m.exec(inspect.stdout)?.[1]);
  t.is(failures, concepts + f.broken, inspect.stdout);
  t.regex(inspect.stdout, new RegExp(`^  llm-failed\\s+${concepts}$`, 'm'));
  t.regex(inspect.stdout, /^warning: phrases: no phrases for any of \d+ concepts .*went on without L_gpt \(--allow-empty-phrases\)$/m);
  t.regex(inspect.stdout, /^warning: oti: no phrases in .*: L_gpt is off for every image \(--allow-empty-phrases\)$/m);
  t.regex(inspect.stdout, /^warning: phi: no phrases in .*: L_gpt is off for every image \(--allow-empty-phrases\)$/m);

  const report = runSync([BIN, 'report', out, '--out', join(f.root, 'report')]);
  t.is(report.status, 0, report.stderr);
  const html = readFileSync(join(f.root, 'report', 'index.html'), 'utf8');
  t.regex(html, new RegExp(`id="count-failures">${failures}<`));
  t.regex(html, /no phrases for any of \d+ concepts/);
});
