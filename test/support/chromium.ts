import { chromiumPath } from '../../tooling/chromium';

/**
 * Browser tests run in Debian's Chromium driven by playwright-core; the launcher lives in
 * `tooling/chromium.ts` (the bench uses it too). Without a Chromium the browser tests are skipped,
 * and say so once on stderr.
 */
export { chromiumPath, launchChromium, type LaunchedBrowser } from '../../tooling/chromium';

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
