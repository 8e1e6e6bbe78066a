import { randomBytes } from 'node:crypto';
import { systemClock } from '../shared/clock';
import type { RecordWrite } from '../shared/store/port';
import { createCosmosStore } from '../shared/store/cosmos';
import { atMost, figure } from './bench-figure';
import { ORG, type BenchContext } from './bench-context';
import { EMULATOR_KEY, startCosmosServer } from './cosmos-server';
import {
  configureVisitTenant,
  DAY_MS,
  syncVisits,
  VISIT_USERS,
  visitWrite,
  writeVisits,
  type InProcessSync,
} from './in-process-tenant';
import { formatStoreReads } from './store-reads';

const STORE = 'Cosmos adapter vs @vercel/cosmosdb-server (emulator)';
/** Wide enough that every generated row is in the window: this workload is about look-ups and changes. */
const WINDOW_DAYS = 365;
/** Changed rows of u1 in the incremental round, and as many of other users' (which concern u1 not at all). */
const CHANGES = 100;

/**
 * Workload 11: what the Cosmos adapter reads for a device's sync, counted by its read meter (items
 * read, change markers, documents, and the request charge the server reports), in this process
 * against the in-process Cosmos-compatible server the tests use. The tenant of workload 10 (visits,
 * in-process-tenant.ts) with `userRows` of u1's among `tenantRows`: u1's first download, then an
 * incremental sync after 100 of u1's rows and 100 of other users' rows changed.
 */
export async function runCosmosReads(
  context: BenchContext,
  options: { tenantRows: number; userRows: number },
): Promise<void> {
  context.log(`Workload 11: Cosmos adapter reads, ${options.tenantRows}-row tenant…`);
  const server = await startCosmosServer();
  const clock = systemClock;
  const run = randomBytes(4).toString('hex');
  const store = createCosmosStore({
    endpoint: server.endpoint,
    key: EMULATOR_KEY,
    allowInsecureTls: true,
    controlDatabase: `bench-control-${run}`,
    databasePrefix: `bench-${run}-`,
    clock,
  });
  try {
    await store.createTenantDatabase(ORG);
    const tenant = store.tenant(ORG);
    await configureVisitTenant(tenant, clock, { days: WINDOW_DAYS });
    const now = clock.now().getTime();
    const dated = (n: number): Date => new Date(now - ((n * 7) % 300) * DAY_MS - (n % 1440) * 60_000);
    const writes: RecordWrite[] = [];
    for (let n = 0; n < options.tenantRows; n++) {
      const owner = n < options.userRows ? 1 : 2 + (n % (VISIT_USERS - 1));
      writes.push(visitWrite(`visit-${String(n).padStart(6, '0')}`, owner, dated(n), 1));
    }
    const started = performance.now();
    await writeVisits(tenant, writes);
    const writeMs = performance.now() - started;

    const device = { id: 'bench-w11', checkpoint: undefined };
    const initial = await syncVisits(tenant, clock, device);
    if (initial.upserts !== options.userRows)
      throw new Error(
        `Workload 11: the initial download sent ${initial.upserts} of ${options.userRows} rows.`,
      );
    const idle = await syncVisits(tenant, clock, device);

    // 100 of u1's rows and 100 of the others' change (a new version each).
    const changed = [
      ...writes.slice(0, CHANGES),
      ...writes.slice(options.userRows, options.userRows + CHANGES),
    ].map((w, n) => visitWrite(w.id, Number(String(w.attributes.ownerid).slice(1)), dated(n), 2));
    await writeVisits(tenant, changed);
    const incremental = await syncVisits(tenant, clock, device);
    if (incremental.upserts !== CHANGES)
      throw new Error(`Workload 11: the incremental sync sent ${incremental.upserts} of ${CHANGES} changes.`);

    const workload = '11 Cosmos adapter reads';
    const ru = (sync: InProcessSync): string =>
      sync.reads.ru > 0 ? `; ${(sync.reads.ru / Math.max(1, sync.upserts)).toFixed(2)} RU per row sent` : '';
    context.figures.push(
      figure({
        workload,
        name: 'initial download, items read per row sent',
        value: initial.reads.rows / initial.upserts,
        unit: 'items/row',
        store: STORE,
        goal: atMost(1.5, 'at most 1.5 (as SQLite)'),
        note: `user u1 holds ${options.userRows} of ${options.tenantRows} visits (user-owned, profile "mine", scheduledstart last-x-days ${WINDOW_DAYS}), written in ${writeMs.toFixed(0)} ms; in process through downloadChanges with a read meter per request: the initial download read ${formatStoreReads(initial.reads)} in ${initial.pages} page(s), ${initial.ms.toFixed(0)} ms${ru(initial)}; the nothing-changed sync after it read ${formatStoreReads(idle.reads)}. The server is an emulator: its RU (0 when it reports none) and times say nothing of Azure Cosmos DB`,
      }),
      figure({
        workload,
        name: 'incremental, items read per relevant change',
        value: incremental.reads.rows / CHANGES,
        unit: 'items/row',
        store: STORE,
        goal: atMost(1.5, 'at most 1.5 (as SQLite)'),
        note: `${CHANGES} of u1's rows and ${CHANGES} of other users' rows changed; the sync sent ${incremental.upserts} upserts in ${incremental.pages} page(s) and read ${formatStoreReads(incremental.reads)} in ${incremental.ms.toFixed(0)} ms${ru(incremental)}`,
      }),
    );
  } finally {
    // The server goes with its databases; a failed drop must not hide the workload's own error.
    await store.dropTenantDatabase(ORG).catch(() => undefined);
    await store.close();
    await server.close();
  }
}
