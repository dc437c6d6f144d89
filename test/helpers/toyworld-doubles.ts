/**
 * TEST DOUBLES of a vision captioner and of CIReVL's recomposing LLM for the toy world
 * (data/toyworld/bench): they are not models. The "captioner" recognises a gallery image by the SHA-256
 * of its bytes and answers with its TRUE attributes from gallery.json ("a small blue star on a pink
 * background"); the "recomposer" reads the last "Image Content:" / "Instruction:" pair of CIReVL's
 * prompt and applies the one attribute change the toy world's relative captions make ("is purple", "is
 * a diamond", "is on a gray background", "is large"). They let the captioning baseline and CIReVL run
 * offline over the real request path (HTTP, image_url parts, cache, retries); their numbers say what
 * CLIP's text tower does with perfect captions, not what a real VLM would give.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatRequest } from './llm-test-server.ts';

export interface ToyAttributes { shape: string; colour: string; bg: string; size: string; pos: string }

export function toyCaption(a: Pick<ToyAttributes, 'shape' | 'colour' | 'bg' | 'size'>): string {
  return `a ${a.size} ${a.colour} ${a.shape} on a ${a.bg} background`;
}

/** gallery image bytes' SHA-256 → its true attributes. */
export function loadToyGallery(benchDir: string): Map<string, ToyAttributes> {
  const truth = JSON.parse(readFileSync(join(benchDir, 'gallery.json'), 'utf8')) as Record<string, ToyAttributes>;
  const out = new Map<string, ToyAttributes>();
  for (const [id, attrs] of Object.entries(truth)) {
    const bytes = readFileSync(join(benchDir, 'gallery', `${id.padStart(6, '0')}.png`));
    out.set(createHash('sha256').update(bytes).digest('hex'), attrs);
  }
  return out;
}

const CAPTION = /^a (small|large) (\w+) (\w+) on a (\w+) background$/;

/** The recomposer double: the caption with the instruction's one attribute changed. */
export function toyRecompose(caption: string, instruction: string): string | null {
  const m = CAPTION.exec(caption.trim());
  if (!m) return null;
  const a = { size: m[1], colour: m[2], shape: m[3], bg: m[4] };
  const i = instruction.trim();
  let k: RegExpExecArray | null;
  if ((k = /^is on an? (\w+) background$/.exec(i))) a.bg = k[1];
  else if ((k = /^is (small|large)$/.exec(i))) a.size = k[1];
  else if ((k = /^is an? (\w+)$/.exec(i))) a.shape = k[1];
  else if ((k = /^is (\w+)$/.exec(i))) a.colour = k[1];
  else return null;
  return toyCaption(a);
}

/** A chat handler for startLlmTestServer({ chat }): captions images, recomposes CIReVL prompts. */
export function toyWorldChat(gallery: Map<string, ToyAttributes>): (req: ChatRequest) => string | null {
  return (req) => {
    if (req.images.length > 0) {
      const a = gallery.get(req.images[0].sha256);
      return a ? toyCaption(a) : 'an image of something';
    }
    const contents = [...req.text.matchAll(/^Image Content: (.*)$/gm)];
    const instructions = [...req.text.matchAll(/^Instruction: (.*)$/gm)];
    if (contents.length === 0 || instructions.length === 0) return null;
    const edited = toyRecompose(contents.at(-1)![1], instructions.at(-1)![1]);
    // like a chat model that does not follow the format when it cannot make sense of the request
    return edited ? `Edited Description: ${edited}` : 'I cannot edit this image.';
  };
}
