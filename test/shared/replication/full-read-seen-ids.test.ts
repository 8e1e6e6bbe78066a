import {
  IDS_PER_PART,
  openSeenIds,
  saveSeenPage,
  SEEN_IDS_KIND,
} from '../../../shared/replication/full-read-seen-ids';
import { processReplicationMessage, readDeltaToken, syncEntityMessage } from '../../../shared/replication';
import { READ_PROGRESS_KIND } from '../../../shared/replication/delta-token-store';
import type { TenantStore } from '../../../shared/store/port';
import { createReplicationFixture, ORG, type ReplicationFixture } from './replication-fixture';

/**
 * The ids a full read returned, kept a page at a time in documents that fit Cosmos DB's item limit,
 * and merged back in id order by the removal pass, from any position.
 */
describe('full read seen ids', () => {
  let fixture: ReplicationFixture;
  let store: TenantStore;

  beforeEach(async () => {
    fixture = await createReplicationFixture();
    store = fixture.store.tenant(ORG);
  });
  afterEach(() => fixture.close());

  /** `n` ids of 200 characters (the longest an id may be), shuffled the way a source pages them. */
  const longIds = (n: number, tag: string): string[] =>
    Array.from({ length: n }, (_, i) => `${tag}${String((i * 7919) % n).padStart(6, '0')}`.padEnd(200, 'x'));

  it('keeps a large page in parts no document of which passes 256 KB', async () => {
    const ids = longIds(1_234, 'a');
    await saveSeenPage(store, 'account', 'read-1', 1, ids);
    const docs = await store.listDocs(SEEN_IDS_KIND, { prefix: 'account/read-1/' });
    // The page document and three parts of at most 500 ids.
    expect(docs).toHaveLength(1 + Math.ceil(1_234 / IDS_PER_PART));
    for (const doc of docs) expect(Buffer.byteLength(JSON.stringify(doc.value))).toBeLessThan(256 * 1024);
    const merged = await openSeenIds(store, 'account', 'read-1', 1, null);
    expect([...(await merged.through('\uffff'))]).toEqual([...ids].sort());
  });

  it('merges the pages in id order from any saved position, each id once', async () => {
    const pages = [longIds(1_100, 'b'), longIds(30, 'c'), longIds(700, 'a'), []];
    for (const [i, ids] of pages.entries()) await saveSeenPage(store, 'account', 'read-2', i + 1, ids);
    const all = pages.flat().sort();
    for (const start of [null, all[0]!, all[499]!, all[500]!, all[1_200]!, all.at(-1)!]) {
      const merged = await openSeenIds(store, 'account', 'read-2', pages.length, start);
      const expected = start === null ? all : all.filter((id) => id > start);
      const got: string[] = [];
      // Stored pages of 97 rows: each step asks for the ids up to its last row.
      for (let i = 96; i < expected.length + 97; i += 97) {
        const upTo = expected[Math.min(i, expected.length - 1)] ?? '\uffff';
        got.push(...[...(await merged.through(upTo))].sort());
      }
      expect(got).toEqual(expected);
    }
  });

  it('reads pages kept unsorted, as reads saved them before', async () => {
    await store.putDoc(SEEN_IDS_KIND, 'account/read-3/00000001', { ids: ['m', 'c', 'x'] });
    const merged = await openSeenIds(store, 'account', 'read-3', 1, 'c');
    expect([...(await merged.through('n'))]).toEqual(['m']);
    expect([...(await merged.through('z'))]).toEqual(['x']);
  });

  it('refuses to judge rows when a page of ids is missing, and the read starts again', async () => {
    await expect(openSeenIds(store, 'account', 'read-4', 1, null)).rejects.toMatchObject({
      code: 'Internal',
      details: { reason: 'seenIdsMissing' },
    });

    for (const id of ['a', 'b', 'c', 'd', 'e']) fixture.source.upsert(id, { name: id });
    // The read's pages are applied and its removal pass has begun when its ids vanish.
    const first = await processReplicationMessage(
      fixture.services,
      syncEntityMessage(ORG, 'account'),
      { messageId: 'm1', deliveryCount: 1, enqueuedAt: new Date() },
      { maxPages: 3, removalPageRows: 1 },
    );
    expect(first).toMatchObject({ outcome: 'continued', phase: 'removal' });
    for (const doc of await store.listDocEtags(SEEN_IDS_KIND)) await store.deleteDoc(SEEN_IDS_KIND, doc.id);
    await expect(
      processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'account'),
        { messageId: 'm2', deliveryCount: 1, enqueuedAt: new Date() },
        { removalPageRows: 1 },
      ),
    ).rejects.toMatchObject({ code: 'Internal', details: { reason: 'seenIdsMissing' } });
    // Nothing was tombstoned, no token stored, and the read is dropped: the next run reads again.
    expect((await store.scanRecords('account', { limit: 10 })).map((r) => r.id)).toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
    ]);
    expect(await readDeltaToken(store, 'account')).toBeUndefined();
    expect(await store.getDoc(READ_PROGRESS_KIND, 'account')).toBeUndefined();
    const again = await processReplicationMessage(fixture.services, syncEntityMessage(ORG, 'account'), {
      messageId: 'm3',
      deliveryCount: 1,
      enqueuedAt: new Date(),
    });
    expect(again).toMatchObject({ outcome: 'synced', full: true, changes: 5, removed: 0 });
  });
});
