import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemoDirectory, SALES_ENTITIES } from '../local/demo/demo-directory';
import { generateDemoRecords } from '../local/demo/demo-records';
import { ensureDemoTenant } from '../local/demo/seed-demo-tenant';
import { loadSettings } from '../shared/config';
import { createAppRuntime } from '../shared/create-app-runtime';
import { ingestChanges, MAX_INGEST_CHANGES, type IngestChange } from '../shared/ingest/ingest-changes';
import { handleReplicationMessage } from '../shared/replication';
import { atLeast, figure } from './bench-figure';
import { ORG, type BenchContext } from './bench-context';
import { EMULATOR_KEY, startCosmosServer } from './cosmos-server';
import { removeDataDir } from './host-process';

/** Worker concurrency: what the local host runs its embedded-queue worker with. */
const WORKER_CONCURRENCY = 2;

/**
 * Workload 6: rows per second from queued changes into the store, on the realistic path: changes are
 * queued the way `POST ingest/{org}/changes` queues them (`ingestChanges`, requests of 1,000 changes,
 * each becoming `recordChangedBatch` messages of at most 500 changes), untimed; then the embedded
 * queue's worker (concurrency 2, as the local host runs it) applies them through the one replication
 * handler both hosts use. Timed from the worker's start to the last message settled.
 */
export async function runIngest(
  context: BenchContext,
  options: { sqliteRows: number; cosmosRows: number },
): Promise<void> {
  context.log(`Workload 6: ingest of ${options.sqliteRows} rows into SQLite…`);
  const sqlite = await measureIngest({ STORE_KIND: 'sqlite' }, options.sqliteRows);
  context.figures.push(
    figure({
      workload: '6 replication ingest',
      name: 'rows per second, SQLite',
      value: sqlite.rowsPerSecond,
      unit: 'rows/s',
      store: 'SQLite (in process)',
      goal: atLeast(10_000, 'at least 10,000 rows/s'),
      note: `${sqlite.rows} demo-shaped rows queued as the ingest route queues them (${sqlite.messages} recordChangedBatch messages) and applied by the embedded-queue worker in ${sqlite.ms.toFixed(0)} ms`,
    }),
  );

  context.log(
    `Workload 6: ingest of ${options.cosmosRows} rows into the in-process Cosmos-compatible server…`,
  );
  const server = await startCosmosServer();
  try {
    const cosmos = await measureIngest(
      {
        STORE_KIND: 'cosmos',
        COSMOS_ENDPOINT: server.endpoint,
        COSMOS_KEY: EMULATOR_KEY,
        COSMOS_ALLOW_INSECURE_TLS: 'true',
      },
      options.cosmosRows,
    );
    context.figures.push(
      figure({
        workload: '6 replication ingest',
        name: 'rows per second, Cosmos adapter (EMULATOR figure)',
        value: cosmos.rowsPerSecond,
        unit: 'rows/s',
        store: 'Cosmos adapter vs @vercel/cosmosdb-server (emulator)',
        note: `${cosmos.rows} rows in ${cosmos.messages} recordChangedBatch messages, as the ingest route queues them; an in-process emulator, not Azure Cosmos DB: says nothing of RU limits or network latency`,
      }),
    );
  } finally {
    await server.close();
  }
}

async function measureIngest(
  env: Record<string, string>,
  rows: number,
): Promise<{ rows: number; messages: number; ms: number; rowsPerSecond: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'offline-sync-bench-ingest-'));
  const settings = loadSettings({
    QUEUE_KIND: 'embedded',
    DATA_DIR: dataDir,
    DEMO_ROWS: '1',
    AUTH_LOCAL_ENABLED: 'true',
    AUTH_ENTRA_ENABLED: 'false',
    ...env,
  });
  const runtime = await createAppRuntime(settings);
  try {
    await ensureDemoTenant(runtime.services, { log: () => undefined });
    const queue = runtime.embeddedQueue;
    if (queue === undefined) throw new Error('Workload 6 needs the embedded queue.');
    const changes: IngestChange[] = [];
    const business = new Set<string>(SALES_ENTITIES);
    for (const write of generateDemoRecords(buildDemoDirectory(7), { seed: 7, rows, now: new Date() })) {
      if (!business.has(write.entity)) continue;
      changes.push({
        entity: write.entity,
        id: write.id,
        op: 'upsert',
        attributes: write.attributes,
        version: '1',
      });
    }
    // Exactly what the route does after validating each request body.
    const tenantStore = runtime.services.store.tenant(ORG);
    for (let start = 0; start < changes.length; start += MAX_INGEST_CHANGES) {
      await ingestChanges(tenantStore, queue, ORG, changes.slice(start, start + MAX_INGEST_CHANGES));
    }
    const messages = queue.counts().pending;

    let settled = 0;
    let failure: Error | undefined;
    let done: () => void = () => undefined;
    const allSettled = new Promise<void>((resolve) => (done = resolve));
    const started = performance.now();
    queue.start(
      async (body, delivery) => {
        try {
          await handleReplicationMessage(runtime.services, body, delivery);
        } catch (error) {
          failure ??= error instanceof Error ? error : new Error('The handler threw a non-Error value.');
          throw error;
        } finally {
          settled += 1;
          if (settled >= messages || failure !== undefined) done();
        }
      },
      { concurrency: WORKER_CONCURRENCY, pollMs: 5 },
    );
    await allSettled;
    const ms = performance.now() - started;
    await queue.stop();
    if (failure !== undefined) throw failure;
    const counts = queue.counts();
    if (counts.completed !== messages)
      throw new Error(`Workload 6: ${counts.completed} of ${messages} messages completed.`);
    return { rows: changes.length, messages, ms, rowsPerSecond: (changes.length / ms) * 1000 };
  } finally {
    await runtime.close();
    removeDataDir(dataDir);
  }
}
