/**
 * phi's training examples from a run folder: each embedded image that OTI inverted (status ok), with
 * its raw features, its OTI EMA token and its top concepts; split into train and held-out by a stable
 * hash of the image id (the same split whatever the seed, the order of parts or the machine).
 */
import { existsSync } from 'node:fs';
import * as conceptsSchema from '../../schemas/concepts.ts';
import * as featuresSchema from '../../schemas/features.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { checkPartModel, listDoneParts, readPart } from '../../schemas/part-io.ts';
import { UserError } from '../../util/errors.ts';

export interface PhiExample {
  id: string;
  /** raw image features [d] */
  features: Float32Array;
  /** OTI EMA token [D] */
  token: Float32Array;
  /** top concepts, best first (already cut to top-K) */
  concepts: string[];
}

export interface PhiExamples {
  examples: PhiExample[];
  featureDim: number;
  tokenWidth: number;
  /** embedded images without an ok OTI token (not inverted yet, or failed) */
  withoutToken: number;
}

export interface RunFolders { embedDir: string; otiDir: string; conceptsDir: string }

/**
 * Reads every done features part, joined by image id with the tokens and concepts parts. With
 * `modelHash`, a part made with another model (its marker says) is refused, naming it: run.json names
 * the run's model, but a part copied in from another run does not change it.
 */
export function loadPhiExamples(dirs: RunFolders, topK: number, modelHash?: string): PhiExamples {
  const tokenParts = listDoneParts(dirs.otiDir, tokensSchema.KIND);
  if (!tokenParts.length) throw new UserError(`no finished tokens parts in ${dirs.otiDir}: run the oti stage first`);
  const featureParts = listDoneParts(dirs.embedDir, featuresSchema.KIND);
  if (!featureParts.length) throw new UserError(`no finished features parts in ${dirs.embedDir}: run the embed stage first`);
  if (modelHash !== undefined) {
    const redo = (stage: string) => `redo the ${stage} stage with this model, or train phi with the model the run was made with`;
    for (const i of tokenParts) checkPartModel(dirs.otiDir, tokensSchema.KIND, i, modelHash, redo('oti'));
    for (const i of featureParts) checkPartModel(dirs.embedDir, featuresSchema.KIND, i, modelHash, redo('embed'));
    if (existsSync(dirs.conceptsDir)) {
      for (const i of listDoneParts(dirs.conceptsDir, conceptsSchema.KIND)) checkPartModel(dirs.conceptsDir, conceptsSchema.KIND, i, modelHash, redo('concepts'));
    }
  }
  const tokens = new Map<string, Float32Array>();
  let tokenWidth = 0;
  for (const i of tokenParts) {
    const part = tokensSchema.fromTable(readPart(dirs.otiDir, tokensSchema.KIND, i));
    tokenWidth = part.width;
    for (const r of part.rows) {
      const v = r.ema ?? r.token;
      if (r.status === 'ok' && v) tokens.set(r.imageId, v);
    }
  }
  const concepts = new Map<string, string[]>();
  // one string per distinct concept: 100k images × top 150 would otherwise hold 15M decoded copies
  const names = new Map<string, string>();
  const intern = (c: string) => { let n = names.get(c); if (n === undefined) names.set(c, (n = c)); return n; };
  if (existsSync(dirs.conceptsDir)) {
    for (const i of listDoneParts(dirs.conceptsDir, conceptsSchema.KIND)) {
      for (const r of conceptsSchema.fromTable(readPart(dirs.conceptsDir, conceptsSchema.KIND, i))) {
        if (tokens.has(r.imageId)) concepts.set(r.imageId, r.concepts.slice(0, topK).map(intern));
      }
    }
  }
  const examples: PhiExample[] = [];
  let featureDim = 0, withoutToken = 0;
  for (const i of featureParts) {
    const part = featuresSchema.fromTable(readPart(dirs.embedDir, featuresSchema.KIND, i));
    featureDim = part.dim;
    for (const r of part.rows) {
      const token = tokens.get(r.imageId);
      if (!token) { withoutToken++; continue; }
      examples.push({ id: r.imageId, features: r.features, token, concepts: concepts.get(r.imageId) ?? [] });
    }
  }
  return { examples, featureDim, tokenWidth, withoutToken };
}
