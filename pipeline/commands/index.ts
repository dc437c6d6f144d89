import type { Command } from 'commander';
import * as bench from './bench.ts';
import * as cache from './cache.ts';
import * as concepts from './concepts.ts';
import * as debug from './debug.ts';
import * as demo from './demo.ts';
import * as embedImages from './embed-images.ts';
import * as embedText from './embed-text.ts';
import * as evaluate from './evaluate.ts';
import * as indexGallery from './index-gallery.ts';
import * as inspect from './inspect.ts';
import * as invert from './invert.ts';
import * as makeModel from './make-model.ts';
import * as merge from './merge.ts';
import * as oti from './oti.ts';
import * as phi from './phi.ts';
import * as phrases from './phrases.ts';
import * as retrieve from './retrieve.ts';
import * as run from './run.ts';
import * as tokenize from './tokenize.ts';

export interface CommandModule { register(program: Command): void }

// One line per command module; keep alphabetical to avoid merge noise.
export const commandModules: CommandModule[] = [
  bench,
  cache,
  concepts,
  debug,
  demo,
  embedImages,
  embedText,
  evaluate,
  indexGallery,
  inspect,
  invert,
  makeModel,
  merge,
  oti,
  phi,
  phrases,
  retrieve,
  run,
  tokenize,
];
