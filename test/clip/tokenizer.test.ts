/**
 * CLIP tokenizer: the 109 reference vectors (OpenAI's SimpleTokenizer with ftfy), cleaning cases whose
 * ids the same reference computed, truncation, decode, Hugging Face files, model folders, and the CLI.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { bytesToUnicode, byteVocabOrder } from '../../clip/text/bpe-text.ts';
import { UserError } from '../../util/errors.ts';
import { tempDir as sharedTempDir } from '../helpers/test-utils.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VECTORS = join(ROOT, 'test/fixtures/clip-tokenizer-vectors.jsonl');
const SOT = 49406;
const EOT = 49407;

interface Vector { text: string; ids: number[] }
const vectors: Vector[] = readFileSync(VECTORS, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Vector);

function padded(ids: number[], length = 77): number[] {
  return [...ids, ...new Array<number>(length - ids.length).fill(0)];
}

function tempDir(): string {
  return sharedTempDir('tok');
}

// ---- the reference vectors ------------------------------------------------------------------------

test('the fixture holds the 109 reference vectors', (t) => {
  t.is(vectors.length, 109);
});

vectors.forEach(({ text, ids }, i) => {
  test(`vector ${i + 1}: ${JSON.stringify(text).slice(0, 80)}`, (t) => {
    t.deepEqual(Array.from(ClipTokenizer.default().tokenize(text)), padded(ids), `text ${JSON.stringify(text)}`);
  });
});

// Ids from OpenAI's SimpleTokenizer (with ftfy 6.3) on strings that exercise ftfy's fixes, html.unescape,
// Unicode whitespace, case and the piece pattern.
const CLEANING: [string, number[]][] = [
  ["dog\u2019s \u201cbest\u201d friend", [49406, 1929, 568, 257, 949, 257, 1625, 49407]],
  ["\ufb01sh \ufb02akes", [49406, 2759, 20934, 49407]],
  ["\uff26\uff35\uff2c\uff2c \uff57\uff49\uff44\uff54\uff48\u3000space", [49406, 1476, 23571, 2138, 49407]],
  ["&eacute;t&eacute; &EACUTE;T&EACUTE;", [49406, 3459, 39694, 3459, 39694, 49407]],
  ["<b>&amp;amp;</b>", [49406, 283, 321, 29, 5, 34308, 321, 285, 49407]],
  ["&amp;amp;amp;amp; x", [49406, 261, 343, 49407]],
  ["cafe\u0301 vs caf\u00e9", [49406, 15304, 1547, 15304, 49407]],
  ["tab\tnew\nline\r\nCR\rNEL\u0085LS\u2028PS\u2029", [49406, 14724, 686, 1148, 3483, 2693, 959, 1268, 814, 49407]],
  ["\ufeffbom \u200bzwsp \u00a0nbsp \u3000ideo", [49406, 19469, 9844, 89, 86, 4393, 6459, 4393, 1909, 334, 49407]],
  ["\u001b[31mred\u001b[0m", [49406, 736, 49407]],
  ["ctrl\u0001\u0007\u001fchars\u007f", [49406, 35602, 75, 540, 864, 49407]],
  ["C1 \u0080\u0093quoted\u0094 \u0081", [49406, 322, 272, 34919, 257, 27706, 257, 126, 479, 49407]],
  ["\u0130stanbul \u03a3\u0391\u03a3 \u039f\u0394\u039f\u03a3 stra\u00dfe \u01c5emal", [49406, 328, 16384, 11231, 139, 225, 138, 109, 139, 480, 138, 123, 138, 112, 138, 123, 139, 480, 1894, 127, 253, 324, 67, 129, 122, 908, 566, 49407]],
  ["\u01c4 \u0133ssel \u0149", [49406, 67, 129, 378, 7337, 19373, 262, 333, 49407]],
  ["<|startoftext|>hi<|endoftext|>", [49406, 49406, 1883, 49407, 49407]],
  ["<|ENDOFTEXT|> upper", [49406, 49407, 7067, 49407]],
  ["I'M HE'S 'S'T 'RE", [49406, 328, 880, 797, 568, 568, 713, 982, 49407]],
  ["x'\u017f dog'\u017f", [49406, 343, 6, 129, 379, 1929, 6, 129, 379, 49407]],
  ["\u2170\u2171\u2172 \u216b \u00bd \u00b2 \u0661\u0662\u0663 \u0e51\u0e52", [49406, 158, 227, 364, 158, 227, 365, 158, 227, 366, 158, 227, 375, 33613, 41175, 149, 350, 149, 351, 149, 352, 4484, 495, 4484, 496, 49407]],
  ["\ud83c\uddeb\ud83c\uddf7 \ud83d\udc69\u200d\ud83d\udc69\u200d\ud83d\udc67 \u2764\ufe0f", [49406, 16223, 26304, 26304, 964, 356, 1752, 49407]],
  ["\uff8a\uff9d\uff76\uff78 \uff76\uff80\uff76\uff85", [49406, 2429, 237, 17671, 37367, 3909, 363, 37367, 34941, 37367, 2429, 488, 49407]],
  ["a\u0345b", [49406, 320, 321, 49407]],
  ["\ud83d lone", [49406, 39802, 13576, 49407]],
  ["\ud835\udca5ohn \u210bancock", [49406, 43387, 98, 48043, 8604, 233, 514, 622, 868, 49407]],
  ["&lt;tag&gt; & &gt;", [49406, 283, 3640, 285, 261, 285, 49407]],
  ["line1 <\n&amp; line2", [49406, 1148, 272, 283, 261, 1148, 273, 49407]],
  ["&nbsp;&nbsp;x&nbsp;", [49406, 343, 49407]],
  ["\u00c3\u00a9", [49406, 4166, 49407]],
  ["&#13;&#10; x &#x0c;y", [49406, 343, 344, 49407]],
  ["   ", [49406, 49407]],
  ["\u000b\f", [49406, 49407]],
];

CLEANING.forEach(([text, ids]) => {
  test(`cleaning: ${JSON.stringify(text)}`, (t) => {
    t.deepEqual(Array.from(ClipTokenizer.default().tokenize(text)), padded(ids), `text ${JSON.stringify(text)}`);
  });
});

// ---- vocabulary, SOT/EOT, the pseudo-word -----------------------------------------------------------

test('vocabulary: 49,408 ids, SOT 49406, EOT 49407, "$</w>" 259, byte tokens first', (t) => {
  const tok = ClipTokenizer.default();
  t.is(tok.vocabSize, 49408);
  t.is(tok.sot, SOT);
  t.is(tok.eot, EOT);
  t.is(tok.idOf('$</w>'), 259);
  t.is(tok.idOf('!'), 0);
  t.is(tok.idOf('!</w>'), 256);
  t.is(tok.idOf('<|startoftext|>'), SOT);
  t.is(tok.idOf('no such token'), undefined);
  t.is(ClipTokenizer.default(), tok, 'memoised');
});

test('bytes_to_unicode: 256 distinct characters, printable bytes map to themselves', (t) => {
  const table = bytesToUnicode();
  t.is(new Set(table).size, 256);
  t.is(table[0x41], 'A');
  t.is(table[0x20], 'Ġ');
  t.is(table[0x00], 'Ā');
  t.is(byteVocabOrder()[0], '!');
  t.is(byteVocabOrder()[188], 'Ā');
});

test("'$' alone and in a template gives 259 between SOT and EOT", (t) => {
  const tok = ClipTokenizer.default();
  t.deepEqual(Array.from(tok.tokenize(' $ ')), padded([SOT, 259, EOT]));
  t.deepEqual(tok.encode('a photo of $ that is red'), [320, 1125, 539, 259, 682, 533, 736]);
});

// ---- truncation ---------------------------------------------------------------------------------

test('an exact fit keeps every id; one more id is cut to contextLength-2 ids then EOT', (t) => {
  const tok = ClipTokenizer.default();
  const fits = tok.tokenize('a '.repeat(75));
  t.is(fits.length, 77);
  t.deepEqual(Array.from(fits), [SOT, ...new Array<number>(75).fill(320), EOT]);
  const over = tok.tokenize('a '.repeat(76));
  t.deepEqual(Array.from(over), [SOT, ...new Array<number>(75).fill(320), EOT]);
  const long = 'the quick brown fox jumps over the lazy dog '.repeat(20);
  const ids = tok.encode(long);
  t.true(ids.length > 75);
  t.deepEqual(Array.from(tok.tokenize(long)), [SOT, ...ids.slice(0, 75), EOT]);
});

test('a smaller context length pads and cuts the same way', (t) => {
  const tok = ClipTokenizer.default();
  t.deepEqual(Array.from(tok.tokenize('a photo', 6)), [SOT, 320, 1125, EOT, 0, 0]);
  t.deepEqual(Array.from(tok.tokenize('a photo of a dog', 4)), [SOT, 320, 1125, EOT]);
  t.throws(() => tok.tokenize('a', 1), { instanceOf: RangeError });
  const batch = tok.tokenizeBatch(['a', 'a photo'], 5);
  t.deepEqual(batch.map((row) => Array.from(row)), [[SOT, 320, EOT, 0, 0], [SOT, 320, 1125, EOT, 0]]);
});

// ---- decode -------------------------------------------------------------------------------------

test('decode inverts encode on plain text, as the reference: one space after each word', (t) => {
  const tok = ClipTokenizer.default();
  const plain = 'a photo of a dog that is running on the beach';
  t.is(tok.decode(tok.encode(plain)), `${plain} `);
  t.is(tok.decode(tok.encode('A photo of a Dog')), 'a photo of a dog ');
  t.is(tok.decode(tok.encode('naïve café 日本語')), 'naïve café 日本語 ');
  t.is(tok.decode([SOT, 320, EOT]), '<|startoftext|>a <|endoftext|>');
  t.throws(() => tok.decode([49408]), { instanceOf: RangeError });
});

// ---- Hugging Face files and model folders ------------------------------------------------------------

const MERGE_SUBSET = 12000;

/** Writes vocab.json + merges.txt (HF layout) holding the vendored vocabulary's first merges, real ids kept. */
function writeSmallHfTokenizer(dir: string): void {
  const bpe = gunzipSync(readFileSync(join(ROOT, 'data/clip-bpe-vocab-16e6.txt.gz'))).toString('utf8');
  const merges = bpe.split('\n').slice(1, 1 + MERGE_SUBSET);
  const bytes = byteVocabOrder();
  const vocab: Record<string, number> = {};
  bytes.forEach((b, i) => { vocab[b] = i; vocab[`${b}</w>`] = 256 + i; });
  merges.forEach((m, i) => { vocab[m.split(' ').join('')] = 512 + i; });
  vocab['<|startoftext|>'] = SOT;
  vocab['<|endoftext|>'] = EOT;
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
}

test('fromFiles with a small HF vocab.json + merges.txt gives the default ids', (t) => {
  const dir = tempDir();
  try {
    writeSmallHfTokenizer(dir);
    const small = ClipTokenizer.fromFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
    const full = ClipTokenizer.default();
    t.is(small.sot, SOT);
    t.is(small.eot, EOT);
    t.is(small.vocabSize, 49408);
    t.is(small.idOf('$</w>'), 259);
    for (const text of ['a photo of a dog', 'We see a  $  in this image', 'the cat sat on the bed', 'Toilet seat']) {
      const expected = Array.from(full.tokenize(text));
      t.true(expected.every((id) => id < 512 + MERGE_SUBSET || id >= SOT), `${text}: ids within the subset`);
      t.deepEqual(Array.from(small.tokenize(text)), expected, text);
    }
    // A word needing later merges splits further with fewer merges: the files really are what is read.
    t.notDeepEqual(small.encode('supercalifragilisticexpialidocious'), full.encode('supercalifragilisticexpialidocious'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fromFiles: unreadable or malformed files are one-line UserErrors', (t) => {
  const dir = tempDir();
  try {
    writeSmallHfTokenizer(dir);
    const vocab = join(dir, 'vocab.json');
    t.throws(() => ClipTokenizer.fromFiles(join(dir, 'missing.json'), join(dir, 'merges.txt')), { instanceOf: UserError, message: /cannot read .*missing\.json/ });
    writeFileSync(join(dir, 'bad-merges.txt'), '#version: 0.2\ni n\nt h e\n');
    t.throws(() => ClipTokenizer.fromFiles(vocab, join(dir, 'bad-merges.txt')), { instanceOf: UserError, message: /merge line 3 is not two symbols/ });
    writeFileSync(join(dir, 'bad-vocab.json'), '[1, 2]');
    t.throws(() => ClipTokenizer.fromFiles(join(dir, 'bad-vocab.json'), join(dir, 'merges.txt')), { instanceOf: UserError, message: /expected a JSON object/ });
    writeFileSync(join(dir, 'no-specials.json'), JSON.stringify({ a: 0 }));
    writeFileSync(join(dir, 'empty-merges.txt'), '#version: 0.2\n');
    t.throws(() => ClipTokenizer.fromFiles(join(dir, 'no-specials.json'), join(dir, 'empty-merges.txt')), { instanceOf: UserError, message: /lacks <\|startoftext\|>/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forModelDir: HF files when present, the vendored vocabulary otherwise, clear errors on a bad folder', async (t) => {
  const dir = tempDir();
  try {
    t.is(await ClipTokenizer.forModelDir(dir), ClipTokenizer.default(), 'no tokenizer files: the vendored vocabulary');
    writeSmallHfTokenizer(dir);
    const fromDir = await ClipTokenizer.forModelDir(dir);
    t.not(fromDir, ClipTokenizer.default());
    t.notDeepEqual(fromDir.encode('supercalifragilisticexpialidocious'), ClipTokenizer.default().encode('supercalifragilisticexpialidocious'));
    rmSync(join(dir, 'merges.txt'));
    await t.throwsAsync(ClipTokenizer.forModelDir(dir), { instanceOf: UserError, message: /vocab\.json but no merges\.txt/ });
    await t.throwsAsync(ClipTokenizer.forModelDir(join(dir, 'nope')), { instanceOf: UserError, message: /does not exist or is not a folder/ });
    await t.throwsAsync(ClipTokenizer.forModelDir(join(dir, 'vocab.json')), { instanceOf: UserError, message: /not a folder/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the CLI ------------------------------------------------------------------------------------

function runCli(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/starword.js'), ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

test('CLI tokenize: a good line gives 77 ids, a bad line an error, and the run goes on', async (t) => {
  const input = `${JSON.stringify({ text: 'A photo of a  $ ' })}\n{"caption": 3}\n${JSON.stringify({ text: 'Toilet seat' })}\n`;
  const { code, stdout, stderr } = await runCli(['tokenize'], input);
  t.is(code, 0, stderr);
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(lines.length, 3);
  t.deepEqual(lines[0], { text: 'A photo of a  $ ', ids: padded([SOT, 320, 1125, 539, 320, 259, EOT]) });
  t.regex(String(lines[1].error), /line 2: "text" must be a string/);
  t.deepEqual(lines[2], { text: 'Toilet seat', ids: padded([SOT, 11071, 4922, EOT]) });
});

test('CLI tokenize --model: a folder that does not exist exits 2 with one line', async (t) => {
  const dir = tempDir();
  try {
    const { code, stdout, stderr } = await runCli(['tokenize', '--model', join(dir, 'absent')], '');
    t.is(code, 2);
    t.is(stdout, '');
    t.regex(stderr, /^starword: model folder .*absent does not exist or is not a folder\n$/);
    mkdirSync(join(dir, 'model'));
    const ok = await runCli(['tokenize', '--model', join(dir, 'model')], '{"text": "a"}\n');
    t.is(ok.code, 0, ok.stderr);
    t.deepEqual(JSON.parse(ok.stdout), { text: 'a', ids: padded([SOT, 320, EOT]) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
