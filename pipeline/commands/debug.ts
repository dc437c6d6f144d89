/** `starword debug oti`: one OTI problem (golden.json's `oti` fields + image_features) on stdin → one JSON line. */
import type { Command } from 'commander';
import { addSharedOptions, sessionOptionsFrom, sharedOptionsFrom } from '../shared-options.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { parseOtiProblem, solveOtiProblem } from '../../stages/oti/debug-problem.ts';
import { UserError } from '../../util/errors.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  const debug = program.command('debug').description('inspect single computations');
  const oti = debug.command('oti')
    .description('loss, L_cos, L_gpt and gradient at v0, then v and EMA after adamw.steps steps');
  addSharedOptions(oti, { keys: ['model', 'threads', 'device', 'cacheDir'], requireModel: true });
  oti.action(async (o: Record<string, unknown>) => {
      const text = await readStdin();
      let json: unknown;
      try { json = JSON.parse(text); } catch (err) { throw new UserError(`stdin: not valid JSON (${(err as Error).message})`); }
      const problem = parseOtiProblem(json);
      const shared = sharedOptionsFrom(o);
      const model = await loadClipModel(shared.model!);
      const opts = sessionOptionsFrom(shared);
      const [session, encoder] = await Promise.all([OtiSession.create(model, opts), createTextEncoder(model, opts)]);
      process.stdout.write(`${JSON.stringify(await solveOtiProblem(problem, session, encoder))}\n`);
    });
}
