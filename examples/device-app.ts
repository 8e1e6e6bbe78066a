/**
 * The README's device app ("Build a device app"), runnable: in an app the imports are
 * `@offline-sync/client` and `@offline-sync/client/sqlite`. `test/client/examples.test.ts` runs it
 * against the local host.
 */
import { createSyncClient, type SyncSummary } from '../client';
import { createSqliteLocalStore } from '../client/sqlite';

export interface DeviceAppOptions {
  baseUrl: string;
  /** Called per request: refresh the token inside (e.g. MSAL's acquireTokenSilent). */
  getToken: () => Promise<string> | string;
  dbPath: string;
  log?: (line: string) => void;
}

export async function runDeviceApp(
  options: DeviceAppOptions,
): Promise<{ first: SyncSummary; second: SyncSummary; contactId: string }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const store = createSqliteLocalStore(options.dbPath);
  const client = createSyncClient({
    baseUrl: options.baseUrl,
    org: 'contoso',
    app: 'field-sales',
    deviceId: 'dave-phone-1', // stable per device
    getToken: options.getToken,
    store,
    onProgress: (p) => log(`${p.phase} ${p.percent}% ${p.done}/${p.total}`),
  });
  try {
    const first = await client.sync(); // { uploaded, conflicts, rejected, downloaded, removed, durationMs, nextSyncSeconds }
    const [account] = await client.table('account').orderBy('name').limit(1).get();
    if (!account) throw new Error('The first sync brought no account.');
    await client.update('account', String(account.accountid), { telephone1: '+1 555 0100' }); // offline, at once
    const contactId = await client.create('contact', {
      fullname: 'New Buyer',
      parentcustomerid: account.accountid,
    });
    const second = await client.sync(); // uploads both, applies results, downloads what changed
    for (const e of await client.syncErrors())
      log(`${e.status} ${e.entity} ${e.recordId} ${e.error.message}`);
    log(`next sync in ${first.nextSyncSeconds} s`); // the server says when (startSyncLoop follows it)
    return { first, second, contactId };
  } finally {
    await store.close();
  }
}
