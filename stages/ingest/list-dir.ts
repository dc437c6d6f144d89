/**
 * Lists the images under a folder: recursive, hidden files and folders skipped, image extensions only
 * (case-insensitive). Symbolic links are followed only while they resolve inside the root (a link out
 * of the dataset would make the run depend on files the user did not point at); a link cycle is walked
 * once.
 */
import { type Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, isAbsolute, resolve } from 'node:path';
import { type ImageRef, compareIds, isImageName, relativeId } from './image-files.ts';

export interface DirListing {
  images: ImageRef[];
  /** symlinks skipped because they point outside the root (or nowhere) */
  skippedLinks: number;
  /** files skipped because their names are not images' (hidden files aside): how many, by extension */
  skippedFiles: SkippedFiles;
}

export interface SkippedFiles { count: number; byExtension: Record<string, number> }

/** '.txt' for notes.txt, '(none)' for README. */
function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot).toLowerCase() : '(none)';
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export async function listImageDir(rootArg: string): Promise<DirListing> {
  const root = resolve(rootArg);
  const realRoot = await realpath(root);
  const images: ImageRef[] = [];
  const visited = new Set<string>([realRoot]);
  let skippedLinks = 0;
  const skippedFiles: SkippedFiles = { count: 0, byExtension: {} };

  async function walk(dir: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // an unreadable sub-folder is skipped, as `find` would report and go on
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(path);
        } catch {
          skippedLinks++;
          continue;
        }
        if (!inside(realRoot, target)) {
          skippedLinks++;
          continue;
        }
        const st = await stat(target);
        isDir = st.isDirectory();
        isFile = st.isFile();
        if (isDir) {
          if (visited.has(target)) continue;
          visited.add(target);
        }
      } else if (isDir) {
        visited.add(await realpath(path));
      }
      if (isDir) await walk(path);
      else if (isFile && isImageName(entry.name)) images.push({ id: relativeId(root, path), path });
      else if (isFile) {
        skippedFiles.count++;
        const ext = extensionOf(entry.name);
        skippedFiles.byExtension[ext] = (skippedFiles.byExtension[ext] ?? 0) + 1;
      }
    }
  }

  await walk(root);
  images.sort((a, b) => compareIds(a.id, b.id));
  return { images, skippedLinks, skippedFiles };
}
