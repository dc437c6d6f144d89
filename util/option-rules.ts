/**
 * The rules that options are declared with (zod schemas), on the lowest floor so that a stage's one
 * declaration (stages/<stage>/stage.ts) and the CLI layer that derives flags from it share them. Each
 * number rule remembers how its command-line text is read (an integer or any number), so the flag
 * derived from it rejects `--n x` the moment it is parsed, as commander's parsers did.
 */
import { z } from 'zod';

/** How a command line's text becomes the option's value. */
export type ArgKind = 'int' | 'positiveInt' | 'nonNegativeInt' | 'number';

const argKinds = new WeakMap<object, ArgKind>();

/** The text reading of a number rule, when it was made by `rule`. */
export function argKindOf(schema: object): ArgKind | undefined {
  return argKinds.get(schema);
}

function num(kind: ArgKind, test: (v: number) => boolean, message: string) {
  const s = z.number().refine((v) => Number.isFinite(v) && test(v), { message });
  argKinds.set(s, kind);
  return s;
}

export const rule = {
  positiveInt: () => num('positiveInt', (v) => Number.isInteger(v) && v > 0, 'must be a positive integer'),
  nonNegativeInt: () => num('nonNegativeInt', (v) => Number.isInteger(v) && v >= 0, 'must be an integer ≥ 0'),
  int: () => num('int', Number.isInteger, 'must be an integer'),
  /** an integer ≥ lo; `why` says what the bound is for */
  intAtLeast: (lo: number, why: string) => num('int', (v) => Number.isInteger(v) && v >= lo, `must be an integer ≥ ${lo} (${why})`),
  positive: () => num('number', (v) => v > 0, 'must be > 0'),
  nonNegative: () => num('number', (v) => v >= 0, 'must be ≥ 0'),
  /** [0, 1): a share held out, a dropout, an EMA decay, an Adam beta */
  fraction: () => num('number', (v) => v >= 0 && v < 1, 'must be in [0, 1)'),
  range: (lo: number, hi: number) => num('number', (v) => v >= lo && v <= hi, `must be in [${lo}, ${hi}]`),
  oneOf: <T extends string>(values: readonly [T, ...T[]]) => z.enum(values, { message: `must be one of ${values.join(', ')}` }),
};

/** A rule between two options, reported on `key` (its message says the whole thing). */
export type CrossCheck<T> = (o: T) => { key: keyof T & string; message: string } | null;

/** What each option's declaration carries beside its rule and default. */
export interface OptionMeta {
  help: string;
  /** SEARLE's (or the authors') value where starword's default differs */
  searle?: unknown;
  /** the value's name in the usage line ('<dir>'); derived from the rule when absent */
  value?: string;
}
