export { DEFAULT_EMBED_BATCH, isEmbedPartDone, runEmbed } from './run-embed.ts';
export type { EmbedOptions, EmbedSummary, PhaseTimings, PreprocessFn, ProgressSink } from './types.ts';
export { decodeBatch, errorCode } from './reader.ts';
