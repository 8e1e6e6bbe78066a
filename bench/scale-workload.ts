import { REFERENCE_ENTITIES } from '../local/demo/demo-directory';
import { atMost, figure } from './bench-figure';
import { HOST_STORE, ORG, type BenchContext } from './bench-context';
import { downloadUntilDone, type DownloadRun } from './device-download';
import { removeDataDir, startHostProcess } from './host-process';
import { BenchHttpClient } from './http-client';
import { median } from './statistics';
import { formatStoreReads, type StoreReads } from './store-reads';
import { countResults, putTenantSettings, uploadBatch } from './sync-upload';

/** Rows the measured user holds: 1,000 accounts the CEO `alice` creates (demo rows are never hers). */
const USER_ROWS = 1000;
const BATCH = 500;
const IDLE_SAMPLES = 30;
const CHANGE_ROUNDS = 5;
const CHANGES_PER_ROUND = 10;
/** Initial downloads by new devices after the first one (which warms the host): the figure is their median. */
const INITIAL_SAMPLES = 5;

interface TenantTimes {
  tenantRows: number;
  /** How long the host took to start: seeding the demo tenant, mostly. */
  startMs: number;
  userRows: number;
  /** Rows sent of the directory entities (systemuser, team, businessunit: an 'all' rule each). */
  directoryRows: number;
  /** The host's first initial download of the user (cold caches). */
  initialColdMs: number;
  /** Median server time of the initial downloads by new devices after it. */
  initialMs: number;
  /** What one initial download read from the store (the same for every device). */
  initialReads: StoreReads;
  /** The distinct row counts read by the initial downloads (one value when the reads are deterministic). */
  initialRowsRead: number[];
  idleMs: number;
  changedMs: number;
}

/**
 * Workload 4: a user holding 1,000 rows in a small and in a large tenant; the ratio of their initial
 * download times and the rows the store read per row sent (issue 13: a device's sync costs what its
 * user holds, never what the tenant holds), and the ratio of their incremental download times
 * (median server time, nothing changed and 10 changed rows).
 * Returns the large tenant's folder when `keepLarge` asks for it (workload 2 reuses it), else removes it.
 */
export async function runScale(
  context: BenchContext,
  options: { smallRows: number; largeRows: number; keepLarge: boolean },
): Promise<string | undefined> {
  const small = await measureTenant(context, options.smallRows, false);
  const large = await measureTenant(context, options.largeRows, options.keepLarge);
  const workload = '4 scale';
  const ratio = `${label(large.times.tenantRows)}/${label(small.times.tenantRows)}`;
  const initialNote = `user alice (sales-managers profile) holds ${small.times.userRows} rows in the ${small.times.tenantRows}-row tenant and ${large.times.userRows} in the ${large.times.tenantRows}-row one: the ${USER_ROWS} accounts she created and the directory entities; median server time of ${INITIAL_SAMPLES} initial downloads by new devices (compressed, pages of 5,000) after the host's first one: ${small.times.initialMs.toFixed(1)} vs ${large.times.initialMs.toFixed(1)} ms (first ones ${small.times.initialColdMs.toFixed(0)} and ${large.times.initialColdMs.toFixed(0)} ms); the hosts took ${(small.times.startMs / 1000).toFixed(0)} and ${(large.times.startMs / 1000).toFixed(0)} s to seed their tenants and start`;
  const readsNote = (times: TenantTimes): string =>
    `${formatStoreReads(times.initialReads)} read (x-store-reads, summed over the pages) for ${times.userRows} rows sent, of which ${times.directoryRows} are the directory entities (${REFERENCE_ENTITIES.join(', ')}: read whole by an 'all' rule, sent 1:1); without them ${((times.initialReads.rows - times.directoryRows) / (times.userRows - times.directoryRows)).toFixed(3)} rows read per row sent${times.initialRowsRead.length > 1 ? `; the downloads read ${times.initialRowsRead.join(', ')} rows` : ''}`;
  const readsGoal = atMost(1.5, 'at most 1.5 (directory read whole, sent 1:1)');
  context.figures.push(
    figure({
      workload,
      name: `initial download server time ratio ${ratio}`,
      value: large.times.initialMs / small.times.initialMs,
      unit: 'x',
      store: HOST_STORE,
      goal: atMost(1.5, 'at most 1.5'),
      note: initialNote,
    }),
    figure({
      workload,
      name: `initial download, rows read per row sent, ${label(small.times.tenantRows)} tenant`,
      value: small.times.initialReads.rows / small.times.userRows,
      unit: 'rows/row',
      store: HOST_STORE,
      goal: readsGoal,
      note: readsNote(small.times),
    }),
    figure({
      workload,
      name: `initial download, rows read per row sent, ${label(large.times.tenantRows)} tenant`,
      value: large.times.initialReads.rows / large.times.userRows,
      unit: 'rows/row',
      store: HOST_STORE,
      goal: readsGoal,
      note: readsNote(large.times),
    }),
  );
  const note = `user alice holds ${small.times.userRows} rows in a ${small.times.tenantRows}-row tenant and ${large.times.userRows} in a ${large.times.tenantRows}-row one; median server time of ${IDLE_SAMPLES} incremental downloads with nothing changed (${small.times.idleMs.toFixed(1)} vs ${large.times.idleMs.toFixed(1)} ms) and of ${CHANGE_ROUNDS} with ${CHANGES_PER_ROUND} changed rows (${small.times.changedMs.toFixed(1)} vs ${large.times.changedMs.toFixed(1)} ms)`;
  context.figures.push(
    figure({
      workload,
      name: `incremental ratio ${ratio}, nothing changed`,
      value: large.times.idleMs / small.times.idleMs,
      unit: 'x',
      store: HOST_STORE,
      goal: atMost(1.5, 'at most 1.5'),
      note,
    }),
    figure({
      workload,
      name: `incremental ratio ${ratio}, ${CHANGES_PER_ROUND} changes`,
      value: large.times.changedMs / small.times.changedMs,
      unit: 'x',
      store: HOST_STORE,
      goal: atMost(1.5, 'at most 1.5'),
    }),
  );
  return large.dataDir;
}

function label(rows: number): string {
  return rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
}

async function measureTenant(
  context: BenchContext,
  tenantRows: number,
  keep: boolean,
): Promise<{ times: TenantTimes; dataDir: string | undefined }> {
  context.log(`Workload 4: ${tenantRows}-row tenant…`);
  const host = await startHostProcess({ demoRows: tenantRows });
  const client = new BenchHttpClient(host.url);
  try {
    const adminToken = await host.token('alice', { admin: true });
    await putTenantSettings(client, {
      adminToken,
      org: ORG,
      settings: { softRowLimit: 2_000_000, hardRowLimit: 2_000_000 },
    });
    const token = await host.token('alice');
    const ids: string[] = [];
    for (let batch = 0; batch < USER_ROWS / BATCH; batch++) {
      const operations = Array.from({ length: BATCH }, (_, i) => {
        const n = batch * BATCH + i;
        const id = `bench-account-${String(n).padStart(5, '0')}`;
        ids.push(id);
        return {
          opId: `create-${id}`,
          entity: 'account',
          id,
          op: 'create' as const,
          row: { accountid: id, name: `Bench account ${n}`, description: 'a row the CEO owns' },
        };
      });
      const response = await uploadBatch(client, {
        token,
        org: ORG,
        deviceId: 'bench-w4-writer',
        operations,
      });
      const counts = countResults(response.body);
      if (counts.applied !== BATCH)
        throw new Error(`Workload 4: creating rows gave ${JSON.stringify(counts)}`);
    }
    const deviceId = 'bench-w4';
    const initial = await downloadUntilDone(client, {
      token,
      org: ORG,
      deviceId,
      acceptEncoding: 'br, gzip',
    });
    const initialRuns: DownloadRun[] = [];
    for (let n = 0; n < INITIAL_SAMPLES; n++) {
      const run = await downloadUntilDone(client, {
        token,
        org: ORG,
        deviceId: `bench-w4-initial-${n}`,
        acceptEncoding: 'br, gzip',
      });
      if (run.rows !== initial.rows)
        throw new Error(`Workload 4: a new device got ${run.rows} rows, the first one ${initial.rows}.`);
      initialRuns.push(run);
    }
    let checkpoint = initial.checkpoint;
    const idle: number[] = [];
    for (let i = 0; i < IDLE_SAMPLES; i++) {
      const run = await downloadUntilDone(client, {
        token,
        org: ORG,
        deviceId,
        checkpoint,
        acceptEncoding: 'br, gzip',
      });
      idle.push(run.serverMs);
      checkpoint = run.checkpoint;
    }
    const changed: number[] = [];
    for (let round = 0; round < CHANGE_ROUNDS; round++) {
      const operations = ids.slice(round * CHANGES_PER_ROUND, (round + 1) * CHANGES_PER_ROUND).map((id) => ({
        opId: `update-${round}-${id}`,
        entity: 'account',
        id,
        op: 'update' as const,
        row: { description: `changed in round ${round}` },
      }));
      await uploadBatch(client, { token, org: ORG, deviceId: 'bench-w4-writer', operations });
      const run = await downloadUntilDone(client, {
        token,
        org: ORG,
        deviceId,
        checkpoint,
        acceptEncoding: 'br, gzip',
      });
      if (run.rows !== CHANGES_PER_ROUND)
        throw new Error(`Workload 4: expected ${CHANGES_PER_ROUND} changed rows, got ${run.rows}`);
      changed.push(run.serverMs);
      checkpoint = run.checkpoint;
    }
    const directoryRows = REFERENCE_ENTITIES.reduce((sum, e) => sum + (initial.rowsByEntity[e] ?? 0), 0);
    return {
      times: {
        tenantRows,
        startMs: host.startMs,
        userRows: initial.rows,
        directoryRows,
        initialColdMs: initial.serverMs,
        initialMs: median(initialRuns.map((r) => r.serverMs)),
        initialReads: initialRuns[0]!.reads,
        initialRowsRead: [...new Set(initialRuns.map((r) => r.reads.rows))],
        idleMs: median(idle),
        changedMs: median(changed),
      },
      dataDir: keep ? host.dataDir : undefined,
    };
  } finally {
    client.close();
    await host.stop();
    if (!keep) removeDataDir(host.dataDir);
  }
}
