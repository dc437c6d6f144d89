/**
 * `starword debug oti`: one OTI problem in golden.json's `oti` layout, solved with the real graph:
 * loss, per-image L_cos/L_gpt and gradient at v0 (the gradient graph), then v* and its EMA after `adamw.steps`
 * AdamW steps on the same rows (no sampling: the given template and phrase every step), through the batch state
 * the stage uses on this device (on the host, or on the device with AdamW in the graph).
 */
import { z } from 'zod';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { UserError } from '../../util/errors.ts';
import type { OtiSession } from './oti-session.ts';

const matrix = z.array(z.array(z.number()));
export const otiProblemSchema = z.object({
  v0: matrix,
  template_ids: z.array(z.array(z.number().int())),
  phrase_ids: z.array(z.array(z.number().int())),
  target_phrase_ids: z.array(z.array(z.number().int())),
  image_features: matrix,
  lambda_cos: z.number().default(1),
  lambda_gpt: z.number().default(0.5),
  adamw: z.object({
    lr: z.number().default(2e-2), betas: z.tuple([z.number(), z.number()]).default([0.9, 0.999]),
    eps: z.number().default(1e-8), weight_decay: z.number().default(0.01),
    steps: z.number().int().nonnegative().default(5), ema_decay: z.number().default(0.99),
  }).default({ lr: 2e-2, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01, steps: 5, ema_decay: 0.99 }),
}).loose();

export type OtiProblem = z.infer<typeof otiProblemSchema>;

export function parseOtiProblem(json: unknown): OtiProblem {
  const r = otiProblemSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`OTI problem: ${issue.path.join('.') || 'input'}: ${issue.message}`);
  }
  const p = r.data;
  const B = p.v0.length;
  for (const [name, rows] of [['template_ids', p.template_ids], ['phrase_ids', p.phrase_ids], ['target_phrase_ids', p.target_phrase_ids], ['image_features', p.image_features]] as const) {
    if (rows.length !== B) throw new UserError(`OTI problem: ${name} has ${rows.length} rows, v0 has ${B}`);
  }
  return p;
}

export async function solveOtiProblem(p: OtiProblem, session: OtiSession, text: TextEncoder) {
  const W = session.width, P = session.dim;
  if (p.v0.some((r) => r.length !== W)) throw new UserError(`OTI problem: v0 rows must have the model's token width ${W}`);
  if (p.image_features.some((r) => r.length !== P)) throw new UserError(`OTI problem: image_features rows must have the model's projection dim ${P}`);
  const targets = await text.encodeIds(p.target_phrase_ids.map((r) => Int32Array.from(r)));
  const input = {
    v: Float32Array.from(p.v0.flat()), image: Float32Array.from(p.image_features.flat()),
    target: Float32Array.from(targets.flatMap((t) => [...t])),
    templateIds: p.template_ids, phraseIds: p.phrase_ids, lambdaCos: p.lambda_cos, lambdaGpt: p.lambda_gpt,
  };
  const at0 = await session.step(input);
  const state = await session.begin(input.v.slice(), input.image, {
    adamw: { lr: p.adamw.lr, betas: p.adamw.betas, eps: p.adamw.eps, weightDecay: p.adamw.weight_decay },
    emaDecay: p.adamw.ema_decay, lambdaCos: p.lambda_cos, lambdaGpt: p.lambda_gpt, gradScale: 1,
  });
  const all = p.v0.map(() => true);
  for (let s = 0; s < p.adamw.steps; s++) {
    await state.step({ target: input.target, templateIds: input.templateIds, phraseIds: input.phraseIds, gptMask: all, active: all });
  }
  const { v, ema } = await state.finish();
  const rows = (a: Float32Array) => Array.from({ length: p.v0.length }, (_, r) => Array.from(a.subarray(r * W, (r + 1) * W)));
  return { loss: at0.loss, lcos: Array.from(at0.lcos), lgpt: Array.from(at0.lgpt), grad: rows(at0.grad), v: rows(v), ema: rows(ema) };
}
