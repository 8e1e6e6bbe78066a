import { replaceDirectory } from '../../../shared/admin/directory-store';
import { changeProfileUsers, publishProfile } from '../../../shared/admin/profile-service';
import { updateTenantSettings } from '../../../shared/admin/settings-store';
import { AppError } from '../../../shared/errors';
import type { RecordWrite } from '../../../shared/store/port';
import { oracleRows } from './download/download-oracle';
import { signCheckpoint } from '../../../shared/sync/checkpoint';
import type { DownloadResponse } from '../../../shared/sync/sync-protocol';
import { downloadChanges } from '../../../shared/sync/download';
import { getSyncMetadata } from '../../../shared/sync/metadata';
import {
  APP,
  baseDirectory,
  configureDownloadTenant,
  DeviceReplica,
  oid,
  openTestStore,
  principalOf,
  type TestStore,
} from './download/download-test-tenant';

let t: TestStore;
let version = 0;
const write = (
  entity: string,
  id: string,
  attributes: Record<string, unknown>,
  deleted = false,
): RecordWrite => ({
  entity,
  id,
  version: String(++version),
  deleted,
  attributes,
});
const put = (...writes: RecordWrite[]) => t.tenant.applyRecordWrites(writes);
const keys = (d: DeviceReplica) => [...d.rows.keys()].sort();
const expectCode = async (promise: Promise<unknown>, code: string, detail?: string) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  if (detail !== undefined) expect(JSON.stringify((error as AppError).details)).toContain(detail);
};

beforeEach(async () => {
  t = await openTestStore('sqlite');
  await configureDownloadTenant(t);
  await put(
    write('currency', 'eur', { name: 'EUR' }),
    write('currency', 'usd', { name: 'USD' }),
    write('tag', 'vip', { name: 'VIP' }),
    write('tag', 'cold', { name: 'cold' }),
    write('account', 'a1', {
      name: 'mine',
      ownerid: 'u1',
      owningbusinessunit: 'east',
      currencyid: 'eur',
      secret: 'x',
    }),
    write('account', 'a2', { name: 'team', ownerid: 't1', owningbusinessunit: 'east' }),
    write('account', 'a3', { name: 'other', ownerid: 'u3', owningbusinessunit: 'west', currencyid: 'usd' }),
    write('accounttag', 'at1', { accountid: 'a2', tagid: 'vip' }),
    write('accounttag', 'at2', { accountid: 'a3', tagid: 'cold' }),
    write('contact', 'c1', { name: 'c1', ownerid: 'u1', owningbusinessunit: 'east', parentaccountid: 'a1' }),
    write('contact', 'c3', { name: 'c3', ownerid: 'u1', owningbusinessunit: 'east', parentaccountid: 'a3' }),
    write('note', 'n1', { name: 'n1', objectid: 'c1' }),
    write('note', 'n3', { name: 'n3', objectid: 'c3' }),
    write('task', 'k1', {
      name: 'k1',
      ownerid: 'u1',
      owningbusinessunit: 'east',
      modifiedon: '2026-03-09T00:00:00Z',
    }),
    write('task', 'k2', {
      name: 'old',
      ownerid: 'u1',
      owningbusinessunit: 'east',
      modifiedon: '2026-03-01T00:00:00Z',
    }),
    write('lead', 'l1', { name: 'l1', owningbusinessunit: 'east' }),
    write('lead', 'l2', { name: 'l2', owningbusinessunit: 'west' }),
  );
});
afterEach(async () => {
  await t.close();
});

describe('membership', () => {
  it('follows the own rule, then one-to-many, many-to-one, many-to-many and transitive associations, with the org filter', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    expect(keys(d)).toEqual(
      [
        'account/a1', // mine
        'account/a2', // my team's
        'contact/c1', // one-to-many from a1
        'note/n1', // one-to-many from c1 (transitive)
        'currency/eur', // many-to-one from a1
        'tag/vip', // many-to-many from a2 through accounttag
        'task/k1', // custom filter; k2 is outside last-x-days 3
        'lead/l1', // my business unit
      ].sort(),
    );
  });

  it('sends secured columns only to users who may read them', async () => {
    const d1 = new DeviceReplica('d1', 1);
    await d1.syncToEnd(t);
    expect(d1.rows.get('account/a1')!.row.secret).toBe('x');
    // u1 loses access to the secured column: the rows are sent again without it.
    const directory = baseDirectory();
    directory.users[0]!.securedColumns = [];
    await replaceDirectory(t.tenant, directory, t.clock);
    await d1.syncToEnd(t);
    expect(d1.rows.get('account/a1')!.row).not.toHaveProperty('secret');
    expect(d1.rows.get('account/a1')!.row.name).toBe('mine');
    const metadata = await getSyncMetadata(t.tenant, principalOf(2), t.clock, APP);
    const account = metadata.entities.find((e) => e.logicalName === 'account')!;
    expect(account.attributes.find((a) => a.name === 'secret')).toMatchObject({
      secured: true,
      readable: false,
    });
    expect(metadata.profileVersion).toBe(1);
  });
});

describe('removals and arrivals', () => {
  it('removes rows deleted at the source, moved to another owner, or no longer related', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    await put(write('lead', 'l1', {}, true));
    await d.syncToEnd(t);
    expect(d.rows.has('lead/l1')).toBe(false);
    // a1 moves to u3: it leaves, and with it c1, n1 and eur (reached only through a1).
    await put(
      write('account', 'a1', { name: 'moved', ownerid: 'u3', owningbusinessunit: 'west', currencyid: 'eur' }),
    );
    await d.syncToEnd(t);
    expect(keys(d)).toEqual(['account/a2', 'tag/vip', 'task/k1'].sort());
    // a3 moves to u1: its contact c3, note n3, usd and the cold tag arrive.
    await put(
      write('account', 'a3', {
        name: 'mine now',
        ownerid: 'u1',
        owningbusinessunit: 'east',
        currencyid: 'usd',
      }),
    );
    await d.syncToEnd(t);
    expect(keys(d)).toEqual(
      [
        'account/a2',
        'account/a3',
        'contact/c3',
        'note/n3',
        'currency/usd',
        'tag/vip',
        'tag/cold',
        'task/k1',
      ].sort(),
    );
  });

  it('follows team membership, the clock, and a move to another profile', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    const directory = baseDirectory();
    directory.teams[0]!.memberIds = [];
    await replaceDirectory(t.tenant, directory, t.clock);
    await d.syncToEnd(t);
    expect(d.rows.has('account/a2')).toBe(false);
    expect(d.rows.has('tag/vip')).toBe(false);
    // Four days on, k1 (modified 2026-03-09) falls out of last-x-days 3.
    t.clock.advance(4 * 86_400_000);
    await d.syncToEnd(t);
    expect(d.rows.has('task/k1')).toBe(false);
    await changeProfileUsers(t.tenant, t.clock, 'p1', { add: [], remove: ['u1'] });
    await publishProfile(t.tenant, t.clock, 'p1');
    await changeProfileUsers(t.tenant, t.clock, 'p2', { add: ['u1'], remove: [] });
    await publishProfile(t.tenant, t.clock, 'p2');
    await d.syncToEnd(t);
    // P2: contacts u1 owns, their notes, and every lead u1 may read (its business unit's).
    expect(keys(d)).toEqual(['contact/c1', 'contact/c3', 'lead/l1', 'note/n1', 'note/n3'].sort());
  });
});

describe('reached rows', () => {
  it('removes a row reached only through rows that leave, though a changed row not judged yet names it now', async () => {
    await put(
      write('currency', 'gbp', { name: 'GBP' }),
      write('account', 'a4', {
        name: 'team gbp',
        ownerid: 't1',
        owningbusinessunit: 'east',
        currencyid: 'gbp',
      }),
    );
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    expect(keys(d)).toEqual(
      expect.arrayContaining(['account/a1', 'account/a4', 'currency/eur', 'currency/gbp']),
    );
    // a1 goes to another owner and now names gbp; u1 leaves team t1, so a2 and a4 go. When a4's
    // leaving judges gbp again, a1's change is not judged yet (it comes with the changes, later):
    // as the device holds a1, it names eur, so nothing reaches gbp any more.
    await put(
      write('account', 'a1', { name: 'mine', ownerid: 'u3', owningbusinessunit: 'west', currencyid: 'gbp' }),
    );
    const directory = baseDirectory();
    directory.teams[0]!.memberIds = [];
    await replaceDirectory(t.tenant, directory, t.clock);
    await d.syncToEnd(t);
    expect(keys(d).filter((k) => k.startsWith('account/') || k.startsWith('currency/'))).toEqual([]);
    expect(keys(d)).toEqual([...(await oracleRows(t.tenant, oid(1), t.clock)).keys()].sort());
  });
});

describe('pages and checkpoints', () => {
  it('pages with progress, and a lost page retried returns the same changes and commits once', async () => {
    const d = new DeviceReplica('d1', 1);
    // Progress counts the changes sent; its total is what is sent plus what the work still expects
    // (counted by the store as the rows are looked up), so it never runs past 100 and ends there.
    const expectProgress = (response: DownloadResponse, done: number): void => {
      const { progress } = response;
      expect(progress.done).toBe(done);
      expect(progress.total).toBeGreaterThanOrEqual(done);
      expect(progress.percent).toBe(Math.floor((done * 100) / progress.total));
    };
    const first = await d.step(t, { pageSize: 3 });
    expect(first.more).toBe(true);
    expectProgress(first, 3);
    const lost = await d.step(t, { pageSize: 3, drop: true });
    const retried = await d.step(t, { pageSize: 3 });
    expect(retried.changes).toEqual(lost.changes);
    expectProgress(retried, 6);
    const last = await d.step(t, { pageSize: 3 });
    expect(last).toMatchObject({ more: false, progress: { done: 8, total: 8, percent: 100 } });
    const idle = await d.step(t, { pageSize: 3 });
    expect(idle.changes).toEqual([]);
    expect(d.rows.size).toBe(8);
  });

  it('takes back two pages when the device asked for the next before writing the one it then lost', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.step(t, { pageSize: 3 });
    const written = d.checkpoint!;
    // The SDK asks for page 3 with page 2's checkpoint before it has written page 2; both are lost.
    const second = await d.step(t, { pageSize: 3, drop: true });
    d.checkpoint = second.checkpoint;
    const third = await d.step(t, { pageSize: 3, drop: true });
    d.checkpoint = written;
    const again = await d.step(t, { pageSize: 3 });
    expect(again.changes).toEqual(second.changes);
    expect(again.progress.done).toBe(6);
    expect((await d.step(t, { pageSize: 3 })).changes).toEqual(third.changes);
    await d.syncToEnd(t, 3);
    expect(d.rows.size).toBe(8);
    const idle = await d.step(t, { pageSize: 3 });
    expect(idle.changes).toEqual([]);
  });

  it('refuses a checkpoint older than the one before the last page acknowledged', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.step(t, { pageSize: 2 });
    const first = d.checkpoint!;
    for (let i = 0; i < 3; i++) await d.step(t, { pageSize: 2 });
    // Page 4 is pending and page 3 acknowledged: only page 2's checkpoint takes both back.
    const call = (checkpoint: string) =>
      downloadChanges(
        { store: t.tenant, principal: principalOf(1), clock: t.clock },
        { app: APP, deviceId: 'd1', checkpoint, pageSize: 2 },
      );
    await expectCode(call(first), 'Conflict', 'CheckpointStale');
    // Still right for the device that presents what it holds.
    await d.syncToEnd(t, 2);
    expect(d.rows.size).toBe(8);
  });

  it('follows a lookup from what a re-sent page planned, not from the newer row it carries', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    expect(keys(d)).toEqual(expect.arrayContaining(['account/a1', 'currency/eur']));
    // a1 now reaches usd: the page that says so is applied, but its checkpoint is lost.
    await put(
      write('account', 'a1', { name: 'mine', ownerid: 'u1', owningbusinessunit: 'east', currencyid: 'usd' }),
    );
    const kept = d.checkpoint;
    const applied = await d.step(t, { drop: true });
    expect(applied.changes.map((c) => `${c.op} ${c.entity}/${c.id}`)).toEqual(
      expect.arrayContaining(['upsert account/a1', 'upsert currency/usd']),
    );
    d.apply(applied, false);
    d.checkpoint = kept;
    // Before the page is sent again, a1 leaves u1 and points at eur once more.
    await put(
      write('account', 'a1', { name: 'gone', ownerid: 'u3', owningbusinessunit: 'west', currencyid: 'eur' }),
    );
    await d.syncToEnd(t);
    // a1 is gone, and with it usd, which only a1 reached when the page was planned.
    expect(keys(d).filter((k) => k.startsWith('account/') || k.startsWith('currency/'))).toEqual([
      'account/a2',
    ]);
  });

  it('judges again what a re-sent page reached through a row deleted since it was planned', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    // A new account of u1's reaching usd: the page that sends both is lost.
    await put(
      write('account', 'a9', { name: 'new', ownerid: 'u1', owningbusinessunit: 'east', currencyid: 'usd' }),
    );
    const lost = await d.step(t, { drop: true });
    expect(lost.changes.map((c) => `${c.op} ${c.entity}/${c.id}`)).toEqual(
      expect.arrayContaining(['upsert account/a9', 'upsert currency/usd']),
    );
    // The account goes before the page is sent again: nothing reaches usd any more.
    await put(write('account', 'a9', {}, true));
    await d.syncToEnd(t);
    expect(keys(d).filter((k) => k.startsWith('account/') || k.startsWith('currency/'))).toEqual([
      'account/a1',
      'account/a2',
      'currency/eur',
    ]);
  });

  it('finishes a download that meets profile changes under the profile in force', async () => {
    const move = async (from: string, to: string): Promise<void> => {
      await changeProfileUsers(t.tenant, t.clock, from, { add: [], remove: ['u1'] });
      await publishProfile(t.tenant, t.clock, from);
      await changeProfileUsers(t.tenant, t.clock, to, { add: ['u1'], remove: [] });
      await publishProfile(t.tenant, t.clock, to);
    };
    const reference = new DeviceReplica('ref', 1);
    await reference.syncToEnd(t);
    const d = new DeviceReplica('d1', 1);
    await d.step(t, { pageSize: 2 });
    // u1 moves to P2 while its first download runs, gets a page there, and moves back.
    await move('p1', 'p2');
    expect((await d.step(t, { pageSize: 2 })).more).toBe(true);
    await move('p2', 'p1');
    // The first answer that says nothing more is to come leaves the device right.
    for (let page = 0; page < 50; page++) if (!(await d.step(t, { pageSize: 2 })).more) break;
    expect(keys(d)).toEqual(keys(reference));
  });

  it('answers an idle device with an empty page, and sends only the change after a write', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    expect((await d.step(t)).changes).toEqual([]);
    await put(write('lead', 'l1', { name: 'renamed', owningbusinessunit: 'east' }));
    const next = await d.step(t);
    expect(next.changes).toEqual([
      {
        entity: 'lead',
        id: 'l1',
        op: 'upsert',
        version: String(version),
        row: { name: 'renamed', owningbusinessunit: 'east' },
      },
    ]);
  });

  it('refuses altered, forged and foreign checkpoints', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    const checkpoint = d.checkpoint!;
    const call = (user: number, deviceId: string, cp: string) =>
      downloadChanges(
        { store: t.tenant, principal: principalOf(user), clock: t.clock },
        { app: APP, deviceId, checkpoint: cp, pageSize: 10 },
      );
    const [body, mac] = checkpoint.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const altered = `${Buffer.from(JSON.stringify({ ...payload, seq: 99 })).toString('base64url')}.${mac}`;
    await expectCode(call(1, 'd1', altered), 'ValidationFailed', 'CheckpointInvalid');
    const forged = signCheckpoint(Buffer.alloc(32, 7), payload as never);
    await expectCode(call(1, 'd1', forged), 'ValidationFailed', 'CheckpointInvalid');
    await expectCode(call(1, 'other-device', checkpoint), 'ValidationFailed', 'CheckpointInvalid');
    await expectCode(call(2, 'd1', checkpoint), 'ValidationFailed', 'CheckpointInvalid');
    await expectCode(call(1, 'd1', 'garbage'), 'ValidationFailed', 'CheckpointInvalid');
    // A checkpoint of an earlier epoch (the device started over since) is stale.
    const restarted = new DeviceReplica('d1', 1);
    await restarted.syncToEnd(t);
    await expectCode(call(1, 'd1', checkpoint), 'Conflict', 'CheckpointStale');
  });
});

describe('callers and limits', () => {
  it('refuses unknown users, users without Read on offline profiles, and users in no profile', async () => {
    const request = { app: APP, deviceId: 'd', pageSize: 10 };
    await expectCode(
      downloadChanges({ store: t.tenant, principal: principalOf(9), clock: t.clock }, request),
      'Forbidden',
      'UserNotInDirectory',
    );
    await expectCode(
      downloadChanges({ store: t.tenant, principal: principalOf(5), clock: t.clock }, request),
      'PrivilegeDenied',
    );
    await changeProfileUsers(t.tenant, t.clock, 'p2', { add: [], remove: ['u3'] });
    await publishProfile(t.tenant, t.clock, 'p2');
    await expectCode(
      downloadChanges({ store: t.tenant, principal: principalOf(3), clock: t.clock }, request),
      'NoProfile',
    );
  });

  it('warns past the soft row limit and refuses past the hard one, naming both numbers', async () => {
    await updateTenantSettings(t.tenant, { softRowLimit: 5, hardRowLimit: 8 });
    const d = new DeviceReplica('d1', 1);
    const first = await d.step(t);
    expect(first.warnings?.[0]).toMatchObject({
      code: 'SoftRowLimitExceeded',
      details: { count: 8, softRowLimit: 5 },
    });
    await d.syncToEnd(t);
    await put(write('lead', 'l3', { name: 'l3', owningbusinessunit: 'east' }));
    await expectCode(d.step(t), 'RowLimitExceeded', '"count":9');
    const fresh = new DeviceReplica('d9', 1);
    await expectCode(fresh.step(t), 'RowLimitExceeded', '"hardRowLimit":8');
  });

  it('tells the device when to sync next: the shortest item interval, else the tenant default', async () => {
    const d1 = new DeviceReplica('d1', 1);
    expect((await d1.step(t)).nextSyncSeconds).toBe(900);
    const d3 = new DeviceReplica('d3', 3);
    expect((await d3.step(t)).nextSyncSeconds).toBe(1200);
  });
});
