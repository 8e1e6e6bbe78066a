import { parentPort, workerData } from 'node:worker_threads';
import { createSqliteStore } from '../../../shared/store/sqlite';
import { concurrentWrite, type ConcurrentWriterPlan } from './concurrent-writes';

/**
 * Runs in a worker thread: opens its own Store on the shared data folder (its own SQLite
 * connections, as a second process would), reports ready, applies its planned writes once told to
 * start, then reports how many were applied.
 */
async function main(): Promise<void> {
  const plan = workerData as ConcurrentWriterPlan;
  const store = createSqliteStore({ dataDir: plan.dataDir });
  try {
    const tenant = store.tenant(plan.org);
    // Open the connection, then wait for the signal: every writer starts at once and their write
    // transactions overlap, which is what the test is about.
    await tenant.headCursor();
    const start = new Promise((resolve) => parentPort!.once('message', resolve));
    parentPort!.postMessage({ ready: true });
    await start;
    let applied = 0;
    for (let batch = 0; batch < plan.batches; batch++) {
      const writes = Array.from({ length: plan.batchSize }, (_, i) => concurrentWrite(plan, batch, i));
      const results = await tenant.applyRecordWrites(writes);
      applied += results.filter((r) => r.outcome === 'applied').length;
    }
    parentPort!.postMessage({ applied });
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) });
});
