/**
 * Where an OpenAI-compatible endpoint is and how to authenticate: a base URL checked to be a URL with no
 * credentials in it, and the key read from an environment variable (never an option: argv is visible to
 * `ps`) and registered as a secret the moment it is read, so nothing later can print it.
 */
import { UserError } from '../errors.ts';
import { registerSecret } from './secrets.ts';

/** `flag` names the option in the one-line error. */
export function checkBaseUrl(baseURL: string | undefined, flag = 'base URL'): string | undefined {
  if (baseURL === undefined) return undefined;
  let url: URL;
  try { url = new URL(baseURL); } catch { throw new UserError(`${flag} ${JSON.stringify(baseURL)}: not a URL`); }
  if (url.username || url.password) throw new UserError(`${flag}: put credentials in the API key variable, not in the URL`);
  return baseURL;
}

/** The key in `env[keyVar]` (undefined when unset or empty), registered as a secret. */
export function readApiKey(keyVar: string, env: NodeJS.ProcessEnv = process.env, flag = '--api-key-env'): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(keyVar)) throw new UserError(`${flag} ${JSON.stringify(keyVar)}: not an environment variable name`);
  const key = env[keyVar] || undefined;
  registerSecret(key);
  return key;
}
