/**
 * `starword report` on a small toy-world run with its evaluation, opened from the file system in
 * headless Chromium: no console errors, the counts on the page equal the run's, every image loads, the
 * search box filters, the evaluation shows each query's rankings with the ground truth marked.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspectRun } from '../../pipeline/inspect-run.ts';
import { brokenImages, launch, openPage, screenshotDir } from '../helpers/browser.ts';
import { makeToyRun, starword } from '../helpers/toy-run.ts';

test('the report of a toy run and its evaluation, in Chromium', async (t) => {
  const toy = makeToyRun();
  const out = join(toy.root, 'report');
  const r = starword(['report', toy.run, '--eval', toy.evalDir, '--out', out, '--sample', '8']);
  t.is(r.status, 0, r.stderr);
  const html = join(out, 'index.html');
  t.is(r.stdout.trim(), html);
  // self-contained: nothing fetched from elsewhere, thumbnails beside it, bounded by --sample
  const text = readFileSync(html, 'utf8');
  t.false(/(src|href)="(https?:)?\/\//.test(text), 'no remote resources');
  const thumbs = readdirSync(join(out, 'thumbs'));
  t.true(thumbs.length > 0 && thumbs.length <= 8 + toy.galleryIds.length);

  const inspect = inspectRun(toy.run);
  const rankings = readFileSync(join(toy.evalDir, 'rankings.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { method: string; query: string; gts: string[]; top: { id: string }[] });
  const browser = await launch();
  try {
    const { page, errors } = await openPage(browser);
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    t.is(await page.textContent('#count-images'), String(inspect.images.planned));
    t.is(await page.textContent('#count-failures'), String(inspect.failures.total));
    t.is(inspect.failures.total, 1, 'the broken file');
    t.is(await page.textContent('#count-tokens-ok'), String(inspect.tokens?.ok));
    t.is(await page.textContent('#errors-total'), '1');
    t.regex((await page.textContent('#errors-files')) ?? '', /broken\.png/);
    t.is(await page.locator('#concept-cards .card').count(), 8);
    // top-10 concepts with scores on each card, the toy vocabulary's names
    t.is(await page.locator('#concept-cards .card').first().locator('li').count(), 10);
    // the search box: an image id keeps its card only
    const firstId = (await page.locator('#concept-cards .card .id').first().textContent()) ?? '';
    await page.fill('input[data-filter="concept-cards"]', firstId);
    t.is(await page.textContent('#concept-cards-count'), '1');
    await page.fill('input[data-filter="concept-cards"]', '');
    // OTI histograms and training curves as inline SVG
    t.true(await page.locator('#oti svg').count() >= 2);
    t.true(await page.locator('#training svg').count() >= 1);
    // the methods table holds the numbers of evaluate's JSON
    const table = JSON.parse(readFileSync(join(toy.evalDir, 'eval.json'), 'utf8')) as { rows: { method: string; metrics?: Record<string, number> }[] };
    const reports = table.rows.filter((r): r is { method: string; metrics: Record<string, number> } => !!r.metrics && 'mAP@5' in r.metrics);
    t.true(reports.length >= 3, 'the table has rows with metrics');
    for (const rep of reports) t.is(await page.textContent(`#methods-table [data-method="${rep.method}"][data-metric="mAP@5"]`), rep.metrics['mAP@5'].toFixed(2));
    // every query, each method's top 10 in rankings order, ground truths marked
    t.is(await page.locator('.query').count(), toy.queries);
    for (const line of rankings.slice(0, 6)) {
      const row = page.locator(`.query[data-query="${line.query}"] .row[data-method="${line.method}"]`);
      const titles = await row.locator('.thumb').evaluateAll((els) => els.map((e) => e.getAttribute('title')));
      t.deepEqual(titles, line.top.slice(0, 10).map((h) => h.id));
      t.is(await row.locator('.thumb.gt').count(), line.top.slice(0, 10).filter((h) => line.gts.includes(h.id)).length);
    }
    // misses of the best method come first
    const flags = await page.locator('.query').evaluateAll((els) => els.map((e) => e.getAttribute('data-best-misses')));
    t.deepEqual(flags, [...flags].sort((a, b) => Number(b === 'true') - Number(a === 'true')));
    // lazy thumbnails load once scrolled to; then every image on the page has loaded
    await page.evaluate(async () => { for (const q of document.querySelectorAll('.query')) { q.scrollIntoView(); await new Promise((r) => setTimeout(r, 30)); } });
    await page.waitForFunction(() => [...document.images].every((i) => i.complete));
    t.deepEqual(await brokenImages(page), []);
    t.true(await page.locator('img').count() > 8);
    const shot = join(screenshotDir(), 'report.png');
    await page.screenshot({ path: shot, fullPage: false });
    t.true(existsSync(shot) && statSync(shot).size > 10_000);
    t.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
