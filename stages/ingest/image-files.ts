/** What counts as an image file, and the id of a path: shared by the directory walk and manifests. */
import { relative, sep } from 'node:path';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;
const extRe = new RegExp(`\\.(${IMAGE_EXTENSIONS.join('|')})$`, 'i');

export function isImageName(name: string): boolean {
  return extRe.test(name);
}

/** One image as ingest lists it. */
export interface ImageRef {
  /** stable id: the path relative to the source root with '/' separators, or the manifest's id */
  id: string;
  /** absolute path */
  path: string;
}

/** `path` relative to `root` with '/' separators, whatever the platform. */
export function relativeId(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

/** Code-unit order: the same on every machine and locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
