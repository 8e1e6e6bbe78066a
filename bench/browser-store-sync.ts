import { chromiumPath, launchChromiumProfile } from '../tooling/chromium';
import { startWebPageServer } from '../tooling/web-page-server';
import type { PageSyncRun, SdkSyncPage } from './web/sdk-sync-page';

/** The bench's page (bundled from the sources by the page server). */
const PAGE = 'bench/web/sdk-sync-page.ts';

export interface BrowserStoreSyncs {
  chromium: string;
  warm: PageSyncRun;
  runs: PageSyncRun[];
}

/**
 * Initial syncs of `user`'s devices from a page in headless Chromium with the browser store
 * (`@offline-sync/client/web`), against the host at `hostUrl`: one warm-up, then `runs` devices, each
 * a new device id and a new database in the pool. The page is served from 127.0.0.1 (a free port),
 * which passes `/api/` to the host. Chromium runs on a new profile folder, so OPFS is on disk as a
 * user's browser keeps it: an off-the-record context (playwright's `newContext`, as the tests use)
 * keeps OPFS in memory and measured about twice as slow here (about 1.5 s a sync against 0.75 s).
 * Undefined when no Chromium is found.
 */
export async function syncInChromium(options: {
  hostUrl: string;
  token: string;
  org: string;
  app: string;
  deviceIdPrefix: string;
  runs: number;
  log(line: string): void;
}): Promise<BrowserStoreSyncs | undefined> {
  if (chromiumPath() === undefined) return undefined;
  const server = await startWebPageServer(PAGE, options.hostUrl);
  try {
    const launched = await launchChromiumProfile();
    try {
      const page = await launched.context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${server.url}/`);
      await page.waitForFunction(() => 'sdkSync' in globalThis);
      // The full version (the user agent says 156.0.0.0); a persistent context has no `browser()`.
      const cdp = await launched.context.newCDPSession(page);
      const { product } = (await cdp.send('Browser.getVersion')) as { product: string };
      await cdp.detach();
      const chromium = /\/([\d.]+)$/.exec(product)?.[1] ?? product;
      const syncOnce = async (n: number): Promise<PageSyncRun> => {
        const deviceId = `${options.deviceIdPrefix}-${n}`;
        const run = await page.evaluate(
          (request) => (globalThis as unknown as { sdkSync: SdkSyncPage }).sdkSync.sync(request),
          {
            org: options.org,
            app: options.app,
            deviceId,
            database: `${deviceId}.db`,
            token: options.token,
          },
        );
        if (pageErrors.length > 0) throw new Error(`The bench page failed: ${pageErrors.join('; ')}`);
        if (run.rows === 0 || run.held !== run.rows)
          throw new Error(
            `Workload 8 (Chromium): device ${n} downloaded ${run.rows} rows and its store holds ${run.held}.`,
          );
        return run;
      };
      const warm = await syncOnce(0);
      options.log(
        `Workload 8: warm-up sync in Chromium ${chromium} (${warm.persistence}) of ${warm.rows} rows in ${warm.clientMs.toFixed(0)} ms`,
      );
      const runs: PageSyncRun[] = [];
      for (let n = 1; n <= options.runs; n++) runs.push(await syncOnce(n));
      return { chromium, warm, runs };
    } finally {
      await launched.close();
    }
  } finally {
    await server.close();
  }
}
