#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx: no build step, one source of truth.
import { register } from 'tsx/esm/api';
register();
await import('../pipeline/cli.ts');
