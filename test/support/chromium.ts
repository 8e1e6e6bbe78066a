import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Browser tests run in Debian's Chromium driven by playwright-core (Playwright's own browser
 * download cannot run here). `CHROMIUM_PATH` points at another binary; without one the browser
 * tests are skipped, and say so once on stderr.
 */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string | undefined {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) return existsSync(configured) ? configured : undefined;
  return CANDIDATES.find((path) => existsSync(path));
}

/** `describe` when a Chromium is found, `describe.skip` (with a line saying why) otherwise. */
export function describeInBrowser(name: string, body: () => void): void {
  if (chromiumPath()) {
    describe(name, body);
    return;
  }
  process.stderr.write(
    `SKIPPED browser tests "${name}": no Chromium found (install Debian's chromium or set CHROMIUM_PATH)\n`,
  );
  describe.skip(name, body);
}

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with the flags this closed network needs; playwright gives every
 * launch a fresh, empty profile folder of its own (it refuses `--user-data-dir` in `launch`).
 */
export async function launchChromium(): Promise<LaunchedBrowser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('No Chromium found (install chromium or set CHROMIUM_PATH)');
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}
