/**
 * The report's concept cards, laid out by Chromium: each score sits on the first line of its own name,
 * inside its own list item, even when a long name (real Open Images names are long) wraps; a score
 * pushed onto the next line would sit beside the wrong name.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { page } from '../../pipeline/report/html.ts';
import type { RunData } from '../../pipeline/report/run-data.ts';
import { conceptsSection } from '../../pipeline/report/run-sections.ts';
import type { Thumbnails } from '../../pipeline/report/thumbnails.ts';
import { launch, openPage } from '../helpers/browser.ts';
import { tempDir } from '../embed/helpers.ts';

test('a concept name that wraps keeps its score on its own row', async (t) => {
  const names = ['Square', 'Personal flotation device with a very long name indeed', 'Bicycle helmet and wheel', 'Cat'];
  const scores = [0.632, 0.635, 0.5, 0.41];
  const d = { concepts: { total: 1, sample: [{ imageId: 'img-1', path: null, concepts: names, scores }] } } as unknown as RunData;
  const noThumbs = { of: async () => null } as unknown as Thumbnails;
  const dir = tempDir('concept-grid');
  const file = join(dir, 'index.html');
  writeFileSync(file, page('t', 's', [await conceptsSection(d, noThumbs)]));
  const browser = await launch();
  try {
    const { page: p, errors } = await openPage(browser);
    await p.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const boxes = await p.$$eval('#concept-cards li', (lis) => lis.map((li) => {
      const spans = li.querySelectorAll('span');
      const score = spans[spans.length - 1].getBoundingClientRect();
      const item = li.getBoundingClientRect();
      return { text: li.textContent ?? '', itemTop: item.top, itemBottom: item.bottom, scoreTop: score.top, scoreBottom: score.bottom, lines: Math.round(item.height / score.height) };
    }));
    t.is(boxes.length, names.length);
    t.true(boxes[1].lines >= 2, `the long name wraps in a 190px card (${boxes[1].lines} lines)`);
    for (const [i, b] of boxes.entries()) {
      t.true(Math.abs(b.scoreTop - b.itemTop) <= 2, `${names[i]}: score on the name's first line (${b.scoreTop} vs ${b.itemTop})`);
      t.true(b.scoreBottom <= b.itemBottom + 0.5, `${names[i]}: score inside its own item`);
      t.true(b.text.includes(scores[i].toFixed(3)));
    }
    t.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
