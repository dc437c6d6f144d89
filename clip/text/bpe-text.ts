/**
 * Text side of CLIP's tokenizer: the byte↔unicode table, the cleaning that OpenAI's SimpleTokenizer
 * applies before BPE (ftfy.fix_text, html.unescape twice, whitespace collapse, lowercase) and the regex
 * that cuts the cleaned text into pieces.
 *
 * ftfy cannot be shipped, so its default fixes are reproduced except the mojibake repair (fix_encoding):
 * C1 controls as Windows-1252, Latin ligatures, full/half width, curly quotes, line breaks, surrogates,
 * terminal escapes, control characters, NFC, and its semicolon-only HTML unescape, repeated to a fixed
 * point as ftfy does. HTML entities are the HTML 4 set plus the upper-case legacy names (every name
 * Python accepts without a semicolon is in it); rarer HTML 5 names pass through unchanged.
 */

/** OpenAI's bytes_to_unicode(): byte value → the printable character that stands for it in the vocabulary. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  }
  return table;
}

/** The vocabulary's first 256 entries in the reference's order: bytes_to_unicode().values(), printable bytes first. */
export function byteVocabOrder(): string[] {
  const table = bytesToUnicode();
  const order: number[] = [];
  for (let b = 0; b < 256; b++) if (table[b].charCodeAt(0) === b) order.push(b);
  for (let b = 0; b < 256; b++) if (table[b].charCodeAt(0) !== b) order.push(b);
  return order.map((b) => table[b]);
}

// Python's `regex` \s is Unicode White_Space; JS \s adds U+FEFF and lacks U+0085, so spell it out.
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE_RUN = new RegExp(`[${WS}]+`, 'gu');
const PIECE = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WS}\\p{L}\\p{N}]+`, 'giu');

/** The reference's pattern applied to cleaned text: the pieces each BPE'd on its own. */
export function splitPieces(cleaned: string): string[] {
  // U+0345 is the one code point where `regex` and JS disagree under ignore-case: Python matches it with
  // neither \p{L} nor the negated class, so it only separates pieces, as a space does.
  if (cleaned.includes('\u0345')) cleaned = cleaned.replace(/\u0345/g, ' ');
  return cleaned.match(PIECE) ?? [];
}

/** whitespace_clean(basic_clean(text)).lower(), as the reference encodes. */
export function cleanText(text: string): string {
  // Plain printable ASCII without '&' needs none of ftfy's fixes or unescaping.
  if (/[^\t\n\r\x20-\x25\x27-\x7e]/.test(text)) {
    text = fixTextLikeFtfy(text);
    text = htmlUnescape(htmlUnescape(text));
  }
  // Collapsing first leaves at most one space at each end; nothing else Python's strip() knows survives ftfy.
  text = text.replace(WHITESPACE_RUN, ' ');
  if (text.startsWith(' ')) text = text.slice(1);
  if (text.endsWith(' ')) text = text.slice(0, -1);
  return text.toLowerCase();
}

// ---- ftfy.fix_text, without mojibake repair ----

const CP1252_C1 = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';
const LIGATURES: Record<string, string> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'gu');

function fixTextLikeFtfy(text: string): string {
  // ftfy works line by line and stops unescaping HTML for good once a line holds '<'.
  const out: string[] = [];
  let unescape = true;
  for (const segment of text.split(/(?<=\n)/)) {
    if (unescape && segment.includes('<')) unescape = false;
    out.push(fixSegment(segment, unescape));
  }
  return out.join('');
}

function fixSegment(text: string, unescape: boolean): string {
  for (let round = 0; round < 16; round++) {
    const before = text;
    if (unescape) text = text.replace(/&#?[0-9A-Za-z]{1,24};/g, ftfyEntity);
    text = text.replace(MOJIBAKE, fixMojibake);
    text = text
      .replace(/[\u0080-\u009f]/g, (c) => CP1252_C1[c.charCodeAt(0) - 0x80])
      .replace(LIGATURE_RE, (c) => LIGATURES[c])
      .replace(/[\uff01-\uffef]/g, (c) => c.normalize('NFKC'))
      .replace(/\u3000/g, ' ')
      .replace(/[\u201c-\u201f]/g, '"')
      .replace(/[\u02bc\u2018-\u201b]/g, "'")
      .replace(/\r\n|[\r\u2028\u2029\u0085]/g, '\n')
      .replace(LONE_SURROGATE, '\ufffd')
      .replace(/\x1b\[[\d;]*[a-zA-Z]/g, '')
      .replace(/[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g, '')
      .normalize('NFC');
    if (text === before) break;
  }
  return text;
}

// UTF-8 read as Latin-1 / Windows-1252 ('AdÃ©lie' for 'Adélie'): a lead-byte character followed by as
// many continuation-byte characters as the lead announces. ftfy's other code pages and its badness
// heuristics are not reproduced; a run that is not valid UTF-8 stays as it is.
const CONT = `[\u0080-\u00bf${CP1252_C1}]`;
const MOJIBAKE = new RegExp(`[\u00c2-\u00df]${CONT}|[\u00e0-\u00ef]${CONT}{2}|[\u00f0-\u00f4]${CONT}{3}`, 'g');
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

function fixMojibake(run: string): string {
  const bytes = new Uint8Array(run.length);
  for (let i = 0; i < run.length; i++) {
    const code = run.charCodeAt(i);
    bytes[i] = code <= 0xff ? code : 0x80 + CP1252_C1.indexOf(run[i]);
  }
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return run;
  }
}

// ---- HTML character references ----

// name:hex code point; every name here with a code point ≤ 0xFF except apos also works without ';'.
const ENTITY_TABLE = `QUOT:22 quot:22 AMP:26 amp:26 apos:27 LT:3c lt:3c GT:3e gt:3e nbsp:a0 iexcl:a1 cent:a2
pound:a3 curren:a4 yen:a5 brvbar:a6 sect:a7 uml:a8 COPY:a9 copy:a9 ordf:aa laquo:ab not:ac shy:ad REG:ae
reg:ae macr:af deg:b0 plusmn:b1 sup2:b2 sup3:b3 acute:b4 micro:b5 para:b6 middot:b7 cedil:b8 sup1:b9 ordm:ba
raquo:bb frac14:bc frac12:bd frac34:be iquest:bf Agrave:c0 Aacute:c1 Acirc:c2 Atilde:c3 Auml:c4 Aring:c5
AElig:c6 Ccedil:c7 Egrave:c8 Eacute:c9 Ecirc:ca Euml:cb Igrave:cc Iacute:cd Icirc:ce Iuml:cf ETH:d0
Ntilde:d1 Ograve:d2 Oacute:d3 Ocirc:d4 Otilde:d5 Ouml:d6 times:d7 Oslash:d8 Ugrave:d9 Uacute:da Ucirc:db
Uuml:dc Yacute:dd THORN:de szlig:df agrave:e0 aacute:e1 acirc:e2 atilde:e3 auml:e4 aring:e5 aelig:e6
ccedil:e7 egrave:e8 eacute:e9 ecirc:ea euml:eb igrave:ec iacute:ed icirc:ee iuml:ef eth:f0 ntilde:f1
ograve:f2 oacute:f3 ocirc:f4 otilde:f5 ouml:f6 divide:f7 oslash:f8 ugrave:f9 uacute:fa ucirc:fb uuml:fc
yacute:fd thorn:fe yuml:ff OElig:152 oelig:153 Scaron:160 scaron:161 Yuml:178 fnof:192 circ:2c6 tilde:2dc
Alpha:391 Beta:392 Gamma:393 Delta:394 Epsilon:395 Zeta:396 Eta:397 Theta:398 Iota:399 Kappa:39a Lambda:39b
Mu:39c Nu:39d Xi:39e Omicron:39f Pi:3a0 Rho:3a1 Sigma:3a3 Tau:3a4 Upsilon:3a5 Phi:3a6 Chi:3a7 Psi:3a8
Omega:3a9 alpha:3b1 beta:3b2 gamma:3b3 delta:3b4 epsilon:3b5 zeta:3b6 eta:3b7 theta:3b8 iota:3b9 kappa:3ba
lambda:3bb mu:3bc nu:3bd xi:3be omicron:3bf pi:3c0 rho:3c1 sigmaf:3c2 sigma:3c3 tau:3c4 upsilon:3c5 phi:3c6
chi:3c7 psi:3c8 omega:3c9 thetasym:3d1 upsih:3d2 piv:3d6 ensp:2002 emsp:2003 thinsp:2009 zwnj:200c zwj:200d
lrm:200e rlm:200f ndash:2013 mdash:2014 lsquo:2018 rsquo:2019 sbquo:201a ldquo:201c rdquo:201d bdquo:201e
dagger:2020 Dagger:2021 bull:2022 hellip:2026 permil:2030 prime:2032 Prime:2033 lsaquo:2039 rsaquo:203a
oline:203e frasl:2044 euro:20ac image:2111 weierp:2118 real:211c trade:2122 alefsym:2135 larr:2190 uarr:2191
rarr:2192 darr:2193 harr:2194 crarr:21b5 lArr:21d0 uArr:21d1 rArr:21d2 dArr:21d3 hArr:21d4 forall:2200
part:2202 exist:2203 empty:2205 nabla:2207 isin:2208 notin:2209 ni:220b prod:220f sum:2211 minus:2212
lowast:2217 radic:221a prop:221d infin:221e ang:2220 and:2227 or:2228 cap:2229 cup:222a int:222b there4:2234
sim:223c cong:2245 asymp:2248 ne:2260 equiv:2261 le:2264 ge:2265 sub:2282 sup:2283 nsub:2284 sube:2286
supe:2287 oplus:2295 otimes:2297 perp:22a5 sdot:22c5 lceil:2308 rceil:2309 lfloor:230a rfloor:230b loz:25ca
spades:2660 clubs:2663 hearts:2665 diams:2666 lang:27e8 rang:27e9`;

/** 'name;' → char for every entity; 'name' → char for the legacy ones accepted without ';'. */
const ENTITIES = new Map<string, string>();
for (const item of ENTITY_TABLE.split(/\s+/)) {
  const [name, hex] = item.split(':');
  const code = parseInt(hex, 16);
  ENTITIES.set(`${name};`, String.fromCodePoint(code));
  if (code <= 0xff && name !== 'apos') ENTITIES.set(name, String.fromCodePoint(code));
}

// html.unescape's numeric fixes (WHATWG): 0x80–0x9F as Windows-1252, some code points dropped.
const NUMERIC_REPLACED = new Map<number, string>([[0x00, '\ufffd'], [0x0d, '\r']]);
for (let i = 0; i < 32; i++) NUMERIC_REPLACED.set(0x80 + i, CP1252_C1[i]);
function numericDropped(n: number): boolean {
  return (n >= 0x1 && n <= 0x8) || n === 0xb || (n >= 0xe && n <= 0x1f) || (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) || (n & 0xfffe) === 0xfffe;
}

function numericReference(n: number): string {
  const replaced = NUMERIC_REPLACED.get(n);
  if (replaced !== undefined) return replaced;
  if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff || !Number.isFinite(n)) return '\ufffd';
  if (numericDropped(n)) return '';
  return String.fromCodePoint(n);
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Python's html.unescape (named references limited to the table above). */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (_m, ref: string) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
      return numericReference(hex ? parseInt(digits, 16) : Number(digits));
    }
    const whole = ENTITIES.get(ref);
    if (whole !== undefined) return whole;
    for (let x = ref.length - 1; x > 1; x--) {
      const prefix = ENTITIES.get(ref.slice(0, x));
      if (prefix !== undefined) return prefix + ref.slice(x);
    }
    return `&${ref}`;
  });
}

/** ftfy's own unescape: whole 'name;' references only, plus upper-cased lower-case names ('&EACUTE;' → 'É'). */
function ftfyEntity(ref: string): string {
  const name = ref.slice(1);
  const known = ENTITIES.get(name);
  if (known !== undefined && name.endsWith(';')) return known;
  if (ref.startsWith('&#')) {
    const unescaped = htmlUnescape(ref);
    return unescaped.includes(';') ? ref : unescaped;
  }
  const lower = name.toLowerCase();
  const lowerKnown = ENTITIES.get(lower);
  if (lowerKnown !== undefined && name === lower.toUpperCase() && htmlUnescape(ref) === ref) {
    return lowerKnown.toUpperCase();
  }
  return ref;
}
