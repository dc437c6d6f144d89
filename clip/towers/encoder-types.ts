/**
 * What the stages need from CLIP, as interfaces: the ONNX Runtime implementations live in
 * clip/towers/text-encoder.ts and clip/towers/vision-encoder.ts; tests may pass a plain-TypeScript stand-in.
 */

/** CLIP text tower: unnormalised projected features at each row's EOT (HF get_text_features). */
export interface TextEncoder {
  /** projection dim */
  readonly dim: number;
  /** token-embedding width (the pseudo-token's length) */
  readonly width: number;
  /**
   * `ids`: one Int32Array per row, SOT … EOT, optionally 0-padded (77 ids as the tokenizer gives, or cut).
   * `pseudo`: optional, one vector of length `width` per row (or null) that replaces the token embedding
   * at the row's first id 259 (`$`). Rows are batched internally; output is one Float32Array(dim) per row.
   */
  encodeIds(ids: Int32Array[], pseudo?: (Float32Array | null)[]): Promise<Float32Array[]>;
  /** Tokenizes with the model's tokenizer and encodes. */
  encodeTexts(texts: string[], pseudo?: (Float32Array | null)[]): Promise<Float32Array[]>;
  /** Frees the native session now rather than at garbage collection (weights and arenas are large). */
  release?(): Promise<void>;
}

/** CLIP vision tower: unnormalised projected features of the CLS token (HF get_image_features). */
export interface ImageEncoder {
  readonly dim: number;
  /** Input size in pixels (square). */
  readonly imageSize: number;
  /** `pixels`: one Float32Array of 3×S×S already normalised pixels per image. */
  encodePixels(pixels: Float32Array[]): Promise<Float32Array[]>;
  /** Frees the native session now rather than at garbage collection. */
  release?(): Promise<void>;
}
