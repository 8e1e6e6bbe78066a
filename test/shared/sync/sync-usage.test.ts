import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../shared/clock';
import { AppError } from '../../../shared/errors';
import type { DocStore, Store } from '../../../shared/store/port';
import { createSqliteStore } from '../../../shared/store/sqlite';
import {
  flushAllUsage,
  noteCompletedSync,
  readTenantUsage,
  recordSyncInShard,
  USAGE_FLUSH_MS,
  summarizeUsage,
  USAGE_DAYS_KEPT,
  usageShardOf,
  USAGE_SHARDS,
  utcDay,
  type CompletedSync,
  type UsageShard,
} from '../../../shared/sync/sync-usage';

/** The day buckets of sync usage: what a completed sync adds, what ages out, what the route adds up. */

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-10T23:30:00Z');
const at = (offsetMs: number): number => T0 + offsetMs;
const sync = (device: string, offsetMs: number, rows: number): CompletedSync => ({
  device,
  at: at(offsetMs),
  rows,
});
const replay = (syncs: CompletedSync[]): UsageShard | undefined =>
  syncs.reduce<UsageShard | undefined>((shard, s) => recordSyncInShard(shard, s), undefined);

describe('recordSyncInShard', () => {
  it.each<[string, CompletedSync[], UsageShard]>([
    [
      'a first sync: its device and day',
      [sync('d1', 0, 10)],
      { devices: { d1: { at: at(0), rows: 10 } }, days: { '2026-03-10': { syncs: 1 } } },
    ],
    [
      'two syncs of one device in a day: counted twice, the later rows kept',
      [sync('d1', 0, 10), sync('d1', 20 * 60_000, 12)],
      { devices: { d1: { at: at(20 * 60_000), rows: 12 } }, days: { '2026-03-10': { syncs: 2 } } },
    ],
    [
      'a sync just past midnight UTC starts the next day',
      [sync('d1', 0, 10), sync('d2', 31 * 60_000, 5)],
      {
        devices: { d1: { at: at(0), rows: 10 }, d2: { at: at(31 * 60_000), rows: 5 } },
        days: { '2026-03-10': { syncs: 1 }, '2026-03-11': { syncs: 1 } },
      },
    ],
    [
      'a sync recorded after a later one of the same device counts, but keeps the later figures',
      [sync('d1', 1000, 20), sync('d1', 0, 10)],
      { devices: { d1: { at: at(1000), rows: 20 } }, days: { '2026-03-10': { syncs: 2 } } },
    ],
    [
      `devices and days older than ${USAGE_DAYS_KEPT} days drop out at the next write`,
      [sync('old', 0, 7), sync('d1', USAGE_DAYS_KEPT * DAY, 3)],
      {
        devices: { d1: { at: at(USAGE_DAYS_KEPT * DAY), rows: 3 } },
        days: { [utcDay(at(USAGE_DAYS_KEPT * DAY))]: { syncs: 1 } },
      },
    ],
    [
      `a device and day just within ${USAGE_DAYS_KEPT} days stay`,
      [sync('old', 0, 7), sync('d1', (USAGE_DAYS_KEPT - 1) * DAY, 3)],
      {
        devices: { old: { at: at(0), rows: 7 }, d1: { at: at((USAGE_DAYS_KEPT - 1) * DAY), rows: 3 } },
        days: { '2026-03-10': { syncs: 1 }, [utcDay(at((USAGE_DAYS_KEPT - 1) * DAY))]: { syncs: 1 } },
      },
    ],
  ])('%s', (_name, syncs, expected) => {
    expect(replay(syncs)).toEqual(expected);
  });

  it('does not change the shard it is given', () => {
    const shard = replay([sync('d1', 0, 10)])!;
    const copy = structuredClone(shard);
    recordSyncInShard(shard, sync('d1', 1000, 11));
    expect(shard).toEqual(copy);
  });
});

describe('summarizeUsage', () => {
  const shards: UsageShard[] = [
    replay([sync('a', -2 * 60_000, 100), sync('b', -3 * DAY, 40), sync('a', -60_000, 120)])!,
    replay([sync('c', -40 * DAY, 500), sync('d', -DAY - 1, 1)])!,
    replay([sync('e', -(USAGE_DAYS_KEPT * DAY), 999)])!,
  ];

  it.each<[string, number, Partial<ReturnType<typeof summarizeUsage>>]>([
    [
      'active devices by window, rows over the last 90 days',
      3,
      {
        activeDevices: { lastDay: 1, last30Days: 3, last90Days: 4 },
        rowsHeld: { total: 120 + 40 + 500 + 1, maxPerDevice: 500 },
      },
    ],
    [
      'syncs per day, oldest first, ending today, empty days as 0',
      5,
      {
        syncsPerDay: [
          { day: '2026-03-06', syncs: 0 },
          { day: '2026-03-07', syncs: 1 },
          { day: '2026-03-08', syncs: 0 },
          { day: '2026-03-09', syncs: 1 },
          { day: '2026-03-10', syncs: 2 },
        ],
      },
    ],
    ['one day lists today only', 1, { syncsPerDay: [{ day: '2026-03-10', syncs: 2 }] }],
  ])('%s', (_name, days, expected) => {
    expect(summarizeUsage(shards, T0, days)).toMatchObject(expected);
  });

  it('is all zeros for a tenant without syncs', () => {
    expect(summarizeUsage([], T0, 2)).toEqual({
      activeDevices: { lastDay: 0, last30Days: 0, last90Days: 0 },
      rowsHeld: { total: 0, maxPerDevice: 0 },
      syncsPerDay: [
        { day: '2026-03-09', syncs: 0 },
        { day: '2026-03-10', syncs: 0 },
      ],
    });
  });
});

describe('usageShardOf', () => {
  it('spreads device keys over every shard', () => {
    const keys = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(6, '0') + 'ab'.repeat(17));
    expect(new Set(keys.map(usageShardOf)).size).toBe(USAGE_SHARDS);
    expect(keys.every((k) => usageShardOf(k) >= 0 && usageShardOf(k) < USAGE_SHARDS)).toBe(true);
  });
});

describe('noteCompletedSync: syncs wait in the process and are written about once a minute', () => {
  const ORG = 'usage-org';
  let dataDir: string;
  let store: Store;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'offline-sync-usage-'));
    store = createSqliteStore({ dataDir, clock: new ManualClock('2026-03-10T12:00:00.000Z') });
    await store.createTenantDatabase(ORG);
  });
  afterEach(async () => {
    await flushAllUsage(T0);
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The tenant handle with its shard reads and writes counted, and writes failing while `failing`. */
  function countedTenant(): { docs: DocStore; writes: () => number; fail: (on: boolean) => void } {
    const tenant = store.tenant(ORG);
    let writes = 0;
    let failing = false;
    const docs = new Proxy(tenant, {
      get(target, name, receiver) {
        if (name === 'putDoc') {
          return (...args: Parameters<DocStore['putDoc']>) => {
            if (failing) return Promise.reject(new AppError('Unavailable', 'store down'));
            writes += 1;
            return target.putDoc(...args);
          };
        }
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
    return { docs, writes: () => writes, fail: (on) => (failing = on) };
  }

  const key = (n: number): string => n.toString(16).padStart(6, '0') + 'cd'.repeat(29);
  const days = async (): Promise<number> =>
    (await readTenantUsage(store.tenant(ORG), new ManualClock(new Date(T0)), 1)).syncsPerDay[0]!.syncs;

  it('writes nothing for syncs within a minute of the oldest waiting, then all at once, folded', async () => {
    const tenant = store.tenant(ORG);
    const { docs, writes } = countedTenant();
    for (let i = 0; i < 40; i++) await noteCompletedSync(tenant, docs, sync(key(i % 4), i * 1000, i));
    expect(writes()).toBe(0);
    await noteCompletedSync(tenant, docs, sync(key(0), USAGE_FLUSH_MS, 99));
    // Four devices over at most four shards, one write each; the day's 41 syncs counted once.
    expect(writes()).toBeGreaterThan(0);
    expect(writes()).toBeLessThanOrEqual(4);
    const usage = await readTenantUsage(tenant, new ManualClock(new Date(at(USAGE_FLUSH_MS))), 1);
    expect(usage.activeDevices.lastDay).toBe(4);
    expect(usage.syncsPerDay[0]!.syncs).toBe(41);
    expect(usage.rowsHeld.maxPerDevice).toBe(99);
  });

  it('keeps what a failed write did not store for the next flush, counting nothing twice', async () => {
    const tenant = store.tenant(ORG);
    const { docs, fail } = countedTenant();
    fail(true);
    await noteCompletedSync(tenant, docs, sync(key(1), 0, 5));
    await noteCompletedSync(tenant, docs, sync(key(2), USAGE_FLUSH_MS, 6)); // flush fails, sync does not
    fail(false);
    await noteCompletedSync(tenant, docs, sync(key(1), USAGE_FLUSH_MS + 1000, 7));
    expect(await days()).toBe(3);
    const usage = await readTenantUsage(tenant, new ManualClock(new Date(at(USAGE_FLUSH_MS + 1000))), 1);
    expect(usage.rowsHeld).toEqual({ total: 13, maxPerDevice: 7 });
  });

  it('is written by the usage route before it reads, and by the close', async () => {
    const tenant = store.tenant(ORG);
    await noteCompletedSync(tenant, tenant, sync(key(3), 0, 1));
    expect(await days()).toBe(1);
    await noteCompletedSync(tenant, tenant, sync(key(3), 1000, 1));
    await flushAllUsage(at(1000));
    const shards = await Promise.all(
      Array.from({ length: USAGE_SHARDS }, (_, n) => tenant.getDoc<UsageShard>('syncUsage', `shard-${n}`)),
    );
    expect(shards.reduce((sum, doc) => sum + (doc?.value.days['2026-03-10']?.syncs ?? 0), 0)).toBe(2);
  });
});
