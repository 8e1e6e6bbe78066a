import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cosmosServer from '@vercel/cosmosdb-server';
import { buildDemoDirectory, SALES_ENTITIES } from '../local/demo/demo-directory';
import { generateDemoRecords } from '../local/demo/demo-records';
import { ensureDemoTenant } from '../local/demo/seed-demo-tenant';
import { loadSettings } from '../shared/config';
import { createAppRuntime } from '../shared/create-app-runtime';
import { handleReplicationMessage, recordChangedMessage } from '../shared/replication';
import { atLeast, figure } from './bench-figure';
import { ORG, type BenchContext } from './bench-context';
import { removeDataDir } from './host-process';

/** The key @vercel/cosmosdb-server accepts (the emulator's well-known key). */
const EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/**
 * Workload 6: rows per second from queued `recordChanged` messages into the store: messages are
 * queued on the embedded queue first (untimed), then the queue is drained through the one replication
 * handler both hosts use, one message at a time.
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
      note: `${sqlite.rows} recordChanged messages (demo-shaped rows) drained from the embedded queue in ${sqlite.ms.toFixed(0)} ms`,
    }),
  );

  context.log(
    `Workload 6: ingest of ${options.cosmosRows} rows into the in-process Cosmos-compatible server…`,
  );
  const server: Server = cosmosServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  try {
    const { port } = server.address() as AddressInfo;
    const cosmos = await measureIngest(
      {
        STORE_KIND: 'cosmos',
        COSMOS_ENDPOINT: `https://127.0.0.1:${port}`,
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
        note: `${cosmos.rows} messages; an in-process emulator, not Azure Cosmos DB: says nothing of RU limits or network latency`,
      }),
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function measureIngest(
  env: Record<string, string>,
  rows: number,
): Promise<{ rows: number; ms: number; rowsPerSecond: number }> {
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
    const messages = [];
    const business = new Set<string>(SALES_ENTITIES);
    for (const write of generateDemoRecords(buildDemoDirectory(7), { seed: 7, rows, now: new Date() })) {
      if (!business.has(write.entity)) continue;
      messages.push(
        recordChangedMessage({
          org: ORG,
          entity: write.entity,
          id: write.id,
          op: 'upsert',
          attributes: write.attributes,
          version: '1',
          origin: 'ingest',
        }),
      );
    }
    await queue.sendBatch(messages);
    const started = performance.now();
    const result = await queue.drain(
      (body, delivery) => handleReplicationMessage(runtime.services, body, delivery),
      { maxMessages: messages.length },
    );
    const ms = performance.now() - started;
    if (result.completed !== messages.length)
      throw new Error(`Workload 6: ${result.completed} of ${messages.length} messages completed.`);
    return { rows: messages.length, ms, rowsPerSecond: (messages.length / ms) * 1000 };
  } finally {
    await runtime.close();
    removeDataDir(dataDir);
  }
}
