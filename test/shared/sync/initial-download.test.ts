import { updateTenantSettings } from '../../../shared/admin/settings-store';
import { AppError } from '../../../shared/errors';
import type { RecordWrite } from '../../../shared/store/port';
import {
  configureDownloadTenant,
  DeviceReplica,
  openTestStore,
  type TestStore,
} from './download/download-test-tenant';

/**
 * An initial download streams what the rules' look-ups find, page by page, and ends by judging what
 * changed since it started. These tests prove the device's held set exact: after the last page, the
 * next sync has nothing to send, however the rows changed mid-download.
 */

const LEADS = 2100;
let t: TestStore;
let version = 0;
const lead = (n: number, attributes: Record<string, unknown> = {}, deleted = false): RecordWrite => ({
  entity: 'lead',
  id: `m${String(n).padStart(5, '0')}`,
  version: String(++version),
  deleted,
  attributes: deleted ? {} : { name: `lead ${n}`, owningbusinessunit: 'east', ...attributes },
});

beforeEach(async () => {
  t = await openTestStore('sqlite');
  await configureDownloadTenant(t);
  await t.tenant.applyRecordWrites(Array.from({ length: LEADS }, (_, n) => lead(n)));
});
afterEach(async () => {
  await t.close();
});

describe('initial download', () => {
  it('holds exactly what its pages sent when rows change or go while it runs', async () => {
    const d = new DeviceReplica('d1', 1);
    const first = await d.step(t, { pageSize: 1000 });
    // The total is what the business-unit look-up counted.
    expect(first).toMatchObject({ more: true, progress: { done: 1000, total: LEADS } });
    // Rows of the second page (sent after these writes) and of the last page.
    await t.tenant.applyRecordWrites([
      lead(1500, { name: 'renamed' }),
      lead(1600, {}, true),
      lead(2050, { name: 'renamed too' }),
      lead(2060, {}, true),
    ]);
    const second = await d.step(t, { pageSize: 1000 });
    expect(second.changes.find((c) => c.id === 'm01500')).toMatchObject({
      op: 'upsert',
      row: { name: 'renamed' },
    });
    // Rows deleted before their page was read are never sent: the device never held them.
    expect(second.changes.find((c) => c.id === 'm01600')).toBeUndefined();
    const last = await d.step(t, { pageSize: 1000 });
    expect(last.more).toBe(false);
    expect(last.changes.find((c) => c.id === 'm02060')).toBeUndefined();

    // The held set matches the device: the next sync re-sends and removes nothing.
    const idle = await d.step(t, { pageSize: 1000 });
    expect(idle.changes).toEqual([]);
    expect(d.rows.has('lead/m01600')).toBe(false);
    expect(d.rows.get('lead/m01500')?.row.name).toBe('renamed');
    expect(d.rows.get('lead/m02050')?.row.name).toBe('renamed too');
    expect([...d.rows.keys()].filter((key) => key.startsWith('lead/m'))).toHaveLength(LEADS - 2);

    // Later changes are judged against that set: a removal of a held row, nothing for a gone one.
    await t.tenant.applyRecordWrites([lead(10, {}, true)]);
    const next = await d.step(t, { pageSize: 1000 });
    expect(next.changes).toEqual([expect.objectContaining({ id: 'm00010', op: 'remove' })]);
  });

  it('keeps a lost page out of the held set and the retried page in it', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.step(t, { pageSize: 1000 });
    await t.tenant.applyRecordWrites([lead(1200, { name: 'first' })]);
    const lost = await d.step(t, { pageSize: 1000, drop: true });
    expect(lost.changes.find((c) => c.id === 'm01200')).toMatchObject({ row: { name: 'first' } });
    await t.tenant.applyRecordWrites([lead(1200, { name: 'second' })]);
    const retried = await d.step(t, { pageSize: 1000 });
    expect(retried.changes.find((c) => c.id === 'm01200')).toMatchObject({ row: { name: 'second' } });
    expect((await d.step(t, { pageSize: 1000 })).more).toBe(false);
    expect(d.rows.get('lead/m01200')?.row.name).toBe('second');
    expect((await d.step(t, { pageSize: 1000 })).changes).toEqual([]);
  });

  it('refuses a download once it passes the hard limit, and leaves no documents behind when it ends', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    const held = d.rows.size;
    const docs = async (kind: string): Promise<string[]> =>
      (await t.tenant.listDocEtags(kind)).map((doc) => doc.id);
    // Once done, only the state and its held buckets remain: no page segments, outbox or lists.
    expect(await docs('syncPlan')).toEqual([]);
    expect((await docs('syncHeld')).every((id) => /\|b\d+\./.test(id))).toBe(true);

    // A new download past the hard limit: refused, with the count it reached.
    await updateTenantSettings(t.tenant, { softRowLimit: 100, hardRowLimit: held - 1 });
    const restarted = new DeviceReplica('d1', 1);
    let refused: unknown;
    for (let page = 0; page < 10 && refused === undefined; page++) {
      refused = await restarted.step(t, { pageSize: 1000 }).then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'RowLimitExceeded', details: { hardRowLimit: held - 1 } });
    expect((refused as AppError & { details: { count: number } }).details.count).toBeGreaterThan(held - 1);

    // Within the limit, a new download (in pages of 500) holds exactly what the first one held.
    await updateTenantSettings(t.tenant, { hardRowLimit: 10_000 });
    const fresh = new DeviceReplica('d1', 1);
    const first = await fresh.step(t, { pageSize: 500 });
    expect(first.progress).toMatchObject({ done: 500 });
    await fresh.syncToEnd(t, 500);
    expect(fresh.versions()).toEqual(d.versions());
    expect(await docs('syncPlan')).toEqual([]);
  });
});
