/**
 * Command-line flags derived from an options schema (zod object whose fields carry `.meta({ help })`):
 * the key `weightDecay` is `--weight-decay`, or `--phi-weight-decay` under a prefix; the usage value,
 * the text parser, the default shown by --help and SEARLE's value come from the field. One check
 * (checkSchemaOptions) turns the first broken rule into a one-line UserError naming the flag as typed.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { z } from 'zod';
import { UserError } from '../util/errors.ts';
import { type ArgKind, type CrossCheck, type OptionMeta, argKindOf } from '../util/option-rules.ts';
import { floatOption, intOption, jsonObjectOption, nonNegativeIntOption, positiveIntOption } from './options.ts';

/** 'weightDecay' → '--weight-decay' (with an optional prefix such as 'phi-'). */
export function flagOf(key: string, prefix = ''): string {
  return `--${prefix}${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The attribute commander stores `--phi-weight-decay` under: 'phiWeightDecay'. */
export function attributeOf(key: string, prefix = ''): string {
  return flagOf(key, prefix).slice(2).replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** What a schema field declares, read once for flags and for docs/options.md. */
export interface OptionField {
  key: string;
  /** 'number' | 'string' | 'boolean' | 'enum' | 'json' */
  type: 'number' | 'string' | 'boolean' | 'enum' | 'json';
  argKind?: ArgKind;
  choices?: string[];
  /** the default (undefined: none) */
  default: unknown;
  meta: OptionMeta;
}

type AnySchema = { _zod: { def: Record<string, unknown> }; meta(): Record<string, unknown> | undefined };

export function optionFields(schema: z.ZodObject): OptionField[] {
  return Object.entries(schema.shape).map(([key, field]) => {
    const outer = field as unknown as AnySchema;
    const meta = outer.meta() as OptionMeta | undefined;
    if (!meta?.help) throw new Error(`option '${key}' has no .meta({ help })`);
    let inner = outer;
    let dflt: unknown;
    for (;;) {
      const def = inner._zod.def;
      if (def.type === 'default') dflt = def.defaultValue;
      if (def.type !== 'default' && def.type !== 'optional') break;
      inner = def.innerType as AnySchema;
    }
    const t = inner._zod.def.type as string;
    const type = t === 'record' || t === 'object' ? 'json' : t === 'enum' ? 'enum' : t === 'number' || t === 'boolean' ? t : 'string';
    return {
      key, type, default: dflt, meta,
      argKind: type === 'number' ? argKindOf(inner) ?? 'number' : undefined,
      choices: type === 'enum' ? Object.values(inner._zod.def.entries as Record<string, string>) : undefined,
    };
  });
}

const PARSERS: Record<ArgKind, (v: string) => number> = {
  int: intOption, positiveInt: positiveIntOption, nonNegativeInt: nonNegativeIntOption, number: floatOption,
};

/** The help line of an option: its help, then SEARLE's value where starword's default differs. */
export function helpText(f: OptionField, helpPrefix = ''): string {
  return `${helpPrefix}${f.meta.help}${f.meta.searle !== undefined ? ` (SEARLE: ${JSON.stringify(f.meta.searle)})` : ''}`;
}

/** The declaration behind each option that addSchemaOptions made (for docs/options.md). */
export const DECLARED = new WeakMap<Option, OptionField>();

/** Adds one flag per field of `schema` to `cmd`. */
export function addSchemaOptions(cmd: Command, schema: z.ZodObject, opts: { prefix?: string; helpPrefix?: string } = {}): Command {
  for (const f of optionFields(schema)) {
    const flag = flagOf(f.key, opts.prefix);
    const value = f.type === 'boolean' ? '' : ` ${f.meta.value ?? (f.type === 'number' ? (f.argKind === 'number' ? '<x>' : '<n>') : f.type === 'json' ? '<json>' : '<value>')}`;
    const option = new Option(`${flag}${value}`, helpText(f, opts.helpPrefix));
    if (f.type === 'number') option.argParser(PARSERS[f.argKind ?? 'number']);
    if (f.type === 'json') option.argParser(jsonObjectOption);
    if (f.default !== undefined && f.type !== 'boolean') option.default(f.default);
    cmd.addOption(option);
    DECLARED.set(option, f);
  }
  return cmd;
}

/** The values of `schema`'s fields out of commander's parsed options (read under `prefix`). */
export function schemaValues(raw: Record<string, unknown>, schema: z.ZodObject, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) out[key] = raw[attributeOf(key, prefix)];
  return out;
}

function shown(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
}

/**
 * Checks `values` against `schema`, then the cross-option rules; throws a one-line UserError on the
 * first failure (`--phi-lr must be > 0, got 0`); returns the checked options, defaults filled in.
 */
export function checkSchemaOptions<S extends z.ZodObject>(schema: S, values: Record<string, unknown>, prefix = '',
  cross: CrossCheck<z.output<S>>[] = []): z.output<S> {
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0] ?? '');
    const value = values[key];
    throw new UserError(`${flagOf(key, prefix)} ${issue.message}, got ${value === undefined ? 'nothing' : shown(value)}`);
  }
  for (const check of cross) {
    const bad = check(parsed.data);
    if (bad) throw new UserError(`${flagOf(bad.key, prefix)} ${bad.message.replace(/\{flag:(\w+)\}/g, (_, k: string) => flagOf(k, prefix))}`);
  }
  return parsed.data;
}

/**
 * Flags a command no longer has, each refused with one line naming its new spelling (they stay hidden
 * from --help). Checked before the action runs.
 */
export function addRenamedFlags(cmd: Command, renamed: Record<string, string>): Command {
  for (const [old, now] of Object.entries(renamed)) cmd.addOption(new Option(`${old} [value]`).hideHelp().argParser(() => {
    throw new InvalidArgumentError(`${old} is now ${now}`);
  }));
  return cmd;
}
