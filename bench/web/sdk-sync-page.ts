/**
 * Workload 8's browser page: one device's initial sync with the SDK and the browser store
 * (`@offline-sync/client/web`: SQLite in WebAssembly in a worker, on OPFS through opfs-sahpool),
 * against the host on the page's own origin (the page server passes `/api/` to it). The bench calls
 * `globalThis.sdkSync.sync(...)` once per device. Bundled by tooling/web-page-server.ts; compiled
 * without the DOM's types, hence the declarations.
 */
import { createSyncClient } from '../../client';
import { openWebLocalStore } from '../../client/web';
import type { WebStoreWorker } from '../../client/web-local-store';

declare const Worker: new (url: string, options: { type: 'module' }) => WebStoreWorker;
declare const location: { origin: string };

export interface PageSyncRequest {
  org: string;
  app: string;
  deviceId: string;
  /** The database's file name in the pool: a new one per device. */
  database: string;
  token: string;
}

export interface PageSyncRun {
  /** Where the store kept the database: `opfs-sahpool`, or `memory` where OPFS was missing. */
  persistence: string;
  persistenceReason?: string;
  rows: number;
  pages: number;
  /** Rows the store holds after the sync, counted in the page outside the timing. */
  held: number;
  /** `performance.now()` around `client.sync()`, in the page. */
  clientMs: number;
  /** Sum of the host's `server-timing: app;dur=` over the sync's requests. */
  serverMs: number;
  /** The `content-encoding` of the sync's answers, as the browser negotiated them. */
  encodings: string[];
}

export interface SdkSyncPage {
  sync(request: PageSyncRequest): Promise<PageSyncRun>;
}

function serverTimingMs(header: string | null): number {
  const match = header === null ? null : /(?:^|,)\s*app;dur=([\d.]+)/.exec(header);
  return match ? Number(match[1]) : 0;
}

const page: SdkSyncPage = {
  async sync(request) {
    const store = await openWebLocalStore({
      name: request.database,
      worker: () => new Worker('/worker.js', { type: 'module' }),
    });
    try {
      let serverMs = 0;
      const encodings = new Set<string>();
      const timedFetch: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        serverMs += serverTimingMs(response.headers.get('server-timing'));
        encodings.add(response.headers.get('content-encoding') ?? 'identity');
        return response;
      };
      const client = createSyncClient({
        baseUrl: location.origin,
        org: request.org,
        app: request.app,
        deviceId: request.deviceId,
        getToken: () => request.token,
        store,
        fetch: timedFetch,
      });
      const started = performance.now();
      const summary = await client.sync();
      const clientMs = performance.now() - started;
      // Outside the timing: every downloaded row is in the store (an initial download removes none).
      const held = await store.transaction(async (tx) => {
        const { metadata } = await tx.readState();
        let n = 0;
        for (const entity of metadata?.entities ?? []) n += (await tx.listRows(entity.logicalName)).length;
        return n;
      });
      return {
        persistence: store.persistence,
        ...(store.persistenceReason === undefined ? {} : { persistenceReason: store.persistenceReason }),
        rows: summary.downloaded,
        pages: summary.pages,
        held,
        clientMs,
        serverMs,
        encodings: [...encodings],
      };
    } finally {
      // Releases the pool's OPFS handles for the next device's store (a new worker).
      await store.close();
    }
  },
};

(globalThis as { sdkSync?: SdkSyncPage }).sdkSync = page;
