import { DEMO_APP_ID } from '../local/demo/seed-demo-tenant';
import { fromTablesResponse } from '../shared/sync/download-tables';
import type {
  DownloadChange,
  DownloadFormat,
  DownloadResponse,
  DownloadTablesResponse,
} from '../shared/sync/sync-protocol';
import { expectStatus, type BenchHttpClient } from './http-client';
import { addStoreReads, noStoreReads, storeReadsOf, type StoreReads } from './store-reads';

/** What downloading until `more` is false cost. */
export interface DownloadRun {
  rows: number;
  removals: number;
  pages: number;
  /** Sum of the host's own time over the pages. */
  serverMs: number;
  /** Wall time of the whole run as the device saw it. */
  clientMs: number;
  wireBodyBytes: number;
  bodyBytes: number;
  /** What the pages read from the store, from the route's `x-store-reads` header, summed. */
  reads: StoreReads;
  /** Upserts sent, by entity. */
  rowsByEntity: Record<string, number>;
  checkpoint: string | undefined;
  /** The changes `keep` chose to hold on to (for later updates). */
  kept: DownloadChange[];
}

/** Largest page the download route serves. */
export const BENCH_PAGE_SIZE = 5000;
/** Most pages one run may fetch: a guard so a server that never ends `more` cannot loop forever. */
const MAX_PAGES = 2000;

/**
 * Downloads for one device, page after page, from `checkpoint` (none: the initial download) until the
 * server says there is no more, acknowledging each page by sending its checkpoint with the next request.
 */
export async function downloadUntilDone(
  client: BenchHttpClient,
  options: {
    token: string;
    org: string;
    deviceId: string;
    checkpoint?: string;
    acceptEncoding?: string;
    pageSize?: number;
    /** The answer's format; `tables` (the default) is what the SDK asks for. */
    format?: DownloadFormat;
    keep?: (change: DownloadChange) => boolean;
  },
): Promise<DownloadRun> {
  const run: DownloadRun = {
    rows: 0,
    removals: 0,
    pages: 0,
    serverMs: 0,
    clientMs: 0,
    wireBodyBytes: 0,
    bodyBytes: 0,
    reads: noStoreReads(),
    rowsByEntity: {},
    checkpoint: options.checkpoint,
    kept: [],
  };
  const started = performance.now();
  for (;;) {
    if (run.pages >= MAX_PAGES)
      throw new Error(`Download of ${options.deviceId} did not end in ${MAX_PAGES} pages.`);
    const response = expectStatus(
      await client.send<DownloadResponse | DownloadTablesResponse>(
        'POST',
        `/api/sync/${options.org}/download`,
        {
          token: options.token,
          acceptEncoding: options.acceptEncoding ?? 'identity',
          body: {
            app: DEMO_APP_ID,
            deviceId: options.deviceId,
            pageSize: options.pageSize ?? BENCH_PAGE_SIZE,
            format: options.format ?? 'tables',
            ...(run.checkpoint === undefined ? {} : { checkpoint: run.checkpoint }),
          },
        },
      ),
      200,
      `download for ${options.deviceId}`,
    );
    run.pages += 1;
    run.serverMs += response.serverMs;
    run.wireBodyBytes += response.wireBodyBytes;
    run.bodyBytes += response.bodyBytes;
    addStoreReads(run.reads, storeReadsOf(response.headers));
    const body = response.body;
    // Counting a tables page needs no row objects; keeping changes does.
    if ('tables' in body && options.keep === undefined) {
      for (const table of body.tables) {
        run.rows += table.ids.length;
        run.rowsByEntity[table.entity] = (run.rowsByEntity[table.entity] ?? 0) + table.ids.length;
      }
      run.removals += body.removals.length;
    } else {
      countChanges(run, 'tables' in body ? fromTablesResponse(body) : body.changes, options.keep);
    }
    run.checkpoint = response.body.checkpoint;
    if (!response.body.more) break;
  }
  run.clientMs = performance.now() - started;
  return run;
}

function countChanges(
  run: DownloadRun,
  changes: readonly DownloadChange[],
  keep: ((change: DownloadChange) => boolean) | undefined,
): void {
  for (const change of changes) {
    if (change.op === 'upsert') {
      run.rows += 1;
      run.rowsByEntity[change.entity] = (run.rowsByEntity[change.entity] ?? 0) + 1;
    } else run.removals += 1;
    if (keep?.(change)) run.kept.push(change);
  }
}
