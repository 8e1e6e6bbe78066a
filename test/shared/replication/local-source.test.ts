import { replaceDirectory } from '../../../shared/admin/directory-store';
import { createLocalSource } from '../../../shared/sources/local';
import type { Source, SourceWrite } from '../../../shared/sources/port';
import type { TenantStore } from '../../../shared/store/port';
import { ACCOUNT, createReplicationFixture, ORG, type ReplicationFixture } from './replication-fixture';

describe('local source', () => {
  let fixture: ReplicationFixture;
  let store: TenantStore;
  let source: Source;

  beforeEach(async () => {
    fixture = await createReplicationFixture({ source: { kind: 'local' } });
    store = fixture.store.tenant(ORG);
    source = createLocalSource(store);
  });
  afterEach(() => fixture.close());

  const write = (
    op: SourceWrite['op'],
    attributes: Record<string, unknown>,
    baseVersion?: string,
  ): SourceWrite => ({
    entity: 'account',
    id: 'a',
    op,
    attributes,
    callerObjectId: 'user-1',
    ...(baseVersion === undefined ? {} : { baseVersion }),
  });

  it('reads the declared metadata and directory from the store', async () => {
    expect(await source.readMetadata()).toEqual([ACCOUNT]);
    expect(await source.readMetadata(['contact'])).toEqual([]);
    await replaceDirectory(store, {
      businessUnits: [{ id: 'bu-1', name: 'Root', parentId: null }],
      users: [],
      teams: [],
      roles: [],
    });
    expect((await source.readDirectory()).businessUnits.map((b) => b.id)).toEqual(['bu-1']);
  });

  it('yields no changes: they reach a local tenant through ingest and uploads', async () => {
    const pages = [];
    for await (const page of source.readChanges(ACCOUNT, undefined)) pages.push(page);
    expect(pages).toEqual([]);
  });

  it('writes creates, updates and deletes into the store with a new version each, and counts rows', async () => {
    expect(await source.writeChange(write('create', { name: 'A', city: 'Oslo' }), ACCOUNT)).toEqual({
      version: '1',
      attributes: { name: 'A', city: 'Oslo' },
    });
    expect(await source.countRows(ACCOUNT)).toBe(1);
    // An update carries only the changed columns and merges.
    expect(await source.writeChange(write('update', { city: 'Bergen' }, '1'), ACCOUNT)).toEqual({
      version: '2',
      attributes: { name: 'A', city: 'Bergen' },
    });
    await expect(source.writeChange(write('update', { city: 'Stale' }, '1'), ACCOUNT)).rejects.toMatchObject({
      code: 'PreconditionFailed',
    });
    await expect(source.writeChange(write('create', { name: 'again' }), ACCOUNT)).rejects.toMatchObject({
      code: 'Conflict',
    });
    expect(await source.writeChange(write('delete', {}, '2'), ACCOUNT)).toEqual({
      version: undefined,
      attributes: {},
    });
    expect(await store.getRecord('account', 'a')).toMatchObject({ deleted: true, version: '3' });
    expect(await source.countRows(ACCOUNT)).toBe(0);
    await expect(source.writeChange(write('update', { name: 'gone' }), ACCOUNT)).rejects.toMatchObject({
      code: 'NotFound',
    });
    // Created again over its tombstone, its versions go on from there.
    expect(await source.writeChange(write('create', { name: 'B' }), ACCOUNT)).toMatchObject({ version: '4' });
  });
});
