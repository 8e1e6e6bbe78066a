import { applySourceChanges, type ReplicationChange } from '../../../shared/replication';
import type { TenantStore } from '../../../shared/store/port';
import { createReplicationFixture, ORG, STORE_KINDS, type ReplicationFixture } from './replication-fixture';

const upsert = (
  id: string,
  version: string,
  attributes: Record<string, unknown>,
  partial?: boolean,
): ReplicationChange => ({
  entity: 'account',
  id,
  op: 'upsert',
  attributes,
  version,
  ...(partial === undefined ? {} : { partial }),
});
const remove = (id: string, version?: string): ReplicationChange => ({
  entity: 'account',
  id,
  op: 'delete',
  attributes: {},
  version,
});

describe.each(STORE_KINDS)('applySourceChanges (%s store)', (storeKind) => {
  let fixture: ReplicationFixture;
  let store: TenantStore;

  beforeEach(async () => {
    fixture = await createReplicationFixture({ storeKind });
    store = fixture.store.tenant(ORG);
  });
  afterEach(() => fixture.close());

  async function rows(): Promise<unknown[]> {
    const all = await store.scanRecords('account', { limit: 100, includeDeleted: true });
    return all.map(({ id, version, deleted, attributes }) => ({ id, version, deleted, attributes }));
  }

  it('leaves the same end state whatever the order, duplicates and replays of the changes', async () => {
    const changes = [
      upsert('a', '1', { name: 'A1' }),
      upsert('b', '2', { name: 'B2' }),
      upsert('a', '3', { name: 'A3' }),
      remove('b', '4'),
      upsert('c', '5', { name: 'C5' }),
    ];
    await applySourceChanges(store, changes);
    const expected = await rows();
    expect(expected).toEqual([
      { id: 'a', version: '3', deleted: false, attributes: { name: 'A3' } },
      { id: 'b', version: '4', deleted: true, attributes: {} },
      { id: 'c', version: '5', deleted: false, attributes: { name: 'C5' } },
    ]);

    // A replay changes nothing, and reports every change as stale.
    const cursor = await store.headCursor();
    expect(await applySourceChanges(store, changes)).toEqual({ applied: 0, stale: 5, skipped: 0 });
    expect((await store.readChanges(cursor, 10)).records).toEqual([]);

    // Reversed and duplicated, into a fresh tenant: the same rows.
    const other = await createReplicationFixture({ storeKind });
    try {
      const otherStore = other.store.tenant(ORG);
      await applySourceChanges(
        otherStore,
        [...changes].reverse().flatMap((c) => [c, c]),
        { chunkSize: 3 },
      );
      const all = await otherStore.scanRecords('account', { limit: 100, includeDeleted: true });
      expect(
        all.map(({ id, version, deleted, attributes }) => ({ id, version, deleted, attributes })),
      ).toEqual(expected);
    } finally {
      await other.close();
    }
  });

  it('keeps a tombstone that an older update cannot bring back', async () => {
    await applySourceChanges(store, [upsert('a', '5', { name: 'A5' }), remove('a', '7')]);
    expect(await applySourceChanges(store, [upsert('a', '6', { name: 'late' })])).toEqual({
      applied: 0,
      stale: 1,
      skipped: 0,
    });
    expect(await store.getRecord('account', 'a')).toMatchObject({ deleted: true, version: '7' });
    // A newer version (the row re-created at the source) does come back.
    await applySourceChanges(store, [upsert('a', '9', { name: 'again' })]);
    expect(await store.getRecord('account', 'a')).toMatchObject({ deleted: false, version: '9' });
  });

  it('merges partial updates onto the stored row, and ignores an older partial', async () => {
    await applySourceChanges(store, [upsert('a', '1', { name: 'A', city: 'Oslo' })]);
    await applySourceChanges(store, [upsert('a', '3', { city: 'Bergen' }, true)]);
    await applySourceChanges(store, [upsert('a', '2', { name: 'older' }, true)]);
    expect(await store.getRecord('account', 'a')).toMatchObject({
      version: '3',
      attributes: { name: 'A', city: 'Bergen' },
    });
  });

  it('makes a delete without a version win over the stored row, and a replay of it changes nothing', async () => {
    await applySourceChanges(store, [upsert('a', '41', { name: 'A' })]);
    expect(await applySourceChanges(store, [remove('a')])).toEqual({ applied: 1, stale: 0, skipped: 0 });
    expect(await store.getRecord('account', 'a')).toMatchObject({ deleted: true, version: '42' });

    const cursor = await store.headCursor();
    expect(await applySourceChanges(store, [remove('a'), remove('nobody')])).toEqual({
      applied: 0,
      stale: 0,
      skipped: 2,
    });
    expect((await store.readChanges(cursor, 10)).records).toEqual([]);
    // The update it deleted, replayed, stays deleted.
    await applySourceChanges(store, [upsert('a', '41', { name: 'A' })]);
    expect(await store.getRecord('account', 'a')).toMatchObject({ deleted: true, version: '42' });
  });

  it('tombstones above an upsert of the same row earlier in the same batch', async () => {
    await applySourceChanges(store, [upsert('a', '10', { name: 'new' }), remove('a')]);
    expect(await store.getRecord('account', 'a')).toMatchObject({ deleted: true, version: '11' });
    // Across versions beyond 2^53 too.
    await applySourceChanges(store, [upsert('z', '9007199254740993', { name: 'big' }), remove('z')]);
    expect(await store.getRecord('account', 'z')).toMatchObject({
      deleted: true,
      version: '9007199254740994',
    });
  });

  it('writes each chunk with one bulk call', async () => {
    const calls: number[] = [];
    const counting: TenantStore = Object.create(store) as TenantStore;
    counting.applyRecordWrites = (writes) => {
      calls.push(writes.length);
      return store.applyRecordWrites(writes);
    };
    const changes = Array.from({ length: 7 }, (_, i) => upsert(`r${i}`, String(i + 1), { n: i }));
    expect(await applySourceChanges(counting, changes, { chunkSize: 3 })).toEqual({
      applied: 7,
      stale: 0,
      skipped: 0,
    });
    expect(calls).toEqual([3, 3, 1]);
  });

  it('refuses an upsert without a version or with one that is not digits', async () => {
    await expect(
      applySourceChanges(store, [
        { entity: 'account', id: 'a', op: 'upsert', attributes: {}, version: undefined },
      ]),
    ).rejects.toMatchObject({ code: 'ValidationFailed' });
    await expect(applySourceChanges(store, [upsert('a', 'W/"12"', {})])).rejects.toMatchObject({
      code: 'ValidationFailed',
    });
  });
});
