/**
 * Keeps API keys out of every message starword writes (logs, failure reasons in the cache, stats, errors):
 * a server may echo the Authorization header back in an error body, so every text that leaves a request
 * passes through `scrub` before it is stored or printed.
 */

const knownSecrets = new Set<string>();

/** Registers a secret value (an API key) to be masked from now on in this process. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) knownSecrets.add(value);
}

/** `text` with every registered secret and anything shaped like a bearer token or an `sk-` key masked. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of knownSecrets) out = out.split(secret).join('***');
  return out
    .replace(/(Bearer\s+)[^\s"',]+/gi, '$1***')
    .replace(/\bsk-[A-Za-z0-9_-]{8,}/g, 'sk-***');
}
