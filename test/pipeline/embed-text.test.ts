import test from 'ava';
import { spawnSync } from 'node:child_process';
import { TINY_MODEL_DIR, golden, relDiff, testCacheDir } from '../helpers/golden.ts';

const BIN = new URL('../../bin/starword.js', import.meta.url).pathname;
const env = { ...process.env, STARWORD_CACHE_DIR: testCacheDir() };

test('embed-text: ids, ids with a pseudo-token, and bad lines answered in order', (t) => {
  const g = golden();
  const input = [
    JSON.stringify({ ids: g.text.ids[1] }),
    'not json',
    JSON.stringify({ ids: g.oti.template_ids[0], pseudo: g.oti.v0[0] }),
    JSON.stringify({ ids: [1, 2, 100000] }),
    JSON.stringify({ ids: g.oti.template_ids[0], pseudo: [1, 2] }),
    JSON.stringify({ nothing: true }),
  ].join('\n');
  const r = spawnSync(process.execPath, [BIN, 'embed-text', '--model', TINY_MODEL_DIR], { input, env, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(out.length, 6);
  t.true(relDiff(out[0].features, g.text.features[1]) < 1e-4);
  t.regex(out[1].error, /not valid JSON/);
  // with v0 at `$`: L_cos against the golden image feature reproduces golden's lcos_at_v0
  const f = out[2].features as number[], img = g.image.features[0] as number[];
  const dot = f.reduce((s, x, i) => s + x * img[i], 0);
  const cos = dot / Math.hypot(...f) / Math.hypot(...img);
  t.true(Math.abs(1 - cos - g.oti.lcos_at_v0[0]) < 1e-5);
  t.regex(out[3].error, /integers in \[0, 1000\)/);
  t.regex(out[4].error, /"pseudo" must be 32 finite numbers/);
  t.regex(out[5].error, /expected \{"ids"/);
});

test('embed-text: a bad model folder is one line and exit 2', (t) => {
  const r = spawnSync(process.execPath, [BIN, 'embed-text', '--model', '/nonexistent/model'], { input: '', env, encoding: 'utf8' });
  t.is(r.status, 2);
  t.is(r.stderr.trim().split('\n').length, 1);
  t.regex(r.stderr, /does not exist/);
});
