import { atLeast, atMost, figure } from './bench-figure';
import { HOST_STORE, ORG, type BenchContext } from './bench-context';
import { downloadUntilDone, type DownloadRun } from './device-download';
import { startHostProcess, removeDataDir, type HostProcess } from './host-process';
import { BenchHttpClient } from './http-client';
import { countResults, putTenantSettings, uploadBatch } from './sync-upload';
import type { UploadOperation } from '../shared/sync/upload/upload-protocol';
import type { DownloadChange } from '../shared/sync/sync-protocol';

/**
 * Demo rows for workload 1: the manager `bob` sees his business unit's rows (about half the tenant),
 * so 20,000 demo rows give him about 10,000.
 */
export const INITIAL_DOWNLOAD_DEMO_ROWS = 20_000;
const USER = 'bob';
const UPLOAD_BATCH = 500;
/** Downloads per figure of workload 1: the figure is their median. */
const RUNS = 3;
const CONFLICTS = 50;

/** Figures of workload 1 that workload 7 (the PouchDB peer) is compared with. */
export interface InitialDownloadResult {
  rows: number;
  clientMs: number;
  /** Every byte the host sent during the compressed download (headers included). */
  wireBytes: number;
}

/**
 * Workload 1 (initial download of ~10,000 rows, with and without compression) and workload 5 (a batch
 * of 500 updates; 500 with 50 conflicts under server-wins), on one host.
 */
export async function runInitialDownloadAndUpload(context: BenchContext): Promise<InitialDownloadResult> {
  context.log(`Workloads 1 and 5: local host with ${INITIAL_DOWNLOAD_DEMO_ROWS} demo rows…`);
  const host = await startHostProcess({ demoRows: INITIAL_DOWNLOAD_DEMO_ROWS });
  const client = new BenchHttpClient(host.url);
  try {
    await putTenantSettings(client, {
      adminToken: await host.token('alice', { admin: true }),
      org: ORG,
      settings: { softRowLimit: 2_000_000, hardRowLimit: 2_000_000 },
    });
    const token = await host.token(USER);
    // A first download warms the host (compiled profile, directory caches, V8's optimized code), as
    // workload 8 does: the figures are those of a host that has served a device before.
    const warm = await downloadUntilDone(client, {
      token,
      org: ORG,
      deviceId: 'bench-w1-warm',
      acceptEncoding: 'br, gzip',
    });
    context.notes.push(
      `Workload 1: the host's first download (not in the figures) took ${warm.serverMs.toFixed(0)} ms server time with brotli.`,
    );
    // Each figure is the median of RUNS downloads (new devices), as one run on a shared two-core
    // machine can be off by a third.
    const plainRuns: DownloadRun[] = [];
    const compressedRuns: { run: DownloadRun; wireBytes: number }[] = [];
    for (let n = 0; n < RUNS; n++) {
      plainRuns.push(await downloadUntilDone(client, { token, org: ORG, deviceId: `bench-w1-plain-${n}` }));
      const before = client.bytesReceived();
      const run = await downloadUntilDone(client, {
        token,
        org: ORG,
        deviceId: `bench-w1-br-${n}`,
        acceptEncoding: 'br, gzip',
        keep: (change) => n === 0 && change.op === 'upsert' && change.entity !== 'systemuser',
      });
      compressedRuns.push({ run, wireBytes: client.bytesReceived() - before });
    }
    const plain = medianRun(plainRuns);
    const { run: compressed, wireBytes } = compressedRuns.find(
      ({ run }) => run === medianRun(compressedRuns.map((r) => r.run)),
    )!;
    context.notes.push(
      `Workload 1: server times of the ${RUNS} runs, uncompressed ${plainRuns.map((r) => r.serverMs.toFixed(0)).join(', ')} ms; brotli ${compressedRuns.map(({ run }) => run.serverMs.toFixed(0)).join(', ')} ms.`,
    );
    // The same download in the `changes` format (one object per change), for comparison.
    const changesFormat = await downloadUntilDone(client, {
      token,
      org: ORG,
      deviceId: 'bench-w1-changes',
      acceptEncoding: 'br, gzip',
      format: 'changes',
    });
    reportInitialDownload(context, plain, compressed, changesFormat);
    await runUpload(context, host, client, compressedRuns[0]!.run.kept);
    return { rows: compressed.rows, clientMs: compressed.clientMs, wireBytes };
  } finally {
    client.close();
    await host.stop();
    removeDataDir(host.dataDir);
  }
}

/** The run with the median server time (the middle one of an odd count). */
function medianRun(runs: readonly DownloadRun[]): DownloadRun {
  return [...runs].sort((a, b) => a.serverMs - b.serverMs)[Math.floor(runs.length / 2)]!;
}

function reportInitialDownload(
  context: BenchContext,
  plain: DownloadRun,
  compressed: DownloadRun,
  changesFormat: DownloadRun,
): void {
  const workload = '1 initial download';
  const note = `user ${USER} (sales-managers profile, business unit rows) holds ${compressed.rows} rows of a ${INITIAL_DOWNLOAD_DEMO_ROWS}-row demo tenant; ${compressed.pages} pages of 5,000 in the tables format the SDK asks for; each figure the median of ${RUNS} downloads by new devices after a warm-up`;
  const add = (f: Parameters<typeof figure>[0]): number => context.figures.push(figure(f));
  add({
    workload,
    name: 'server time, compressed (br)',
    value: compressed.serverMs,
    unit: 'ms',
    store: HOST_STORE,
    goal: atMost(200, '10,000 rows under 0.2 s'),
    note,
  });
  add({
    workload,
    name: 'server time, uncompressed',
    value: plain.serverMs,
    unit: 'ms',
    store: HOST_STORE,
    goal: atMost(200, '10,000 rows under 0.2 s'),
  });
  add({
    workload,
    name: 'rows per second (server time, br)',
    value: (compressed.rows / compressed.serverMs) * 1000,
    unit: 'rows/s',
    store: HOST_STORE,
    goal: atLeast(50_000, 'at least 50,000 rows/s'),
  });
  add({
    workload,
    name: 'rows per second (client wall time, br)',
    value: (compressed.rows / compressed.clientMs) * 1000,
    unit: 'rows/s',
    store: HOST_STORE,
  });
  add({
    workload,
    name: 'wire bytes, compressed',
    value: compressed.wireBodyBytes,
    unit: 'B',
    store: HOST_STORE,
  });
  add({
    workload,
    name: 'wire bytes, uncompressed',
    value: plain.wireBodyBytes,
    unit: 'B',
    store: HOST_STORE,
  });
  add({
    workload,
    name: 'bytes per row, compressed',
    value: compressed.wireBodyBytes / compressed.rows,
    unit: 'B/row',
    store: HOST_STORE,
    goal: atMost(110, 'at most 110 B per 650-B row'),
  });
  add({
    workload,
    name: 'bytes per row, uncompressed',
    value: plain.wireBodyBytes / plain.rows,
    unit: 'B/row',
    store: HOST_STORE,
  });
  add({
    workload,
    name: 'server time, compressed (br), changes format',
    value: changesFormat.serverMs,
    unit: 'ms',
    store: HOST_STORE,
    note: 'the same download with one object per change (format "changes", the default)',
  });
  add({
    workload,
    name: 'bytes per row, compressed, changes format',
    value: changesFormat.wireBodyBytes / changesFormat.rows,
    unit: 'B/row',
    store: HOST_STORE,
  });
}

/** Workload 5: 500 updates (client wins), then 500 updates of which 50 are stale under server-wins. */
async function runUpload(
  context: BenchContext,
  host: HostProcess,
  client: BenchHttpClient,
  rows: DownloadChange[],
): Promise<void> {
  const workload = '5 upload';
  if (rows.length < UPLOAD_BATCH * 2 + CONFLICTS)
    throw new Error(
      `Workload 5 needs ${UPLOAD_BATCH * 2 + CONFLICTS} rows, the download kept ${rows.length}.`,
    );
  const token = await host.token(USER);
  const update = (change: DownloadChange, n: number, baseVersion: string): UploadOperation => ({
    opId: `bench-${n}-${change.id}`,
    entity: change.entity,
    id: change.id,
    op: 'update',
    row: { description: `bench update ${n}` },
    baseVersion,
  });

  const first = rows.slice(0, UPLOAD_BATCH);
  const plain = await uploadBatch(client, {
    token,
    org: ORG,
    deviceId: 'bench-w5',
    operations: first.map((c) => update(c, 1, c.version)),
  });
  const plainCounts = countResults(plain.body);
  context.figures.push(
    figure({
      workload,
      name: '500 updates, server time',
      value: plain.serverMs,
      unit: 'ms',
      store: HOST_STORE,
      goal: atMost(300, 'under 300 ms'),
      note: `client wins (conflict detection off); results ${JSON.stringify(plainCounts)}`,
    }),
  );
  if (plainCounts.applied !== UPLOAD_BATCH)
    throw new Error(`Workload 5: expected ${UPLOAD_BATCH} applied, got ${JSON.stringify(plainCounts)}`);

  await putTenantSettings(client, {
    adminToken: await host.token('alice', { admin: true }),
    org: ORG,
    settings: { conflictDetection: true },
  });
  // Rows changed on the server after the device read them: 50 of the batch are based on stale versions.
  const second = rows.slice(UPLOAD_BATCH, UPLOAD_BATCH * 2);
  const stale = second.slice(0, CONFLICTS);
  await uploadBatch(client, {
    token,
    org: ORG,
    deviceId: 'bench-w5-other',
    operations: stale.map((c) => update(c, 2, c.version)),
  });
  const conflicting = await uploadBatch(client, {
    token,
    org: ORG,
    deviceId: 'bench-w5',
    operations: second.map((c) => update(c, 3, c.version)),
  });
  const counts = countResults(conflicting.body);
  context.figures.push(
    figure({
      workload,
      name: '500 updates with 50 conflicts, server time',
      value: conflicting.serverMs,
      unit: 'ms',
      store: HOST_STORE,
      goal: atMost(300, 'under 300 ms'),
      note: `server wins (conflictDetection: true); results ${JSON.stringify(counts)}`,
    }),
  );
  if (counts.conflict !== CONFLICTS)
    throw new Error(`Workload 5: expected ${CONFLICTS} conflicts, got ${JSON.stringify(counts)}`);
}
