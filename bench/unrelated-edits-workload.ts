import { buildDemoDirectory } from '../local/demo/demo-directory';
import type { IngestChange } from '../shared/ingest/ingest-changes';
import type { Directory } from '../shared/model/directory';
import type { EntityMetadata } from '../shared/model/entity';
import { createSqliteStore } from '../shared/store/sqlite';
import { atMost, figure } from './bench-figure';
import { HOST_STORE, ORG, type BenchContext } from './bench-context';
import { downloadUntilDone, type DownloadRun } from './device-download';
import { BENCH_SEED, type HostProcess } from './host-process';
import type { BenchHttpClient, BenchResponse } from './http-client';
import { median } from './statistics';
import { formatStoreReads, noStoreReads, type StoreReads } from './store-reads';

/** A device of workload 3: its user's token and the checkpoint of the last page it applied. */
export interface IncrementalDevice {
  id: string;
  token: string;
  checkpoint: string | undefined;
}

/** Rounds of one sync per device: the nothing-changed figures, and the directory edits. */
const ROUNDS = 3;
/** The seller whose language the directory edit changes: a west seller, so no measured device's user. */
const EDITED_USER = 'erin';
const OUTSIDE_ENTITY = 'invoice';
const OUTSIDE_ROWS = 10_000;
/** What `POST ingest/{org}/changes` takes at most per call. */
const INGEST_BATCH = 1000;
/** Longest wait for the host's replication worker to apply the ingested rows. */
const LANDING_TIMEOUT_MS = 5 * 60_000;
const LANDING_POLL_MS = 200;

/** One sync of each device, as the server measured it. */
interface SyncSample {
  serverMs: number;
  reads: StoreReads;
  changes: number;
}

/**
 * Workload 9, on workload 3's host and devices after its rounds (issue 13: a device's sync costs
 * what changed for it, never what the tenant holds). Every sync here runs one device at a time, so
 * its server time is its own, not a share of 50 at once.
 *
 * 1. A directory edit that concerns none of the devices: the directory replaced (`PUT
 *    admin/{org}/directory`) with one west seller's language changed; every device's next sync
 *    against their nothing-changed syncs just before.
 * 2. Changes to an entity outside every profile: `invoice` declared, offline-enabled and published
 *    through the admin routes; 10,000 invoice rows (owned by the devices' team) ingested through
 *    `POST ingest/{org}/changes` with an ingest key and applied by the host's replication worker;
 *    every device's next sync against their nothing-changed syncs after the publish.
 */
export async function runUnrelatedEdits(
  context: BenchContext,
  options: {
    host: HostProcess;
    client: BenchHttpClient;
    devices: readonly IncrementalDevice[];
    /** The users of the devices: the edited user must not be one of them. */
    deviceUsers: readonly string[];
    tenantRows: number;
  },
): Promise<void> {
  const { host, client, devices } = options;
  if (options.deviceUsers.includes(EDITED_USER))
    throw new Error(`Workload 9: ${EDITED_USER} must not be a measured device's user.`);
  const adminToken = await host.token('alice', { admin: true });
  const workload = '9 unrelated edits, 50 devices';

  context.log('Workload 9: a directory edit no device is concerned by…');
  const idle = await syncRounds(client, devices, ROUNDS);
  const directory = buildDemoDirectory(BENCH_SEED);
  const edited = directory.users.find((u) => u.userName === EDITED_USER);
  if (edited === undefined) throw new Error(`Workload 9: no demo user ${EDITED_USER}.`);
  const edits: SyncSample[] = [];
  const languages: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Another language each round (and back), so every replace is a change.
    const languageId = round % 2 === 0 ? (edited.languageId === 1033 ? 1031 : 1033) : edited.languageId;
    languages.push(languageId);
    await replaceDirectory(client, adminToken, withLanguage(directory, EDITED_USER, languageId));
    edits.push(...(await syncRounds(client, devices, 1)));
  }
  const idleMs = median(idle.map((s) => s.serverMs));
  const editMs = median(edits.map((s) => s.serverMs));
  context.figures.push(
    figure({
      workload,
      name: 'directory edit, next sync, median server time',
      value: editMs,
      unit: 'ms',
      store: HOST_STORE,
      note: `${devices.length} devices of ${options.deviceUsers.length} east sellers (field-sellers profile) on workload 3's ${options.tenantRows}-row tenant, one sync at a time; ${ROUNDS} rounds in which the demo directory is replaced with ${EDITED_USER} (a west seller, no device's user) changing languageId (${edited.languageId} → ${languages.join(' → ')}), each followed by every device's next sync: ${describe(edits)}; the ${ROUNDS} nothing-changed rounds before: ${describe(idle)}`,
    }),
    figure({
      workload,
      name: 'directory edit, next sync / nothing changed (median server time)',
      value: editMs / idleMs,
      unit: 'x',
      store: HOST_STORE,
      goal: atMost(3, 'at most 3x a nothing-changed sync'),
      note: `median ${editMs.toFixed(2)} ms vs ${idleMs.toFixed(2)} ms`,
    }),
    figure({
      workload,
      name: 'directory edit, next sync, rows read (most of any device)',
      value: Math.max(...edits.map((s) => s.reads.rows)),
      unit: 'rows',
      store: HOST_STORE,
      note: `a nothing-changed sync read at most ${Math.max(...idle.map((s) => s.reads.rows))} rows`,
    }),
  );

  context.log(`Workload 9: ${OUTSIDE_ROWS} changes to an entity outside every profile…`);
  await declareOutsideEntity(client, adminToken);
  const afterPublish = await syncRounds(client, devices, 1);
  const idleAfterPublish = await syncRounds(client, devices, ROUNDS);
  const landing = await ingestOutsideRows(client, host, adminToken);
  const outside = await syncRounds(client, devices, 1);
  const outsideMs = median(outside.map((s) => s.serverMs));
  const idleAfterPublishMs = median(idleAfterPublish.map((s) => s.serverMs));
  context.figures.push(
    figure({
      workload,
      name: 'customization publish, next sync, rows read (most of any device)',
      value: Math.max(...afterPublish.map((s) => s.reads.rows)),
      unit: 'rows',
      store: HOST_STORE,
      note: `'${OUTSIDE_ENTITY}' (user-owned, owner attributes, in no profile) declared, offline-enabled and published through the admin routes; every device's next sync: ${describe(afterPublish)}`,
    }),
    figure({
      workload,
      name: `${OUTSIDE_ROWS.toLocaleString('en-US')} changes outside the profile, next sync / nothing changed`,
      value: outsideMs / idleAfterPublishMs,
      unit: 'x',
      store: HOST_STORE,
      goal: atMost(3, 'at most 3x a nothing-changed sync'),
      note: `${OUTSIDE_ROWS} ${OUTSIDE_ENTITY} rows owned by team-east (the devices' team) ingested in ${OUTSIDE_ROWS / INGEST_BATCH} calls of ${INGEST_BATCH} with an ingest key, all applied by the host's replication worker ${landing.toFixed(0)} ms after the first call; every device's next sync: ${describe(outside)}; the ${ROUNDS} nothing-changed rounds after the publish: ${describe(idleAfterPublish)}`,
    }),
    figure({
      workload,
      name: `${OUTSIDE_ROWS.toLocaleString('en-US')} changes outside the profile, next sync, rows read (most of any device)`,
      value: Math.max(...outside.map((s) => s.reads.rows)),
      unit: 'rows',
      store: HOST_STORE,
      goal: atMost(100, 'at most 100 rows'),
    }),
  );
}

/** `rounds` rounds in which each device syncs once, one device at a time. */
async function syncRounds(
  client: BenchHttpClient,
  devices: readonly IncrementalDevice[],
  rounds: number,
): Promise<SyncSample[]> {
  const samples: SyncSample[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const device of devices) {
      const run: DownloadRun = await downloadUntilDone(client, {
        token: device.token,
        org: ORG,
        deviceId: device.id,
        checkpoint: device.checkpoint,
        acceptEncoding: 'br, gzip',
      });
      device.checkpoint = run.checkpoint;
      samples.push({ serverMs: run.serverMs, reads: run.reads, changes: run.rows + run.removals });
    }
  }
  return samples;
}

/** Median and largest server time, rows, change entries and documents read, and changes sent. */
function describe(samples: readonly SyncSample[]): string {
  const of = (pick: (s: SyncSample) => number): string => {
    const values = samples.map(pick);
    return `median ${round2(median(values))}, max ${round2(Math.max(...values))}`;
  };
  const total = samples.reduce(
    (sum, s) => ({
      rows: sum.rows + s.reads.rows,
      docs: sum.docs + s.reads.docs,
      changes: sum.changes + s.reads.changes,
      keys: sum.keys + s.reads.keys,
      ru: sum.ru + s.reads.ru,
    }),
    noStoreReads(),
  );
  return `${samples.length} syncs, server time ${of((s) => s.serverMs)} ms; rows read ${of((s) => s.reads.rows)}; change entries read ${of((s) => s.reads.changes)}; documents read ${of((s) => s.reads.docs)}; in all ${formatStoreReads(total)}; changes sent ${of((s) => s.changes)}`;
}

function round2(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

function withLanguage(directory: Directory, userName: string, languageId: number): Directory {
  return {
    ...directory,
    users: directory.users.map((u) => (u.userName === userName ? { ...u, languageId } : u)),
  };
}

/** Throws with the answer unless it is a 2xx. */
function expectSuccess<T>(response: BenchResponse<T>, what: string): BenchResponse<T> {
  if (response.status < 200 || response.status > 299)
    throw new Error(`${what}: HTTP ${response.status}: ${JSON.stringify(response.body)}`);
  return response;
}

async function replaceDirectory(client: BenchHttpClient, token: string, directory: Directory): Promise<void> {
  expectSuccess(
    await client.send('PUT', `/api/admin/${ORG}/directory`, { token, body: directory }),
    'PUT directory',
  );
}

/** Declares `invoice` (user-owned, with the owner attributes), enables it offline, publishes. */
async function declareOutsideEntity(client: BenchHttpClient, token: string): Promise<void> {
  const metadata: Omit<EntityMetadata, 'logicalName'> = {
    displayName: 'Invoice',
    primaryIdAttribute: 'invoiceid',
    primaryNameAttribute: 'name',
    ownership: 'user',
    attributes: [
      { name: 'invoiceid', type: 'uniqueidentifier', required: true, secured: false },
      { name: 'name', type: 'string', maxLength: 200, required: true, secured: false },
      { name: 'ownerid', type: 'owner', targets: ['systemuser', 'team'], required: true, secured: false },
      { name: 'owneridtype', type: 'string', maxLength: 20, required: true, secured: false },
      {
        name: 'owningbusinessunit',
        type: 'lookup',
        targets: ['businessunit'],
        required: true,
        secured: false,
      },
      { name: 'totalamount', type: 'money', required: false, secured: false },
      { name: 'modifiedon', type: 'datetime', required: false, secured: false },
    ],
    relationships: [],
  };
  const base = `/api/admin/${ORG}/entities/${OUTSIDE_ENTITY}`;
  expectSuccess(await client.send('PUT', base, { token, body: metadata }), `PUT ${OUTSIDE_ENTITY}`);
  expectSuccess(
    await client.send('PUT', `${base}/offline`, {
      token,
      body: { enabled: true, orgFilter: [], required: false },
    }),
    `PUT ${OUTSIDE_ENTITY}/offline`,
  );
  expectSuccess(
    await client.send('POST', `/api/admin/${ORG}/customizations/publish`, { token }),
    'POST customizations/publish',
  );
}

/**
 * Ingests the outside rows with an ingest key and waits until the host's worker applied them all
 * (counted in the host's data folder through the SQLite store, which several processes may open).
 * Returns the milliseconds from the first call until they had landed.
 */
async function ingestOutsideRows(client: BenchHttpClient, host: HostProcess, token: string): Promise<number> {
  const key = expectSuccess(
    await client.send<{ key: string }>('POST', `/api/admin/${ORG}/ingest-key`, { token }),
    'POST ingest-key',
  ).body.key;
  const modifiedon = new Date().toISOString();
  const started = performance.now();
  for (let start = 0; start < OUTSIDE_ROWS; start += INGEST_BATCH) {
    const changes: IngestChange[] = Array.from({ length: INGEST_BATCH }, (_, i) => {
      const id = `bench-invoice-${String(start + i).padStart(5, '0')}`;
      return {
        entity: OUTSIDE_ENTITY,
        id,
        op: 'upsert',
        version: '1',
        attributes: {
          invoiceid: id,
          name: `Invoice ${start + i}`,
          ownerid: 'team-east',
          owneridtype: 'team',
          owningbusinessunit: 'bu-east',
          totalamount: 100 + ((start + i) % 900),
          modifiedon,
        },
      };
    });
    expectSuccess(
      await client.send('POST', `/api/ingest/${ORG}/changes`, {
        headers: { 'x-ingest-key': key },
        body: changes,
      }),
      'POST ingest changes',
    );
  }
  const store = createSqliteStore({ dataDir: host.dataDir });
  try {
    const tenant = store.tenant(ORG);
    for (;;) {
      const landed = await tenant.countRecords(OUTSIDE_ENTITY);
      if (landed >= OUTSIDE_ROWS) return performance.now() - started;
      if (performance.now() - started > LANDING_TIMEOUT_MS)
        throw new Error(
          `Workload 9: ${landed} of ${OUTSIDE_ROWS} ingested rows landed in ${LANDING_TIMEOUT_MS} ms.`,
        );
      await new Promise((resolve) => setTimeout(resolve, LANDING_POLL_MS));
    }
  } finally {
    await store.close();
  }
}
