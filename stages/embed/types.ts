import type { ImageEncoder } from '../../clip/towers/encoder-types.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';

export type { ProgressSink };

/** An image file → 3×S×S normalised pixels; throws (an ImageDecodeError for a bad file) when it cannot. */
export type PreprocessFn = (path: string) => Promise<Float32Array>;

export interface EmbedOptions {
  runDir: string;
  imageEncoder: ImageEncoder;
  preprocess: PreprocessFn;
  /** images per encoder call (default 32) */
  batchSize?: number;
  /** images decoded at once (default: the CPU count) */
  concurrency?: number;
  progress?: ProgressSink;
  /** extra schema metadata for the features parts (model hash, preprocessing mode, ...) */
  metadata?: Record<string, string>;
  /** what decides the features besides the images (recorded in each part; a part made otherwise is redone) */
  provenance?: { configHash?: string; modelHash?: string };
  /** one line per part redone because its file or provenance did not check out */
  log?: (line: string) => void;
}

/** Seconds spent per phase, clip-retrieval's split: waiting for decoded pixels, in the encoder, writing. */
export interface PhaseTimings {
  read_s: number;
  compute_s: number;
  write_s: number;
}

export interface EmbedSummary extends PhaseTimings {
  parts: number;
  /** parts found done and left as they were */
  partsSkipped: number;
  /** images in the plan, in the parts written now, embedded now, failed now */
  images: number;
  processed: number;
  embedded: number;
  failed: number;
  seconds: number;
}
