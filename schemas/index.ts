/**
 * The part kinds, one namespace each (`schemas.images.toTable(...)`), the part reader/writer and the
 * run folder layout. SCHEMA_VERSION is the version every part written by this starword carries.
 */
export { SCHEMA_VERSION, META_KIND, META_VERSION } from './columns.ts';
export * as images from './images.ts';
export * as features from './features.ts';
export * as errors from './errors.ts';
export * as tokens from './tokens.ts';
export * from './part-io.ts';
export * from './run-layout.ts';
