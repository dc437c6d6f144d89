/**
 * Headless Chromium for the browser tests, through playwright-core driving the SYSTEM's Chromium
 * (playwright-core downloads no browser; these machines reach no browser download host). A missing
 * Chromium fails the test with how to install it — it is never skipped.
 */
import { existsSync } from 'node:fs';
import { type Browser, type Page, chromium } from 'playwright-core';
import { tempDir } from './test-utils.ts';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export function chromiumPath(): string {
  const env = process.env.CHROMIUM_PATH;
  if (env) {
    if (!existsSync(env)) throw new Error(`CHROMIUM_PATH=${env}: no such file`);
    return env;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium found (looked for ${CANDIDATES.join(', ')}): install Debian's with \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  return found;
}

export async function launch(): Promise<Browser> {
  // --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** A page that records console errors and uncaught exceptions. */
export async function openPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, errors };
}

export function screenshotDir(): string {
  return tempDir('shots');
}

/** Images on the page that did not load (complete with naturalWidth 0), by src. */
export async function brokenImages(page: Page, selector = 'img'): Promise<string[]> {
  return page.$$eval(selector, (imgs) => (imgs as HTMLImageElement[]).filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.src));
}
