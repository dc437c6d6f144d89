/**
 * phi's L_gpt swaps each phrase with the mode its phrases part was made with (the part's marker records
 * it): a 'word' part recases and inflects ("Two Red Circles" for "red circle"), so a case-sensitive
 * substring swap would leave no `$` and L_gpt would train nothing.
 */
import test from 'ava';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { writePart } from '../../schemas/part-io.ts';
import { swapAllFor } from '../../clip/text/pseudo-word-swap.ts';
import { PhiPhraseBank } from '../../stages/phi/phrase-bank.ts';
import { Rng } from '../../util/rng.ts';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { tempDir } from '../helpers/test-utils.ts';

const encoder: TextEncoder = {
  dim: 2, width: 4,
  encodeIds: async (ids) => ids.map(() => new Float32Array(2)),
  encodeTexts: async (texts) => texts.map(() => new Float32Array(2)),
};
const ids = (s: string) => Int32Array.from(s, (c) => c.charCodeAt(0));

async function partWith(dir: string, index: number, concept: string, phrase: string, swap: string | undefined): Promise<void> {
  const row = { concept, phrase, swapped: phrase, backend: 'chat', model: 'm', paramsHash: 'h' };
  await writePart(dir, phrasesSchema.KIND, index, phrasesSchema.toTable([row], { dim: 2, rows: [Float32Array.of(1, 2)] }), SCHEMA_VERSION,
    { inputsHash: `x${index}`, ...(swap ? { swap } : {}) });
}

test('phi swaps each part\'s phrases with that part\'s swap mode', async (t) => {
  const dir = tempDir('phi-swap', t.teardown);
  await partWith(dir, 0, 'red circle', 'Two Red Circles on a table', 'word');
  await partWith(dir, 1, 'blue box', 'a blue box, a Blue Box', 'searle');
  await partWith(dir, 2, 'green cup', 'a green cup', undefined); // a marker from before swap modes: SEARLE's
  const bank = await PhiPhraseBank.load(dir, new Set(['red circle', 'blue box', 'green cup']), ids, encoder);
  const rng = new Rng(1);
  const picked = [bank.pick('red circle', rng), bank.pick('blue box', rng), bank.pick('green cup', rng)];
  const prep = await bank.prepare(picked);
  const text = (a: Int32Array) => String.fromCharCode(...a);
  t.is(text(prep.ids[0]), 'Two  $  on a table');
  t.is(text(prep.ids[0]), swapAllFor('word')('Two Red Circles on a table', 'red circle'));
  t.is(text(prep.ids[1]), 'a  $ , a Blue Box', 'searle mode stays case-sensitive');
  t.is(text(prep.ids[2]), 'a  $ ');
  bank.close();
});
