import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type RunRequest, checkCompatible, configFingerprint, diffKeys, finishStage, openRunManifest, packageVersions, readRunManifest, startStage,
} from '../../pipeline/run-manifest.ts';
import { UserError } from '../../util/errors.ts';
import { tempDir } from '../embed/helpers.ts';

const base = (): RunRequest => ({
  config: { images: '/data', partSize: 1000, embed: { preprocess: 'targetpad' }, oti: { steps: 350, lr: 0.02 } },
  model: { dir: '/models/b32', hash: 'aaaa' },
  sources: { vocabulary: { path: 'oidv7.csv', hash: 'v1' }, phrases: { backend: 'templates' } },
  seeds: { oti: 0 },
  shard: { index: 0, count: 2 },
  runtime: { threads: 2 },
});

test('fingerprint: equal across shards and runtime settings, changes with config, model, sources, seeds', (t) => {
  const a = base();
  t.is(configFingerprint(a), configFingerprint({ ...a, shard: { index: 1, count: 2 }, runtime: { threads: 16 } }));
  t.not(configFingerprint(a), configFingerprint({ ...a, config: { ...a.config, oti: { steps: 100, lr: 0.02 } } }));
  t.not(configFingerprint(a), configFingerprint({ ...a, model: { dir: '/models/b32', hash: 'bbbb' } }));
  t.not(configFingerprint(a), configFingerprint({ ...a, seeds: { oti: 1 } }));
  t.not(configFingerprint(a), configFingerprint({ ...a, shard: { index: 0, count: 3 } }));
});

test('checkCompatible names the differing keys, passes when forced', (t) => {
  const a = base();
  t.deepEqual(checkCompatible(a, { ...a, runtime: { threads: 8 } }, false), []);
  const b = { ...a, config: { ...a.config, oti: { steps: 100, lr: 0.02 } }, model: { dir: '/m', hash: 'cccc' } };
  const err = t.throws(() => checkCompatible(a, b, false), { instanceOf: UserError });
  t.regex(err!.message, /config\.oti\.steps 350 → 100/);
  t.regex(err!.message, /model "aaaa" → "cccc"/);
  t.regex(err!.message, /--force/);
  t.false(err!.message.includes('\n'));
  t.deepEqual(checkCompatible(a, b, true).sort(), ['config.oti.steps', 'model']);
  t.throws(() => checkCompatible(a, { ...a, shard: { index: 1, count: 2 } }, false), { message: /shard index 0 → 1/ });
});

test('diffKeys walks nested objects and arrays as values', (t) => {
  t.deepEqual(diffKeys({ a: 1, b: { c: [1, 2], d: 'x' } }, { a: 1, b: { c: [1, 3], e: 1 } }), ['b.c', 'b.d', 'b.e']);
  t.deepEqual(diffKeys({ a: undefined }, {}), []);
});

test('openRunManifest: creates, reopens compatibly keeping stage records, refuses a changed config', (t) => {
  const dir = tempDir('manifest');
  const m = openRunManifest(dir, base());
  t.is(m.format, 'starword-run');
  t.is(m.packages['apache-arrow'], JSON.parse(readFileSync(join(process.cwd(), 'node_modules/apache-arrow/package.json'), 'utf8')).version);
  t.is(m.packages.node, process.version);
  startStage(dir, 'embed');
  t.is(readRunManifest(dir)?.stages.embed.status, 'running');
  finishStage(dir, 'embed', { seconds: 1.5, counts: { images: 10, failed: 2 }, timings: { read_s: 0.5 } });
  const again = openRunManifest(dir, { ...base(), runtime: { threads: 4 } });
  t.is(again.stages.embed.status, 'done');
  t.deepEqual(again.stages.embed.counts, { images: 10, failed: 2 });
  t.is(again.runtime.threads, 4);
  t.throws(() => openRunManifest(dir, { ...base(), seeds: { oti: 9 } }), { message: /seeds\.oti 0 → 9/ });
  t.is(openRunManifest(dir, { ...base(), seeds: { oti: 9 } }, true).seeds.oti, 9);
  t.deepEqual(readdirSync(dir), ['run.json']); // atomic writes leave no temporary files
});

test('packageVersions reports missing packages rather than failing', (t) => {
  const v = packageVersions(tempDir('nopkgs'));
  t.is(v.sharp, 'missing');
  t.is(v.node, process.version);
});
