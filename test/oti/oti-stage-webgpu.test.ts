/**
 * `starword oti --device webgpu` on a real run folder (sampled templates and phrases, several parts and batches, a
 * short last batch): the batches keep their state on the device, and the tokens equal the CPU run's within float32
 * rounding of 20 AdamW steps; run.json records the device each stage ran on, and `inspect` shows both.
 */
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { formatReport, inspectRun } from '../../pipeline/inspect-run.ts';
import { forEachDevice } from '../helpers/devices.ts';
import { relDiff } from '../helpers/golden.ts';
import { BIN, pipelineFixture, runArgs, runSync } from '../helpers/pipeline-run.ts';

function tokens(runDir: string): tokensSchema.TokenRow[] {
  const dir = join(runDir, 'oti');
  return listDoneParts(dir, tokensSchema.KIND).flatMap((i) => tokensSchema.fromTable(readPart(dir, tokensSchema.KIND, i)).rows)
    .sort((a, b) => a.imageId.localeCompare(b.imageId));
}

forEachDevice((deviceTest) => {
  deviceTest('the oti stage on WebGPU gives the CPU run\'s tokens, and run.json names the device', async (t) => {
    const f = await pipelineFixture(10);
    const base = join(f.root, 'base');
    const otiFlags = ['--oti-steps', '20', '--oti-batch', '4', '--oti-top-k', '10'];
    const prep = runSync(runArgs(f, base, ['--until', 'phrases', '--part-size', '6', ...otiFlags]));
    t.is(prep.status, 0, prep.stderr);
    const runs = Object.fromEntries(['cpu', 'webgpu'].map((device) => {
      const dir = join(f.root, device);
      cpSync(base, dir, { recursive: true });
      const r = runSync([BIN, 'oti', '--run', dir, '--model', f.model, '--cache-dir', f.cache, '--threads', '1', '--device', device, ...otiFlags]);
      t.is(r.status, 0, r.stderr);
      return [device, dir];
    }));
    const [cpu, gpu] = [tokens(runs.cpu), tokens(runs.webgpu)];
    t.true(cpu.length >= 8, `${cpu.length} tokens`);
    t.deepEqual(gpu.map((r) => [r.imageId, r.status, r.steps, r.seed]), cpu.map((r) => [r.imageId, r.status, r.steps, r.seed]));
    let worst = 0;
    cpu.forEach((r, i) => {
      for (const k of ['token', 'ema'] as const) worst = Math.max(worst, relDiff(gpu[i][k]!, r[k]!));
    });
    t.log(`${cpu.length} images, 20 steps: largest relative difference of a token or EMA, webgpu vs cpu: ${worst.toExponential(2)}`);
    t.true(worst < 1e-4);
    const stages = JSON.parse(readFileSync(join(runs.webgpu, 'run.json'), 'utf8')).stages;
    t.regex(stages.oti.device, /^webgpu on \S/);
    t.regex(stages.embed.device, /^cpu on /);
    t.is(stages.oti.status, 'done');
    t.true(stages.oti.seconds > 0);
    const line = formatReport(inspectRun(runs.webgpu)).split('\n').find((l) => l.startsWith('device: '));
    t.log(line);
    t.regex(line ?? '', /^device: cpu on .*\(ingest, embed, concepts, phrases\); webgpu on .*\(oti\)$/);
  });
}, ['webgpu']);
