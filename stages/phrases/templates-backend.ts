/**
 * Offline phrases from built-in caption patterns, so the pipeline runs on a machine with no LLM. Each
 * phrase is a pattern with the concept and a filler or two, drawn with an Rng seeded by the concept (and
 * --seed): the same concept always gets the same phrases. Far less varied than an LLM's; say so in reports.
 */
import { Rng } from '../../util/rng.ts';
import { sha256 } from '../../util/hash.ts';
import type { PhraseBackend } from './types.ts';

const PATTERNS = [
  'a photo of {c} that is on a {place}',
  'a photo of {c} that is next to a {thing}',
  'a photo of {c} that looks {adj}',
  'a photo of {c} that is {adj} and {adj2}',
  'a photo of {c} that was taken {time}',
  'a photo of {c} that is in the {area} of the picture',
  'a photo of {c} that sits in front of a {thing}',
  'a photo of {c} that someone is holding',
  'a photo of {c} that is partly hidden behind a {thing}',
  'a photo of {c} that has a {color} background',
  'a photo of {c} that is lit by {light}',
  'a photo of {c} that appears {adj} in the {light}',
  'a photo of {c} that is seen from {view}',
  'a photo of {c} that is surrounded by {things}',
  'a photo of {c} that fills the whole frame',
  'a photo of {c} that is small in the frame',
  'a photo of {c} that was taken at a {place}',
  'a photo of {c} that is {color}',
  'a photo of {c} that stands out against the {color} wall',
  'a photo of {c} that is reflected in a mirror',
  'a photo of {c} that is shown in close-up',
  'a photo of {c} that is out of focus',
  'a photo of {c} that is near a {color} {thing}',
  'a photo of {c} that has {things} around it',
  'a photo of {c} that is placed on the {place} {time}',
  'a photo of {c} that looks {adj} on the {place}',
  'a photo of {c} that is the main subject',
  'a photo of {c} that is photographed {time}',
  'a photo of {c} that is captured from {view}',
  'a photo of {c} that catches the {light}',
  'a photo of {c} that is beside {things}',
  'a photo of {c} that is in a {adj} room',
];

const FILLERS: Record<string, string[]> = {
  place: ['table', 'shelf', 'floor', 'bench', 'desk', 'counter', 'street', 'beach', 'field', 'bed', 'sofa', 'windowsill'],
  thing: ['window', 'wall', 'tree', 'chair', 'car', 'lamp', 'door', 'fence', 'plant', 'box', 'book', 'cup'],
  things: ['other objects', 'people', 'plants', 'books', 'toys', 'leaves', 'tools', 'clothes'],
  adj: ['old', 'new', 'bright', 'dark', 'colorful', 'clean', 'dusty', 'shiny', 'large', 'small', 'worn', 'modern'],
  adj2: ['simple', 'detailed', 'quiet', 'busy', 'sharp', 'soft', 'plain', 'striking'],
  color: ['white', 'black', 'red', 'blue', 'green', 'yellow', 'gray', 'brown', 'orange', 'pink'],
  light: ['sunlight', 'lamplight', 'soft light', 'harsh light', 'candlelight', 'neon light'],
  time: ['at night', 'in the morning', 'at sunset', 'on a rainy day', 'in winter', 'in summer'],
  area: ['center', 'corner', 'foreground', 'background', 'left side', 'right side'],
  view: ['above', 'below', 'the side', 'a distance', 'up close', 'behind'],
};

export const TEMPLATES_VERSION = sha256(JSON.stringify([PATTERNS, FILLERS])).slice(0, 12);

function fill(pattern: string, concept: string, rng: Rng): string {
  return pattern.replace(/\{(\w+)\}/g, (_m, slot: string) => {
    if (slot === 'c') return concept;
    const options = FILLERS[slot];
    return options[rng.int(options.length)];
  });
}

/** Up to `n` distinct phrases for `concept`, deterministic in (concept, seed). */
export function templatePhrases(concept: string, n: number, seed = 0): string[] {
  const rng = new Rng(`${seed}\u0000${concept}`);
  const out = new Set<string>();
  // Distinct combinations run out long before n = 256 for some patterns; stop after enough misses.
  for (let tries = 0; out.size < n && tries < n * 20; tries++) {
    out.add(fill(PATTERNS[rng.int(PATTERNS.length)], concept, rng));
  }
  return [...out];
}

export function createTemplatesBackend(seed = 0): PhraseBackend {
  return {
    id: 'templates',
    model: 'builtin-templates',
    params: { templates: TEMPLATES_VERSION, seed },
    cacheable: false,
    async generate(concept, n) {
      return { phrases: templatePhrases(concept, n, seed), usage: { prompt: 0, completion: 0 } };
    },
  };
}
