export { DEFAULT_PART_SIZE, type IngestOptions, type IngestSummary, type SourceListing, listImageSource, runIngest } from './run-ingest.ts';
export { IMAGE_EXTENSIONS, type ImageRef, isImageName } from './image-files.ts';
export { listImageDir, type DirListing } from './list-dir.ts';
export { listImageManifest, type ManifestOptions } from './list-manifest.ts';
export { shardOf } from './shard.ts';
