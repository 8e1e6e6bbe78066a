import { replaceDirectory } from '../../../shared/admin/directory-store';
import {
  loadEntities,
  publishCustomizations,
  setEntityOfflineSettings,
} from '../../../shared/admin/entity-config';
import { listPublishedProfiles, publishProfile, updateProfile } from '../../../shared/admin/profile-service';
import { lookupSpecsFor } from '../../../shared/sync/lookup-specs';
import type { ReadMeter, RecordWrite } from '../../../shared/store/port';
import { newReadMeter } from '../../../shared/store/port';
import { compactionDue, type HeldState } from '../../../shared/sync/device-state';
import { downloadChanges } from '../../../shared/sync/download';
import { newDownloadCounters } from '../../../shared/sync/sync-work';
import {
  APP,
  baseDirectory,
  configureDownloadTenant,
  DeviceReplica,
  openTestStore,
  principalOf,
  profileOneItems,
  type TestStore,
} from './download/download-test-tenant';

/**
 * What a download reads follows what its user holds and what changed for them (SPEC §12), counted
 * by the store adapters: nothing for changes outside the profile or another user's directory edit,
 * the rows of the boundary days when the day changes, the rows of the team a user joins.
 */

let t: TestStore;
let version = 0;
const row = (entity: string, id: string, attributes: Record<string, unknown>): RecordWrite => ({
  entity,
  id,
  version: String(++version),
  deleted: false,
  attributes,
});

/** The reads of one download step of `device`. */
async function measuredStep(device: DeviceReplica): Promise<{ meter: ReadMeter; changes: number }> {
  const meter = newReadMeter();
  const response = await downloadChanges(
    { store: t.tenant, principal: principalOf(device.user), clock: t.clock, meter, counters: t.counters },
    {
      app: APP,
      deviceId: device.deviceId,
      pageSize: 1000,
      ...(device.checkpoint ? { checkpoint: device.checkpoint } : {}),
    },
  );
  device.apply(response, false);
  return { meter, changes: response.changes.length };
}

/** The reads of a device's steps until one sends nothing (at most 10), and the changes they sent. */
async function measuredSteps(device: DeviceReplica): Promise<{ rowsRead: number; changes: number }> {
  let rowsRead = 0;
  let changes = 0;
  for (let page = 0; page < 10; page++) {
    const step = await measuredStep(device);
    rowsRead += step.meter.rows;
    changes += step.changes;
    if (step.changes === 0) break;
  }
  return { rowsRead, changes };
}

beforeEach(async () => {
  t = await openTestStore('sqlite');
  await configureDownloadTenant(t);
  const writes: RecordWrite[] = [];
  // 300 accounts of other owners, 20 of u1's, 40 of team t1's; tasks over the last five days.
  for (let n = 0; n < 300; n++)
    writes.push(row('account', `x${n}`, { name: `x${n}`, ownerid: 'u3', owningbusinessunit: 'west' }));
  for (let n = 0; n < 20; n++)
    writes.push(row('account', `m${n}`, { name: `m${n}`, ownerid: 'u1', owningbusinessunit: 'east' }));
  for (let n = 0; n < 40; n++)
    writes.push(row('account', `t${n}`, { name: `t${n}`, ownerid: 't2', owningbusinessunit: 'west' }));
  for (let n = 0; n < 50; n++) {
    const day = 10 - (n % 5);
    writes.push(
      row('task', `k${n}`, {
        name: `k${n}`,
        ownerid: 'u1',
        owningbusinessunit: 'east',
        modifiedon: `2026-03-${String(day).padStart(2, '0')}T06:00:00Z`,
      }),
    );
  }
  await t.tenant.applyRecordWrites(writes);
});
afterEach(async () => {
  await t.close();
});

describe('what a download reads', () => {
  it('reads about the rows it sends on a first download, not the tenant', async () => {
    const d = new DeviceReplica('d1', 1);
    let rowsRead = 0;
    let rowsSent = 0;
    for (let page = 0; page < 20; page++) {
      const { meter, changes } = await measuredStep(d);
      rowsRead += meter.rows;
      rowsSent += changes;
      if (changes === 0) break;
    }
    // u1 holds its 20 accounts and the tasks of the 3-day window (03-07 to today): 40 of 50; 360 accounts exist.
    expect(d.rows.size).toBe(20 + 40);
    expect(rowsSent).toBe(60);
    expect(rowsRead).toBeLessThanOrEqual(rowsSent * 1.5);
  });

  it('reads a reached row once on a first download when it is a member on its own too', async () => {
    // Every currency is a member on its own ('all'), and u1's accounts reach 15 of them by id.
    const currencies: RecordWrite[] = [];
    for (let n = 0; n < 30; n++) currencies.push(row('currency', `cur${n}`, { name: `cur${n}` }));
    const accounts: RecordWrite[] = [];
    for (let n = 0; n < 20; n++)
      accounts.push(
        row('account', `m${n}`, {
          name: `m${n}`,
          ownerid: 'u1',
          owningbusinessunit: 'east',
          currencyid: `cur${n % 15}`,
        }),
      );
    await t.tenant.applyRecordWrites([...currencies, ...accounts]);
    const items = profileOneItems({ withTasks: false, withLeads: false }).map((item) =>
      item.entity === 'currency' ? { ...item, rule: 'all' as const } : item,
    );
    await updateProfile(t.tenant, t.clock, 'p1', { name: 'P1', description: '', items, users: ['u1'] });
    await publishProfile(t.tenant, t.clock, 'p1');

    const d = new DeviceReplica('d1', 1);
    const { rowsRead, changes } = await measuredSteps(d);
    const held = [...d.rows.keys()];
    expect(held.filter((key) => key.startsWith('currency')).length).toBe(30);
    expect(held.filter((key) => key.startsWith('account')).length).toBe(20);
    expect(changes).toBe(50);
    // The 15 reached currencies were found as members already: not read again through the accounts.
    expect(rowsRead).toBe(50);
  });

  it("looks up the ids of an association's targets and reads only those it does not hold yet", async () => {
    // u1's 20 accounts each have 3 contacts: 40 of them u1's own (members on their own), 20 its
    // team's (readable by u1, members only through their account).
    const contacts: RecordWrite[] = [];
    for (let n = 0; n < 60; n++)
      contacts.push(
        row('contact', `c${n}`, {
          name: `c${n}`,
          ownerid: n % 3 === 0 ? 't1' : 'u1',
          owningbusinessunit: 'east',
          parentaccountid: `m${n % 20}`,
        }),
      );
    await t.tenant.applyRecordWrites(contacts);
    const items = profileOneItems({ withTasks: false, withLeads: false }).map((item) =>
      item.entity === 'contact' ? { ...item, rule: 'other' as const, mine: true } : item,
    );
    await updateProfile(t.tenant, t.clock, 'p1', { name: 'P1', description: '', items, users: ['u1'] });
    await publishProfile(t.tenant, t.clock, 'p1');

    const d = new DeviceReplica('d1', 1);
    let rowsRead = 0;
    let keys = 0;
    for (let page = 0; page < 10; page++) {
      const step = await measuredStep(d);
      rowsRead += step.meter.rows;
      keys += step.meter.keys;
      if (step.changes === 0) break;
    }
    const held = [...d.rows.keys()];
    expect(held.filter((k) => k.startsWith('contact')).length).toBe(60);
    expect(held.filter((k) => k.startsWith('account')).length).toBe(20);
    // The 60 linked contacts' ids come from the index; of their rows only the team's 20 are read again.
    expect(keys).toBeGreaterThanOrEqual(60);
    expect(rowsRead).toBe(20 + 40 + 20);
  });

  it('reads nothing of 2,000 changes to an entity outside its profile', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    await t.tenant.applyRecordWrites(
      Array.from({ length: 2000 }, (_, n) =>
        row('invoice', `i${n}`, { name: `i${n}`, ownerid: 'u1', owningbusinessunit: 'east' }),
      ),
    );
    const { meter, changes } = await measuredStep(d);
    expect(changes).toBe(0);
    expect(meter).toMatchObject({ rows: 0, changes: 0 });
  });

  it("reads nothing after another user's directory edit, and writes nothing either", async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    const directory = baseDirectory();
    directory.users.find((u) => u.id === 'u3')!.languageId = 1036;
    directory.teams.find((team) => team.id === 't2')!.memberIds = ['u3', 'u4'];
    await replaceDirectory(t.tenant, directory, t.clock);
    const etag = async () => (await t.tenant.listDocEtags('syncDevice')).map((doc) => doc.etag);
    const before = await etag();
    const { meter, changes } = await measuredStep(d);
    expect(changes).toBe(0);
    expect(meter).toMatchObject({ rows: 0, changes: 0 });
    expect(await etag()).toEqual(before);
  });

  it("reads the rows of the team the user joins, and no other user's device reads anything", async () => {
    const d1 = new DeviceReplica('d1', 1);
    const d2 = new DeviceReplica('d2', 2);
    await d1.syncToEnd(t);
    await d2.syncToEnd(t);
    const directory = baseDirectory();
    directory.teams.find((team) => team.id === 't2')!.memberIds = ['u3', 'u1'];
    await replaceDirectory(t.tenant, directory, t.clock);
    const counters = { ...t.counters };
    const joined = await measuredStep(d1);
    // The 40 rows of team t2 come; what was read is what the team owns (and u1 may read: user level).
    expect(joined.changes).toBe(40);
    expect(joined.meter.rows).toBeLessThanOrEqual(40 + 5);
    expect(t.counters.recomputedEntities).toBe(counters.recomputedEntities);
    const other = await measuredStep(d2);
    expect(other).toMatchObject({ changes: 0, meter: { rows: 0, changes: 0 } });
  });

  it('reads the rows of the two boundary days when the day changes under last-x-days', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    // 2026-03-10 12:00 → 2026-03-11 00:30: the window [03-07, 03-11) becomes [03-08, 03-12).
    t.clock.advance(12.5 * 3_600_000);
    const counters = { ...t.counters };
    const { meter, changes } = await measuredStep(d);
    // The tasks dated 03-07 (10 of them) leave; nothing is dated 03-11.
    expect(changes).toBe(10);
    expect(meter.rows).toBe(10);
    expect(t.counters.recomputedEntities).toBe(counters.recomputedEntities);
    expect(t.counters.rejudgedRows - counters.rejudgedRows).toBe(10);
  });

  it("reads only the user's leaving rows when the boundary days hold more of other users'", async () => {
    // 600 tasks of u3 dated on the day that leaves the window: more than u1 holds and its cover finds.
    await t.tenant.applyRecordWrites(
      Array.from({ length: 600 }, (_, n) =>
        row('task', `o${n}`, {
          name: `o${n}`,
          ownerid: 'u3',
          owningbusinessunit: 'west',
          modifiedon: '2026-03-07T08:00:00Z',
        }),
      ),
    );
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    t.clock.advance(12.5 * 3_600_000);
    const { rowsRead, changes } = await measuredSteps(d);
    expect(changes).toBe(10);
    // Only u1's 10 held tasks dated on the leaving day (found by the date keys its held values keep),
    // not the 610 dated on it nor u1's other held tasks; nothing is dated on the entering day.
    expect(rowsRead).toBe(10);
    expect(d.rows.size).toBe(20 + 30);
  });

  it("finds the entering rows among the user's cover when the entering day holds more of others'", async () => {
    // Planned tasks dated on the day entering the window: 600 of u3's, 2 of u1's.
    const planned = (id: string, owner: string) =>
      row('task', id, {
        name: id,
        ownerid: owner,
        owningbusinessunit: owner === 'u1' ? 'east' : 'west',
        modifiedon: '2026-03-11T08:00:00Z',
      });
    await t.tenant.applyRecordWrites([
      ...Array.from({ length: 600 }, (_, n) => planned(`f${n}`, 'u3')),
      planned('e1', 'u1'),
      planned('e2', 'u1'),
    ]);
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    expect(d.rows.has('task/e1')).toBe(false);
    t.clock.advance(12.5 * 3_600_000);
    const { rowsRead, changes } = await measuredSteps(d);
    // 10 leave (dated 03-07), 2 enter; read: the 10 leaving and u1's 52 tasks, not the 602 of 03-11.
    expect(changes).toBe(12);
    expect(rowsRead).toBe(10 + 52);
    expect(d.rows.has('task/e1')).toBe(true);
    expect(d.rows.size).toBe(20 + 30 + 2);
  });

  it("looks up the user's rows of a planned date's entering day, not the tenant's nor all the user's", async () => {
    // Tasks due in the last 3 days (a planned date, not a write stamp): the entering day can hold rows.
    await setEntityOfflineSettings(t.tenant, t.clock, 'task', {
      enabled: true,
      orgFilter: [{ attribute: 'scheduledend', operator: 'last-x-days', value: 3 }],
      required: false,
    });
    await publishCustomizations(t.tenant, t.clock);
    // Publishing prepared the composite look-ups of owners and units by that date (not by a write stamp).
    const specs = lookupSpecsFor(await listPublishedProfiles(t.tenant), await loadEntities(t.tenant));
    expect(specs.filter((s) => s.within !== undefined)).toEqual([
      { attribute: 'ownerid', kind: 'text', within: 'scheduledend' },
      { attribute: 'owningbusinessunit', kind: 'text', within: 'scheduledend' },
    ]);
    const due = (id: string, owner: string, iso: string) =>
      row('task', id, {
        name: id,
        ownerid: owner,
        owningbusinessunit: owner === 'u1' ? 'east' : 'west',
        scheduledend: iso,
      });
    await t.tenant.applyRecordWrites([
      // 600 of u3's and 2 of u1's due on the day entering the window, 30 of u1's due within it.
      ...Array.from({ length: 600 }, (_, n) => due(`f${n}`, 'u3', '2026-03-11T08:00:00Z')),
      due('e1', 'u1', '2026-03-11T08:00:00Z'),
      due('e2', 'u1', '2026-03-11T09:00:00Z'),
      ...Array.from({ length: 30 }, (_, n) => due(`w${n}`, 'u1', '2026-03-09T08:00:00Z')),
    ]);
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    expect(d.rows.has('task/e1')).toBe(false);
    expect(d.rows.has('task/w1')).toBe(true);
    t.clock.advance(12.5 * 3_600_000);
    const { rowsRead, changes } = await measuredSteps(d);
    // Nothing of u1's is due on the leaving day (03-07); the 2 entering are read, and only they.
    expect(changes).toBe(2);
    expect(rowsRead).toBe(2);
    expect(d.rows.has('task/e1')).toBe(true);
  });

  it('re-judges only the entity a republish changes', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    await updateProfile(t.tenant, t.clock, 'p1', {
      name: 'P1',
      description: '',
      items: profileOneItems({ withLeads: false }),
      users: ['u1', 'u2', 'u4', 'u5'],
    });
    await publishProfile(t.tenant, t.clock, 'p1');
    const counters = newDownloadCounters();
    const meter = newReadMeter();
    const response = await downloadChanges(
      { store: t.tenant, principal: principalOf(1), clock: t.clock, meter, counters },
      { app: APP, deviceId: 'd1', pageSize: 1000, checkpoint: d.checkpoint! },
    );
    // Leads left the profile (u1 held none): nothing is judged again from its rows, nothing read.
    expect(counters.recomputedEntities).toBe(0);
    expect(response.changes).toEqual([]);
    expect(meter.rows).toBe(0);
  });
});

describe('what a download writes of the held set', () => {
  const heldDocs = async () => new Map((await t.tenant.listDocEtags('syncHeld')).map((d) => [d.id, d.etag]));

  it('keeps an incremental page as one segment, and folds the segments in at the 16th', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    const [state] = await t.tenant.listDocEtags('syncDevice');
    const segments = async () =>
      (await t.tenant.getDoc<{ held: { segments: unknown[] } }>('syncDevice', state!.id))!.value.held.segments
        .length;
    expect(await segments()).toBe(0);
    for (let n = 1; n <= 16; n++) {
      const before = await heldDocs();
      // Three of u1's accounts change: their page's segment is all a sync writes of the held set.
      await t.tenant.applyRecordWrites(
        [0, 1, 2].map((k) =>
          row('account', `m${k}`, { name: `m${k}.${n}`, ownerid: 'u1', owningbusinessunit: 'east' }),
        ),
      );
      await d.syncToEnd(t);
      const after = await heldDocs();
      const written = [...after].filter(([id, etag]) => before.get(id) !== etag);
      if (n < 16) {
        // Only the page's segment is written; no bucket is rewritten.
        expect({ n, written: written.length, segments: await segments() }).toEqual({
          n,
          written: 1,
          segments: n,
        });
      } else {
        expect(await segments()).toBe(0);
        expect([...after.keys()].some((id) => !before.has(id))).toBe(true);
      }
    }
    expect(d.rows.get('account/m1')?.row?.name).toBe('m1.16');
  });
});

describe('compactionDue', () => {
  const held = (segments: number[], buckets: number[]): HeldState => ({
    buckets: buckets.length,
    generations: buckets.map(() => 'g'),
    counts: buckets,
    segments: segments.map((count, n) => ({ id: `s${n}`, count })),
    size: 0,
  });
  const sixteen = Array.from({ length: 16 }, () => 1000);
  it.each([
    // segments (rows each), buckets' rows, idle (between works) → due
    ['no segments', [], sixteen, true, false],
    ['one small segment between works', [100], sixteen, true, false],
    ['15 small segments between works', Array.from({ length: 15 }, () => 100), sixteen, true, false],
    ['16 segments between works', Array.from({ length: 16 }, () => 10), sixteen, true, true],
    ['16 segments during a work', Array.from({ length: 16 }, () => 10), sixteen, false, false],
    ["a bucket's worth of rows between works", [6000, 4000], sixteen, true, true],
    ['a quarter of the held rows between works', [2500, 1500], sixteen, true, true],
    ['less than a quarter of the held rows between works', [2500, 1400], sixteen, true, false],
    ['a small set: less than 1,000 segment rows between works', [500, 400], [300], true, false],
    ['a small set: 1,000 segment rows between works', [600, 400], [300], true, true],
    [
      'as many rows as the buckets during a work, 8 segments',
      Array.from({ length: 8 }, () => 2500),
      sixteen,
      false,
      true,
    ],
    [
      'as many rows as the buckets during a work, 7 segments',
      Array.from({ length: 7 }, () => 3000),
      sixteen,
      false,
      false,
    ],
    [
      'a first download: 8 pages of 2,500 rows over nothing',
      Array.from({ length: 8 }, () => 2500),
      [0],
      false,
      true,
    ],
    [
      'a first download: 8 pages of 1,000 rows over nothing',
      Array.from({ length: 8 }, () => 1000),
      [0],
      false,
      false,
    ],
    ['64 segments during a work', Array.from({ length: 64 }, () => 1), sixteen, false, true],
    [
      'a large first download: 100,000 segment rows over 320,000 held, 20 segments',
      Array.from({ length: 20 }, () => 5000),
      Array.from({ length: 32 }, () => 10_000),
      false,
      true,
    ],
    [
      'a large first download: 95,000 segment rows over 320,000 held, 19 segments',
      Array.from({ length: 19 }, () => 5000),
      Array.from({ length: 32 }, () => 10_000),
      false,
      false,
    ],
  ])('%s', (_name, segments, buckets, idle, due) => {
    expect(compactionDue(held(segments, buckets), idle)).toBe(due);
  });
});
