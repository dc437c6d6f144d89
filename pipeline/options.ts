/**
 * Parsers for commander options. They throw commander's InvalidArgumentError, so the message names the
 * option ("option '--n <n>' argument '0' is invalid. expected a positive integer") on one line, exit 2.
 */
import { InvalidArgumentError } from 'commander';
import type { Device } from '../clip/runtime/onnx-session.ts';
export type { Device };

export function intOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

export function positiveIntOption(value: string): number {
  const n = intOption(value);
  if (n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function nonNegativeIntOption(value: string): number {
  const n = intOption(value);
  if (n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return n;
}

export function floatOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

/** A JSON object given on the command line (e.g. --extra-body), checked when the options are parsed. */
export function jsonObjectOption(value: string): Record<string, unknown> {
  let parsed: unknown;
  try { parsed = JSON.parse(value); } catch { throw new InvalidArgumentError('expected a JSON object, e.g. \'{"no_repeat_ngram_size": 2}\''); }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('expected a JSON object, not an array or a value');
  return parsed as Record<string, unknown>;
}

/** A parser for an option that takes one of `values` ('expected host or device'). */
export function choiceOption<T extends string>(...values: [T, ...T[]]): (value: string) => T {
  return (value) => {
    if (!(values as string[]).includes(value)) throw new InvalidArgumentError(`expected ${values.join(' or ')}`);
    return value as T;
  };
}
