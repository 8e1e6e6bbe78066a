import type { Page } from 'playwright-core';
import { localStoreConformanceCases, type ConformanceResult } from '../../client/conformance';
import { describeInBrowser, launchChromium, type LaunchedBrowser } from '../support/chromium';
import type { ConformancePage } from './web/conformance-page';
import { startWebTestServer, type WebTestServer } from './web/web-test-server';

/** Runs the conformance suite in the page over stores whose worker is `script`. */
function runSuite(page: Page, script: string) {
  return page.evaluate(
    (s) => (globalThis as unknown as { conformance: ConformancePage }).conformance.run(s),
    script,
  );
}

const failures = (results: ConformanceResult[]) => results.filter((r) => r.status === 'failed');

/**
 * The browser store (`@offline-sync/client/web`) in real headless Chromium: SQLite in WebAssembly in
 * a dedicated worker, on OPFS through opfs-sahpool, held to the same conformance suite as the memory
 * and better-sqlite3 stores; and its in-memory fallback where OPFS is missing.
 */
describeInBrowser('the browser store in Chromium', () => {
  let server: WebTestServer;
  let launched: LaunchedBrowser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startWebTestServer('test/client/web/conformance-page.ts');
    launched = await launchChromium();
    page = await launched.browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => 'conformance' in globalThis);
  }, 60_000);

  afterAll(async () => {
    await launched?.close();
    await server?.close();
  });

  afterEach(() => expect(pageErrors).toEqual([]));

  it('passes every conformance case on OPFS (opfs-sahpool), persistence after reopen included', async () => {
    const { results, persistence } = await runSuite(page, '/worker.js');
    expect(failures(results)).toEqual([]);
    expect(results.map((r) => r.status)).toEqual(localStoreConformanceCases.map(() => 'passed'));
    expect(new Set(persistence)).toEqual(new Set(['opfs-sahpool']));
  }, 60_000);

  it('falls back to memory where OPFS is missing, says why, and passes every case but persistence', async () => {
    const { results, persistence, reasons } = await runSuite(page, '/worker-without-opfs.js');
    expect(failures(results)).toEqual([]);
    expect(results.filter((r) => r.status === 'skipped').map((r) => r.name)).toEqual([
      'what was committed is there after close and reopen',
    ]);
    expect(new Set(persistence)).toEqual(new Set(['memory']));
    expect(reasons).toEqual(['navigator.storage.getDirectory is missing']);
  }, 60_000);

  it('a second store on the same pool waits, then fails while the first holds the files; opens once it is closed', async () => {
    const outcome = await page.evaluate(() =>
      (globalThis as unknown as { conformance: ConformancePage }).conformance.secondWhileOpen(),
    );
    expect(outcome.whileOpen).toMatch(/^NoModificationAllowedError: /);
    expect(outcome.afterClose).toBe('opened');
  });

  it('refuses to open without OPFS when asked to persist, and opens with it', async () => {
    const open = (script: string) =>
      page.evaluate(
        (s) => (globalThis as unknown as { conformance: ConformancePage }).conformance.openPersistent(s),
        script,
      );
    expect(await open('/worker-without-opfs.js')).toBe(
      'Error: OPFS is not available: navigator.storage.getDirectory is missing.',
    );
    expect(await open('/worker.js')).toBe('opened');
  });
});
