/**
 * One log line from text a user or a client controls (a caption, a URL): control characters (newline,
 * carriage return, escape sequences, the Unicode line separators) are written as `\n`, `\r` or `\uXXXX`,
 * so no input can start a line of its own or rewrite the terminal.
 */
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function logSafe(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
