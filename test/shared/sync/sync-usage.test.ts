import {
  recordSyncInShard,
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
