import type { BrowserContext, Page } from 'playwright-core';
import { createSyncClient } from '../../client';
import { createMemoryLocalStore } from '../../client/memory';
import { DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { loadDirectory } from '../../shared/admin/directory-store';
import type { DevicePage, SyncOutcome } from '../client/web/device-page';
import { startWebTestServer, type WebTestServer } from '../client/web/web-test-server';
import { describeInBrowser, launchChromium, type LaunchedBrowser } from '../support/chromium';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

type DeviceGlobal = { device?: DevicePage; deviceError?: string };

/**
 * A browser device app (the SDK with the OPFS store, in headless Chromium) against the local host:
 * it syncs a demo user, is cut off the network by the test, edits a row offline, is reloaded while
 * the server stays unreachable and still shows its edit (kept in OPFS, with its outbox entry), and
 * uploads it once the network is back; another device of the user then receives it from the server.
 */
describeInBrowser('a browser device app offline, reloaded, and back online', () => {
  let f: HostFixture;
  let server: WebTestServer;
  let launched: LaunchedBrowser;
  let context: BrowserContext;
  let page: Page;
  let token: string;
  const pageErrors: string[] = [];
  const phone = '+1 555 0199';

  beforeAll(async () => {
    f = await startHostFixture({ DEMO_ROWS: '60' });
    server = await startWebTestServer('test/client/web/device-page.ts', f.host.url);
    const directory = await loadDirectory(f.host.runtime.services.store.tenant(DEMO_ORG));
    const dave = directory.users.find((u) => u.userName.startsWith('dave'));
    if (!dave) throw new Error('no demo user dave');
    token = await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
    launched = await launchChromium();
    context = await launched.browser.newContext();
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 60_000);

  afterAll(async () => {
    await launched?.close();
    await server?.close();
    await f?.close();
  });

  /** Waits for the page's device to be open (or its start to fail, which fails the test). */
  async function opened(): Promise<void> {
    await page.waitForFunction(() => {
      const g = globalThis as DeviceGlobal;
      return g.device !== undefined || g.deviceError !== undefined;
    });
    expect(await page.evaluate(() => (globalThis as DeviceGlobal).deviceError)).toBeUndefined();
  }
  // Run in the page (serialized: they reach the page's device through its global, set by `opened()`).
  const sync = (): Promise<SyncOutcome> => page.evaluate(() => (globalThis as DeviceGlobal).device!.sync());
  const pending = (): Promise<string[]> =>
    page.evaluate(() => (globalThis as DeviceGlobal).device!.pending());
  const shown = async (): Promise<string> => (await page.locator('#app').textContent()) ?? '';

  it('syncs, edits offline, keeps the edit across a reload, and uploads it on reconnect', async () => {
    await page.goto(`${server.url}/?deviceId=dave-browser&token=${encodeURIComponent(token)}`);
    await opened();
    expect(await page.evaluate(() => (globalThis as DeviceGlobal).device!.persistence)).toBe('opfs-sahpool');
    const first = await sync();
    expect(first).toMatchObject({ ok: true, summary: { rejected: 0 } });
    expect(first.ok && first.summary.downloaded).toBeGreaterThan(0);
    await page.waitForFunction(
      () =>
        (
          globalThis as { document?: { getElementById(id: string): { textContent: string } | null } }
        ).document?.getElementById('app')?.textContent !== '',
    );
    const [firstLine] = (await shown()).split('\n');
    const accountId = firstLine!.split(' ')[0]!;
    expect(firstLine).not.toContain(phone);

    // The network is cut: the edit is applied locally, the sync says the network failed.
    await context.setOffline(true);
    await page.evaluate(
      ([id, value]) => (globalThis as DeviceGlobal).device!.update(id!, { telephone1: value }),
      [accountId, phone],
    );
    await page
      .locator('#app')
      .filter({ hasText: `${accountId} "${phone}"` })
      .waitFor();
    expect(await sync()).toMatchObject({ ok: false, code: 'Network' });
    expect(await page.evaluate(() => (globalThis as DeviceGlobal).device!.online())).toBe(false);

    // Reloaded while the server is still unreachable (the page itself loads; /api/ does not).
    await context.setOffline(false);
    await context.route(`${server.url}/api/**`, (route) => route.abort('internetdisconnected'));
    await page.reload();
    await opened();
    await page
      .locator('#app')
      .filter({ hasText: `${accountId} "${phone}"` })
      .waitFor();
    expect(await pending()).toEqual([`account/${accountId} update`]);
    expect(await sync()).toMatchObject({ ok: false, code: 'Network' });

    // Back online: the edit is uploaded and the outbox is empty.
    await context.unroute(`${server.url}/api/**`);
    expect(await sync()).toMatchObject({ ok: true, summary: { uploaded: 1, rejected: 0, conflicts: 0 } });
    expect(await pending()).toEqual([]);
    await page
      .locator('#app')
      .filter({ hasText: `${accountId} "${phone}"` })
      .waitFor();

    // The server has it: another device of the same user receives the edited row.
    const other = createSyncClient({
      baseUrl: f.host.url,
      org: DEMO_ORG,
      app: 'field-sales',
      deviceId: 'dave-laptop',
      getToken: () => token,
      store: createMemoryLocalStore(),
      fetch: f.fetch,
    });
    await other.sync();
    expect(await other.get('account', accountId)).toMatchObject({ telephone1: phone });
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
