import { appendSyncError, listSyncErrors } from '../../../shared/sync/sync-errors/sync-error-log';
import { openTestStore, type TestStore } from './download/download-test-tenant';

describe('sync error log listing', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore('sqlite');
    // 130 entries, one a second: every tenth by user u2 on a contact, the rest by u1 on accounts.
    for (let i = 0; i < 130; i++) {
      const u2 = i % 10 === 0;
      await appendSyncError(
        t.tenant,
        new Date(Date.UTC(2026, 2, 10, 12, 0, i)),
        { userId: u2 ? 'U2' : 'u1', deviceId: 'd1', app: 'field-sales' },
        { opId: `op-${i}`, entity: u2 ? 'contact' : 'account', id: `r${i}`, op: 'update', row: { n: i } },
        { status: 'rejected', error: { code: 'PrivilegeDenied', message: 'no' } },
      );
    }
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(() => jest.restoreAllMocks());

  it('reads only the newest entries it needs, not the whole log', async () => {
    const getDoc = jest.spyOn(t.tenant, 'getDoc');
    const listDocs = jest.spyOn(t.tenant, 'listDocs');
    const newest = await listSyncErrors(t.tenant, { limit: 5 });
    expect(newest.map((e) => e.recordId)).toEqual(['r129', 'r128', 'r127', 'r126', 'r125']);
    expect(listDocs).not.toHaveBeenCalled();
    expect(getDoc.mock.calls.length).toBeLessThanOrEqual(50);
  });

  it('keeps newest-first order and the filters across batches, up to the limit', async () => {
    const u2 = await listSyncErrors(t.tenant, { userId: 'u2', limit: 100 });
    expect(u2.map((e) => e.recordId)).toEqual(
      [120, 110, 100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0].map((i) => `r${i}`),
    );
    expect((await listSyncErrors(t.tenant, { entity: 'contact', limit: 4 })).map((e) => e.recordId)).toEqual([
      'r120',
      'r110',
      'r100',
      'r90',
    ]);
    const all = await listSyncErrors(t.tenant, { limit: 1000 });
    expect(all).toHaveLength(130);
    expect(all.map((e) => e.time)).toEqual([...all.map((e) => e.time)].sort().reverse());
    expect(await listSyncErrors(t.tenant, { deviceId: 'other', limit: 10 })).toEqual([]);
  });
});
