/**
 * A synthetic run folder for phi tests: random image features, OTI tokens that are a fixed linear map
 * of them (so phi has something to learn), a few concepts per image and template-like phrases, plus a
 * small random CLIP with the OpenAI vocabulary size (so real phrases tokenize) written to disk.
 */
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as conceptsSchema from '../../schemas/concepts.ts';
import * as featuresSchema from '../../schemas/features.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { writePart } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { Rng } from '../../util/rng.ts';
import { tempDir } from '../helpers/test-utils.ts';

export const SYN_DIMS = {
  textWidth: 16, textLayers: 1, textHeads: 2, textMlp: 32, vocab: 49408, ctx: 77,
  visionWidth: 16, visionLayers: 1, visionHeads: 2, visionMlp: 32, imageSize: 32, patchSize: 16, projectionDim: 8,
};

export const CONCEPTS = ['cat', 'dog', 'tree', 'car', 'boat', 'house'];
const ENDINGS = ['is sleeping on a bed', 'stands in the rain', 'looks at the cat next to it', 'is red and old'];

export async function makeSyntheticModel(): Promise<string> {
  const dir = tempDir('phi-model');
  await makeRandomModel({ preset: 'tiny', seed: 3, outDir: dir, overrides: SYN_DIMS });
  return dir;
}

/** Writes embed/oti/concepts/phrases parts for `n` images in two parts; returns the run folder. */
export async function makeSyntheticRun(n: number, seed = 1): Promise<string> {
  const run = tempDir('phi-run');
  const rng = new Rng(seed);
  const d = SYN_DIMS.projectionDim, D = SYN_DIMS.textWidth;
  const A = rng.fillNormal(new Float32Array(D * d)); // token = A·x
  const half = Math.ceil(n / 2);
  for (const [part, from, to] of [[0, 0, half], [1, half, n]] as const) {
    const feats: featuresSchema.FeatureRow[] = [], toks: tokensSchema.TokenRow[] = [], cons: conceptsSchema.ConceptsRow[] = [];
    for (let i = from; i < to; i++) {
      const id = `img-${String(i).padStart(4, '0')}`;
      const x = rng.fillNormal(new Float32Array(d));
      const t = new Float32Array(D);
      for (let r = 0; r < D; r++) for (let c = 0; c < d; c++) t[r] += A[r * d + c] * x[c];
      feats.push({ imageId: id, features: x });
      // one failed OTI row per part: it must be left out
      const failed = i === from;
      toks.push({ imageId: id, token: failed ? null : t, ema: failed ? null : t, lcos: 0.5, lgpt: 0.1, steps: 5, seed: 0,
        status: failed ? 'failed' : 'ok', error: failed ? 'non-finite' : null });
      const cs = rng.shuffle(CONCEPTS.slice()).slice(0, 3);
      cons.push({ imageId: id, concepts: cs, scores: Float32Array.from(cs, (_, k) => 0.3 - 0.01 * k) });
    }
    await writePart(stageDir(run, 'embed'), featuresSchema.KIND, part, featuresSchema.toTable(feats, d), SCHEMA_VERSION);
    await writePart(stageDir(run, 'oti'), tokensSchema.KIND, part, tokensSchema.toTable(toks, D), SCHEMA_VERSION);
    await writePart(stageDir(run, 'concepts'), conceptsSchema.KIND, part, conceptsSchema.toTable(cons), SCHEMA_VERSION);
  }
  // phrases without targets: phi computes them through the text encoder
  const rows: phrasesSchema.PhraseRow[] = CONCEPTS.flatMap((c) => ENDINGS.map((e) => {
    const phrase = `a photo of ${c} that ${e}`;
    return { concept: c, phrase, swapped: phrase.replace(c, ' $ '), backend: 'templates', model: 'test', paramsHash: 'x' };
  }));
  await writePart(stageDir(run, 'phrases'), phrasesSchema.KIND, 0, phrasesSchema.toTable(rows), SCHEMA_VERSION);
  return run;
}
