/** Parsers for commander options: a bad value is a one-line UserError (exit 2). */
import { UserError } from '../util/errors.ts';

export function intOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UserError(`expected an integer, got '${value}'`);
  return n;
}

export function positiveIntOption(value: string): number {
  const n = intOption(value);
  if (n <= 0) throw new UserError(`expected a positive integer, got '${value}'`);
  return n;
}

export function floatOption(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UserError(`expected a number, got '${value}'`);
  return n;
}
