#!/usr/bin/env node
// The installed CLI runs the compiled JavaScript in dist/ (built by `npm run build`, which npm runs on
// `npm ci`, `npm install` from git and `npm pack` through the prepare script). In a checkout,
// STARWORD_SOURCE=1 runs the TypeScript sources through tsx instead (tests do, so they always test the
// sources); so does a checkout that has not been built yet.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/pipeline/cli.js', import.meta.url);
if (process.env.STARWORD_SOURCE !== '1' && existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../pipeline/cli.ts');
}
