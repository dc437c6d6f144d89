/**
 * An error the user can act on: bad arguments, a bad model folder, a bad input file.
 * The CLI prints its message as one line and exits with `exitCode` (2 by default), never a stack trace.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** The message of anything thrown, on one line. */
export function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
