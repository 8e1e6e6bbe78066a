/**
 * A device app page: the SDK with the browser store, syncing with the server on its own origin
 * (the test server passes `/api/` to the local host). It opens the store and starts showing the
 * demo user's accounts as soon as it loads (`?token=…&deviceId=…`), before any sync: what it shows
 * after a reload comes from OPFS. The test drives it through `globalThis.device`. Bundled by
 * web-test-server.ts; this file is compiled without the DOM's types, hence the declarations.
 */
import { createSyncClient, SyncClientError, type SyncClient, type SyncSummary } from '../../../client';
import { openWebLocalStore } from '../../../client/web';
import type { WebStoreWorker } from '../../../client/web-local-store';

declare const Worker: new (url: string, options: { type: 'module' }) => WebStoreWorker;
declare const location: { origin: string; search: string };
declare const document: { getElementById(id: string): { textContent: string | null } | null };

export type SyncOutcome = { ok: true; summary: SyncSummary } | { ok: false; code: string; message: string };

export interface DevicePage {
  /** Where the store keeps its data (`opfs-sahpool` expected). */
  persistence: string;
  sync(): Promise<SyncOutcome>;
  update(id: string, changes: Record<string, unknown>): Promise<void>;
  /** The outbox's entries, as `entity/id op`. */
  pending(): Promise<string[]>;
  online(): boolean;
}

async function start(): Promise<DevicePage> {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const deviceId = params.get('deviceId');
  if (!token || !deviceId) throw new Error('The page needs ?token=…&deviceId=…');
  const store = await openWebLocalStore({
    name: `${deviceId}.db`,
    worker: () => new Worker('/worker.js', { type: 'module' }),
    requirePersistence: true,
  });
  const client: SyncClient = createSyncClient({
    baseUrl: location.origin,
    org: 'contoso',
    app: 'field-sales',
    deviceId,
    getToken: () => token,
    store,
    // One attempt per sync: the test cuts the network and expects the sync to say so at once.
    retry: { maxAttempts: 1 },
  });
  const shown = document.getElementById('app');
  if (!shown) throw new Error('The page has no #app.');
  client.watch(
    client.table('account').orderBy('name'),
    (rows) => {
      shown.textContent = rows
        .map((r) => `${String(r.accountid)} ${JSON.stringify(r.telephone1 ?? null)}`)
        .join('\n');
    },
    (error) => {
      shown.textContent = `error: ${error instanceof Error ? error.message : String(error)}`;
    },
  );
  return {
    persistence: store.persistence,
    async sync() {
      try {
        return { ok: true, summary: await client.sync() };
      } catch (error) {
        if (error instanceof SyncClientError) return { ok: false, code: error.code, message: error.message };
        throw error;
      }
    },
    update: (id, changes) => client.update('account', id, changes),
    pending: async () => (await client.pending()).map((e) => `${e.entity}/${e.id} ${e.op}`),
    online: () => client.status().online,
  };
}

const g = globalThis as { device?: DevicePage; deviceError?: string };
start().then(
  (device) => {
    g.device = device;
  },
  (error: unknown) => {
    g.deviceError = error instanceof Error ? error.message : String(error);
  },
);
