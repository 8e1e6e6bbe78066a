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
 * An initial download writes the device's held set once, from its plan and what its pages sent
 * differently (rows changed or deleted while it ran). These tests prove that set exact: after the
 * last page, the next sync has nothing to send, however the rows changed mid-download.
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
    expect(second.changes.find((c) => c.id === 'm01600')).toMatchObject({ op: 'remove' });
    const last = await d.step(t, { pageSize: 1000 });
    expect(last.more).toBe(false);
    expect(last.changes.find((c) => c.id === 'm02060')).toMatchObject({ op: 'remove' });

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

  it('plans in chunks while it scans, and a download refused past the hard limit leaves the last one intact', async () => {
    const d = new DeviceReplica('d1', 1);
    await d.syncToEnd(t);
    const planDocs = async (): Promise<string[]> =>
      (await t.tenant.listDocEtags('syncPlan')).map((doc) => doc.id);
    expect(await planDocs()).toEqual([]);

    // A new download past the hard limit: refused with the whole count, and no plan chunk is left.
    const held = d.rows.size;
    await updateTenantSettings(t.tenant, { softRowLimit: 100, hardRowLimit: held - 1 });
    const restarted = new DeviceReplica('d1', 1);
    const refused = await restarted.step(t).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'RowLimitExceeded', details: { count: held } });
    expect(await planDocs()).toEqual([]);

    // The device's last download still stands: its checkpoint syncs what changed since.
    await updateTenantSettings(t.tenant, { hardRowLimit: 10_000 });
    await t.tenant.applyRecordWrites([lead(7, { name: 'changed' })]);
    const next = await d.step(t);
    expect(next.changes).toEqual([expect.objectContaining({ id: 'm00007', op: 'upsert' })]);

    // A new download (chunked: more rows than a state document holds inline) replaces it.
    const fresh = new DeviceReplica('d1', 1);
    const first = await fresh.step(t, { pageSize: 500 });
    expect(first.progress).toMatchObject({ done: 500, total: held });
    expect(await planDocs()).toHaveLength(1);
    await fresh.syncToEnd(t, 500);
    expect(fresh.versions()).toEqual(d.versions());
    expect(await planDocs()).toEqual([]);
  });
});
