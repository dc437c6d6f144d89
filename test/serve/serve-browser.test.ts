/**
 * `starword serve` on a toy-world index, driven in headless Chromium: a composed query picked and typed
 * into the page returns the top-K of `starword retrieve`; a bad upload gets a message on the page and the
 * server goes on; images are served by index id only (no path traversal); live OTI shows its progress.
 */
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brokenImages, launch, openPage, screenshotDir } from '../helpers/browser.ts';
import { BIN, TOY_MODEL, makeToyRun, starword } from '../helpers/toy-run.ts';

function startServer(args: string[]): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c) => { err += String(c); });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += String(c);
      const m = /^(http:\/\/\S+)\n/m.exec(out);
      if (m) resolve({ url: m[1], child, stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

test('serve: a composed query in the page equals starword retrieve; bad uploads and traversal are refused', async (t) => {
  const toy = makeToyRun({ pipeline: false });
  const server = await startServer(['--index', toy.gallery, '--model', TOY_MODEL, '--port', '0', '--cache-dir', toy.cache, '--threads', '1', '--oti-steps', '20', '--max-upload-mb', '1']);
  const browser = await launch();
  try {
    t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    // images by index id only
    const ref = '000019.png';
    t.is((await fetch(`${server.url}image/${ref}`)).status, 200);
    for (const bad of ['image/..%2F..%2F..%2Fetc%2Fpasswd', 'image/%2Fetc%2Fpasswd', 'image/../../etc/passwd', '../../package.json']) {
      const res = await fetch(`${server.url}${bad}`);
      t.is(res.status, 404, bad);
      t.false((await res.text()).includes('root:'));
    }

    const { page, errors } = await openPage(browser);
    await page.goto(server.url);
    await page.waitForSelector(`#gallery img[data-id="${ref}"]`);
    t.is(await page.textContent('#gallery-size'), String(toy.galleryIds.length));
    // without phi and Pic2Word, their methods are not offered
    const methods = await page.locator('#method option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    t.deepEqual(methods, ['searle-oti', 'sum', 'image', 'text']);

    await page.click(`#gallery img[data-id="${ref}"]`);
    await page.fill('#caption', 'is purple');
    await page.selectOption('#method', 'sum');
    await page.fill('#k', '5');
    await page.click('#run');
    await page.waitForSelector('#results .result');
    const shown = await page.locator('#results .result').evaluateAll((els) => els.map((e) => ({ id: e.getAttribute('data-id'), score: Number(e.getAttribute('data-score')) })));
    const cli = starword(['retrieve', '--index', toy.gallery, '--model', TOY_MODEL, '--reference', ref, '--caption', 'is purple', '--method', 'sum', '--top-k', '5', '--cache-dir', toy.cache, '--threads', '1']);
    t.is(cli.status, 0, cli.stderr);
    const expected = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; score: number });
    t.deepEqual(shown.map((s) => s.id), expected.map((e) => e.id));
    shown.forEach((s, i) => t.true(Math.abs(s.score - expected[i].score) < 1e-6));
    await page.waitForFunction(() => [...document.querySelectorAll('#results img')].every((i) => (i as HTMLImageElement).complete));
    t.deepEqual(await brokenImages(page, '#results img'), []);
    const shot = join(screenshotDir(), 'serve.png');
    await page.screenshot({ path: shot });
    t.true(existsSync(shot) && statSync(shot).size > 5_000);

    // live OTI: the progress bar shows, then results
    await page.selectOption('#method', 'searle-oti');
    await page.click('#run');
    await page.waitForFunction(() => /OTI step \d+ of 20|results/.test(document.getElementById('status')!.textContent ?? ''));
    await page.waitForSelector('#run:not([disabled])');
    t.is(await page.locator('#results .result').count(), 5);
    t.regex((await page.textContent('#status')) ?? '', /5 results/);

    // a text file as upload: a message on the page, and the server still answers
    const notImage = join(toy.root, 'notes.png');
    writeFileSync(notImage, 'this is not an image\n');
    await page.setInputFiles('#upload', notImage);
    await page.waitForFunction(() => (document.getElementById('message')!.textContent ?? '').length > 0);
    t.regex((await page.textContent('#message')) ?? '', /not a readable image/);
    // too large (over --max-upload-mb 1): refused by the server too, not only by the page
    const big = await fetch(`${server.url}api/upload`, { method: 'POST', body: new Uint8Array(2 * 1048576) });
    t.is(big.status, 413);
    t.regex(((await big.json()) as { error: string }).error, /too large/);
    // a real image upload works
    await page.setInputFiles('#upload', join(toy.root, 'gallery-images', ref));
    await page.waitForFunction(() => (document.getElementById('reference-id')?.textContent ?? '').startsWith('uploaded'));
    t.is(await page.textContent('#message'), '');
    t.is((await fetch(`${server.url}api/info`)).status, 200);
    // the console errors of the refused upload's 400 are the browser's network log, not script errors
    t.deepEqual(errors.filter((e) => !/status of 4\d\d/.test(e)), []);
  } finally {
    await browser.close();
    server.child.kill('SIGTERM');
  }
});
