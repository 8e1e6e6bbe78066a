import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncClient, type SyncSummary } from '../client';
import { createSqliteLocalStore } from '../client/sqlite';
import { DEMO_APP_ID } from '../local/demo/seed-demo-tenant';
import { atLeast, atMost, figure } from './bench-figure';
import { ORG, type BenchContext } from './bench-context';
import { syncInChromium } from './browser-store-sync';
import { removeDataDir, startHostProcess } from './host-process';
import { INITIAL_DOWNLOAD_DEMO_ROWS } from './initial-download-workload';
import { median } from './statistics';

/** The same user as workload 1: the manager `bob` holds about 10,000 rows of the 20,000-row tenant. */
const USER = 'bob';
const STORE = 'SQLite (SDK better-sqlite3 store, bench process)';

/** One device's initial sync into a fresh SQLite file, as the SDK ran it. */
interface SdkSyncRun {
  rows: number;
  pages: number;
  /** `sync()` wall time: metadata, empty upload, every download page applied and committed. */
  clientMs: number;
  /** Sum of the host's `server-timing: app;dur=` over the sync's requests. */
  serverMs: number;
}

/** Reads the host's own time from `server-timing: app;dur=12.3` (0 when absent). */
function serverTimingMs(header: string | null): number {
  const match = header === null ? null : /(?:^|,)\s*app;dur=([\d.]+)/.exec(header);
  return match ? Number(match[1]) : 0;
}

/**
 * Workload 8: the SDK's initial sync end to end (`createSyncClient` + `createSqliteLocalStore` into a
 * temporary file) for workload 1's ~10,000-row user, over loopback with the compression `fetch`
 * negotiates. The first sync warms the host and the bench process; the figure is the median of the
 * following ones, each a new device with a new database file. Then the same user's initial sync
 * from a page in headless Chromium with the browser store (`@offline-sync/client/web`), against the
 * same host, measured the same way in the page; skipped, saying so, where no Chromium is found.
 */
export async function runSdkInitialSync(context: BenchContext, options: { runs: number }): Promise<void> {
  context.log(`Workload 8: SDK initial sync into SQLite, ${INITIAL_DOWNLOAD_DEMO_ROWS} demo rows…`);
  const host = await startHostProcess({ demoRows: INITIAL_DOWNLOAD_DEMO_ROWS });
  const deviceDir = mkdtempSync(join(tmpdir(), 'offline-sync-bench-device-'));
  try {
    const token = await host.token(USER);
    const syncOnce = async (n: number): Promise<SdkSyncRun> => {
      const store = createSqliteLocalStore(join(deviceDir, `device-${n}.db`));
      let serverMs = 0;
      const timedFetch: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        serverMs += serverTimingMs(response.headers.get('server-timing'));
        return response;
      };
      const client = createSyncClient({
        baseUrl: host.url,
        org: ORG,
        app: DEMO_APP_ID,
        deviceId: `bench-w8-${n}`,
        getToken: () => token,
        store,
        fetch: timedFetch,
      });
      try {
        const started = performance.now();
        const summary: SyncSummary = await client.sync();
        const clientMs = performance.now() - started;
        // Outside the timing: every downloaded row is in the file (an initial download removes none).
        const tables = store.database
          .prepare<[], { name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rows_%'",
          )
          .all();
        let held = 0;
        for (const { name } of tables)
          held +=
            store.database.prepare<[], { n: number }>(`SELECT count(*) AS n FROM "${name}"`).get()?.n ?? 0;
        if (summary.downloaded === 0 || held !== summary.downloaded)
          throw new Error(`Workload 8: device ${n} downloaded ${summary.downloaded} rows and holds ${held}.`);
        return { rows: summary.downloaded, pages: summary.pages, clientMs, serverMs };
      } finally {
        await store.close();
      }
    };

    const warm = await syncOnce(0);
    context.log(`Workload 8: warm-up sync of ${warm.rows} rows in ${warm.clientMs.toFixed(0)} ms`);
    const runs: SdkSyncRun[] = [];
    for (let n = 1; n <= options.runs; n++) runs.push(await syncOnce(n));
    const clientMs = median(runs.map((r) => r.clientMs));
    const serverMs = median(runs.map((r) => r.serverMs));
    const first = runs[0] ?? warm;
    const workload = '8 SDK initial sync';
    const add = (f: Parameters<typeof figure>[0]): number => context.figures.push(figure(f));
    add({
      workload,
      name: 'client wall time, into SQLite',
      value: clientMs,
      unit: 'ms',
      store: STORE,
      goal: atMost(250, '10,000 rows into client SQLite under 250 ms'),
      note: `user ${USER} (as workload 1) syncs ${first.rows} rows in ${first.pages} pages with createSyncClient + createSqliteLocalStore (default page size, brotli as the SDK asks on Node.js); median of ${options.runs} runs after a warm-up (${warm.clientMs.toFixed(0)} ms cold), each a new device and file; runs ${runs.map((r) => r.clientMs.toFixed(0)).join(', ')} ms`,
    });
    add({ workload, name: 'server share (server-timing)', value: serverMs, unit: 'ms', store: STORE });
    add({
      workload,
      name: 'rows per second (client wall time)',
      value: (first.rows / clientMs) * 1000,
      unit: 'rows/s',
      store: STORE,
      goal: atLeast(40_000, '10,000 rows in 250 ms'),
    });

    const browser = await syncInChromium({
      hostUrl: host.url,
      token,
      org: ORG,
      app: DEMO_APP_ID,
      deviceIdPrefix: 'bench-w8-web',
      runs: options.runs,
      log: (line) => context.log(line),
    });
    if (browser === undefined) {
      const skipped =
        "Workload 8: SKIPPED the browser-store figures (client wall time, browser store in Chromium): no Chromium found (install Debian's chromium or set CHROMIUM_PATH).";
      context.log(skipped);
      context.notes.push(skipped);
      return;
    }
    const { chromium, warm: browserWarm, runs: browserRuns } = browser;
    const kinds = [...new Set(browserRuns.map((r) => r.persistence))];
    const persistence =
      kinds.length === 1 && kinds[0] === 'opfs-sahpool'
        ? 'OPFS through opfs-sahpool (on disk, a new Chromium profile folder)'
        : `${kinds.join(' and ')} (the memory fallback: ${[...new Set(browserRuns.map((r) => r.persistenceReason ?? 'no reason given'))].join('; ')})`;
    const browserStore = `browser store (SQLite WASM in a worker, ${kinds.join('/')}), headless Chromium ${chromium}`;
    const browserFirst = browserRuns[0] ?? browserWarm;
    const browserMs = median(browserRuns.map((r) => r.clientMs));
    add({
      workload,
      name: 'client wall time, browser store in Chromium',
      value: browserMs,
      unit: 'ms',
      store: browserStore,
      note: `the same user ${USER} syncs ${browserFirst.rows} rows in ${browserFirst.pages} pages from a page in headless Chromium ${chromium} with createSyncClient + openWebLocalStore (@offline-sync/client/web, @sqlite.org/sqlite-wasm in a dedicated worker); persistence: ${persistence}; the page served from 127.0.0.1, which passes /api/ to the same host (content-encoding ${[...new Set(browserRuns.flatMap((r) => r.encodings))].join(', ')}, as Chromium negotiated it); performance.now() around client.sync() in the page, the store's rows counted there after each sync; median of ${options.runs} runs after a warm-up (${browserWarm.clientMs.toFixed(0)} ms cold), each a new device id and database; runs ${browserRuns.map((r) => r.clientMs.toFixed(0)).join(', ')} ms`,
    });
    add({
      workload,
      name: 'server share (server-timing), browser store in Chromium',
      value: median(browserRuns.map((r) => r.serverMs)),
      unit: 'ms',
      store: browserStore,
    });
    add({
      workload,
      name: 'rows per second (client wall time), browser store in Chromium',
      value: (browserFirst.rows / browserMs) * 1000,
      unit: 'rows/s',
      store: browserStore,
    });
  } finally {
    removeDataDir(deviceDir);
    await host.stop();
    removeDataDir(host.dataDir);
  }
}
