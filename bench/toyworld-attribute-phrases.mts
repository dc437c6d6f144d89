// A throwaway diagnostic (docs/lincir.md, "Why LinCIR falls behind here"), not part of starword: a phrase
// store whose masked span names all four attributes of a toy image (size, colour, shape, background), so
// LinCIR's φ is taught to carry each; targets from the toy CLIP's own text tower. Run from the repository:
//   npx tsx bench/toyworld-attribute-phrases.mts OUT_DIR && starword lincir OUT_DIR --model data/toyworld/model ...
import { createTextEncoder } from '../clip/text-encoder.ts';
import { loadClipModel } from '../clip/weights.ts';
import { DIRECT_SOURCE, conceptRuns, packTexts, writeStorePart } from '../schemas/phrase-store.ts';
const model = await loadClipModel(new URL('../data/toyworld/model', import.meta.url).pathname);
const text = await createTextEncoder(model, { threads: 1, cacheDir: process.env.STARWORD_CACHE_DIR });
const shapes = ['circle', 'square', 'triangle', 'star', 'cross', 'heart', 'diamond', 'hexagon'];
const colours = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white', 'black'];
const bgs = ['a gray background', 'a pink background', 'a striped background', 'a checkered background'];
const sizes = ['small', 'large'];
const templates = ['a photo of {}', 'a picture of {}', 'a close-up photo of {}', 'a rendering of {}'];
const concepts: string[] = [], phrases: string[] = [], swapped: string[] = [];
for (const s of shapes) for (const c of colours) for (const b of bgs) for (const z of sizes) {
  const desc = `a ${z} ${c} ${s} on ${b}`;
  for (const t of templates) { concepts.push(desc); phrases.push(t.replace('{}', desc)); swapped.push(t.replace('{}', ' $ ')); }
}
const feats: Float32Array[] = [];
for (let i = 0; i < phrases.length; i += 256) feats.push(...await text.encodeTexts(phrases.slice(i, i + 256)));
const targets = new Float32Array(phrases.length * 128);
feats.forEach((f, i) => targets.set(f, i * 128));
writeStorePart(`${process.argv[2] ?? 'runs/toy-attributes'}/phrases`, 0, { rows: phrases.length, dim: 128, runs: conceptRuns(concepts), targets, phrase: packTexts(phrases), swapped: packTexts(swapped) }, DIRECT_SOURCE);
console.log(`${phrases.length} phrases, e.g. "${phrases[5]}" | "${swapped[5]}"`);
await text.release?.();
