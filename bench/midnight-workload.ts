import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../shared/clock';
import type { RecordWrite } from '../shared/store/port';
import { createSqliteStore } from '../shared/store/sqlite';
import { atMost, figure } from './bench-figure';
import { ORG, type BenchContext } from './bench-context';
import { removeDataDir } from './host-process';
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

const STORE = 'SQLite (in process, manual clock)';
/** The org filter: `scheduledstart last-x-days 30` (planned visits), the window [midnight 30 days ago, end of today). */
const WINDOW_DAYS = 30;
/** Rows of the measured user u1 per day, on every day of the window and on the day after it. */
const USER_ROWS_PER_DAY = 50;
/** Noon, so that the sync after midnight is half a day later. */
const START = '2026-03-10T12:00:00.000Z';
/** How far past midnight the second sync runs. */
const PAST_MIDNIGHT_MS = 30_000;

/** One tenant's syncs around midnight and the rows that crossed the window's boundaries. */
interface MidnightResult {
  tenantRows: number;
  userRows: number;
  initial: InProcessSync;
  idle: InProcessSync;
  midnight: InProcessSync;
  /** u1's rows dated on the day leaving the window and on the day entering it. */
  userLeaving: number;
  userEntering: number;
  /** The same, over every user's rows: what the tenant holds on the two boundary days. */
  tenantBoundaryRows: number;
}

/**
 * Workload 10: the first sync after midnight under a `last-x-days` org filter (issue 13). In this
 * process, since the host runs on the system clock: a SQLite store in a temporary folder with a
 * manual clock, a tenant of user-owned visits (in-process-tenant.ts) whose rows are spread evenly
 * over the 31 days of the window and the day after it (dated in the future, as planned visits are),
 * u1 holding 50 a day and users u2…u10 the rest. u1's device downloads at noon, syncs once with
 * nothing changed, and syncs again 30 s past midnight: the day 30 days back leaves the window, the
 * day after the old today enters it. The figures are the rows that sync read per row dated on those
 * two days (the tenant's) and per row of u1's among them, for two tenant sizes with the same user.
 */
export async function runMidnight(context: BenchContext, options: { tenantSizes: number[] }): Promise<void> {
  const workload = '10 midnight, last-x-days';
  const results: MidnightResult[] = [];
  for (const tenantRows of options.tenantSizes) {
    context.log(`Workload 10: first sync after midnight, ${tenantRows}-row tenant…`);
    results.push(await measureMidnight(tenantRows));
  }
  for (const r of results) {
    const userCrossing = r.userLeaving + r.userEntering;
    context.figures.push(
      figure({
        workload,
        name: `rows read per row dated on the boundary days, ${label(r.tenantRows)} tenant`,
        value: r.midnight.reads.rows / r.tenantBoundaryRows,
        unit: 'rows/row',
        store: STORE,
        goal: atMost(1.5, 'at most 1.5'),
        note: `u1 holds ${r.userRows} of ${r.tenantRows} visits (scheduledstart last-x-days ${WINDOW_DAYS}, ${USER_ROWS_PER_DAY} of u1's a day); the tenant holds ${r.tenantBoundaryRows} rows dated on the day leaving the window and on the day entering it; 30 s past midnight u1's sync sent ${r.midnight.upserts} upserts and ${r.midnight.removals} removals in ${r.midnight.pages} page(s) and read ${formatStoreReads(r.midnight.reads)} in ${r.midnight.ms.toFixed(1)} ms (in process, no HTTP); the nothing-changed sync before it read ${formatStoreReads(r.idle.reads)} in ${r.idle.ms.toFixed(1)} ms; the initial download read ${formatStoreReads(r.initial.reads)} for ${r.initial.upserts} rows. Goal 1.5: each row on a boundary day read once to be judged (1.0), half again for what else the sync reads`,
      }),
      figure({
        workload,
        name: `rows read per row of the user crossing the window, ${label(r.tenantRows)} tenant`,
        value: r.midnight.reads.rows / userCrossing,
        unit: 'rows/row',
        store: STORE,
        goal: atMost(1.5, 'at most 1.5'),
        note: `${r.userLeaving} of u1's rows left the window and ${r.userEntering} entered it: the rows whose membership can change at midnight for this device; the same user in both tenants, so this ratio stays put only if the sync's cost follows the user, not the tenant`,
      }),
    );
  }
}

function label(rows: number): string {
  return rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
}

async function measureMidnight(tenantRows: number): Promise<MidnightResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'offline-sync-bench-midnight-'));
  const clock = new ManualClock(START);
  const store = createSqliteStore({ dataDir, clock });
  try {
    await store.createTenantDatabase(ORG);
    const tenant = store.tenant(ORG);
    await configureVisitTenant(tenant, clock, { days: WINDOW_DAYS });

    // Day offsets from today: -WINDOW_DAYS (leaves at midnight) … 0 (today) … +1 (enters at midnight).
    const today = Math.floor(clock.now().getTime() / DAY_MS) * DAY_MS;
    const offsets = Array.from({ length: WINDOW_DAYS + 2 }, (_, i) => i - WINDOW_DAYS);
    const leavingDay = -WINDOW_DAYS;
    const enteringDay = 1;
    const writes: RecordWrite[] = [];
    const boundary = { userLeaving: 0, userEntering: 0, tenant: 0 };
    const add = (owner: number, offset: number, n: number): void => {
      // Spread over the day, never on a midnight.
      const at = new Date(today + offset * DAY_MS + ((n * 37 + 1) % 1439) * 60_000 + 30_000);
      writes.push(visitWrite(`visit-${String(writes.length).padStart(7, '0')}`, owner, at, 1));
      if (offset === leavingDay || offset === enteringDay) {
        boundary.tenant += 1;
        if (owner === 1 && offset === leavingDay) boundary.userLeaving += 1;
        if (owner === 1 && offset === enteringDay) boundary.userEntering += 1;
      }
    };
    for (const offset of offsets) for (let n = 0; n < USER_ROWS_PER_DAY; n++) add(1, offset, n);
    const userRows = writes.length;
    const others = tenantRows - userRows;
    for (let n = 0; n < others; n++) add(2 + (n % (VISIT_USERS - 1)), offsets[n % offsets.length]!, n);
    await writeVisits(tenant, writes);

    const device = { id: 'bench-w10', checkpoint: undefined };
    const initial = await syncVisits(tenant, clock, device);
    const inWindow = userRows - boundary.userEntering;
    if (initial.upserts !== inWindow)
      throw new Error(`Workload 10: the initial download sent ${initial.upserts} rows, u1 has ${inWindow}.`);
    const idle = await syncVisits(tenant, clock, device);
    if (idle.upserts + idle.removals !== 0)
      throw new Error(`Workload 10: a nothing-changed sync sent ${idle.upserts + idle.removals} changes.`);

    clock.set(new Date(today + DAY_MS + PAST_MIDNIGHT_MS));
    const midnight = await syncVisits(tenant, clock, device);
    if (midnight.removals !== boundary.userLeaving || midnight.upserts !== boundary.userEntering)
      throw new Error(
        `Workload 10: after midnight the sync sent ${midnight.upserts} upserts and ${midnight.removals} removals; ${boundary.userEntering} rows entered the window and ${boundary.userLeaving} left it.`,
      );
    return {
      tenantRows: writes.length,
      userRows,
      initial,
      idle,
      midnight,
      userLeaving: boundary.userLeaving,
      userEntering: boundary.userEntering,
      tenantBoundaryRows: boundary.tenant,
    };
  } finally {
    await store.close();
    removeDataDir(dataDir);
  }
}
