import type { DeliveryInfo, QueueHandler } from '../../../shared/queue/port';
import {
  applySourceChanges,
  processReplicationMessage,
  readReplicationStatus,
  recordChangedBatchMessages,
  syncEntityMessage,
  type ReplicationChange,
  type ReplicationOutcome,
} from '../../../shared/replication';
import { DEFAULT_MAX_ROW_BYTES } from '../../../shared/replication/apply-source-changes';
import { toStoreError } from '../../../shared/store/cosmos/cosmos-errors';
import type { RecordWrite, Store, TenantStore } from '../../../shared/store/port';
import { createReplicationFixture, ORG, STORE_KINDS, type ReplicationFixture } from './replication-fixture';

/**
 * Rows too large to store (issue 14): a cap checked before the write, and the store's own refusal
 * (Cosmos answers 413 for an item over 2 MB, which the adapter turns into `PayloadTooLarge`). Such a
 * row is skipped with a warning naming it, counted, and never retried: the message completes.
 */

/** What Cosmos DB does: an item whose JSON is over `limit` bytes is refused with 413, as the SDK throws it. */
function refusingLargeItems(store: TenantStore, limit: number): TenantStore {
  const wrapped = Object.create(store) as TenantStore;
  wrapped.applyRecordWrites = async (writes: readonly RecordWrite[]) => {
    const large = writes.find((w) => Buffer.byteLength(JSON.stringify(w.attributes)) > limit);
    if (large !== undefined) {
      // The SDK's ErrorResponse for 413, translated where the adapter meets it.
      const sdkError = Object.assign(new Error('Request size is too large'), { code: 413 });
      throw toStoreError(sdkError, { what: `Writing ${large.entity}/${large.id}` });
    }
    return store.applyRecordWrites(writes);
  };
  return wrapped;
}

const upsert = (id: string, version: string, attributes: Record<string, unknown>): ReplicationChange => ({
  entity: 'account',
  id,
  op: 'upsert',
  attributes,
  version,
});

const delivery = (messageId: string, deliveryCount = 1): DeliveryInfo => ({
  messageId,
  deliveryCount,
  enqueuedAt: new Date('2026-03-01T10:00:00.000Z'),
  maxDeliveryCount: 5,
});

describe.each(STORE_KINDS)('rows too large to store (%s store)', (storeKind) => {
  let fixture: ReplicationFixture;
  let store: TenantStore;

  beforeEach(async () => {
    fixture = await createReplicationFixture({ storeKind });
    store = fixture.store.tenant(ORG);
  });
  afterEach(() => fixture.close());

  it('skips a row over the cap before writing it and writes the rest of its chunk', async () => {
    const summary = await applySourceChanges(
      store,
      [
        upsert('a', '1', { name: 'A' }),
        upsert('big', '2', { body: 'x'.repeat(3000) }),
        // Near the cap but under it: measured exactly, and written.
        upsert('c', '3', { note: 'n'.repeat(2000) }),
      ],
      { maxRowBytes: 2048 },
    );
    expect(summary).toEqual({
      applied: 2,
      stale: 0,
      skipped: 0,
      tooLarge: [{ entity: 'account', id: 'big', version: '2', bytes: 3011, refusedBy: 'cap' }],
    });
    expect(await store.getRecord('account', 'big')).toBeUndefined();
    expect(await store.getRecord('account', 'c')).toMatchObject({ version: '3' });
  });

  it('the default cap leaves room under Cosmos DB 2 MB item limit', () => {
    expect(DEFAULT_MAX_ROW_BYTES).toBeLessThanOrEqual(2 * 1024 * 1024 - 512 * 1024);
  });

  it('skips a row the store refuses as too large (Cosmos 413) and keeps its other writes', async () => {
    const refusing = refusingLargeItems(store, 1000);
    const changes = [
      upsert('a', '1', { name: 'A' }),
      upsert('big', '2', { body: 'y'.repeat(1500) }),
      upsert('c', '3', { name: 'C' }),
    ];
    // Under the cap (2 KiB), over what the "store" takes (1000 bytes).
    const summary = await applySourceChanges(refusing, changes, { maxRowBytes: 2048 });
    expect(summary).toMatchObject({ applied: 2, stale: 0, skipped: 0 });
    expect(summary.tooLarge).toEqual([
      { entity: 'account', id: 'big', version: '2', bytes: 1511, refusedBy: 'store' },
    ]);
    expect((await store.scanRecords('account', { limit: 10 })).map((r) => r.id)).toEqual(['a', 'c']);
    // Applying again is idempotent: the stored rows are stale, the large one is skipped again.
    expect(await applySourceChanges(refusing, changes, { maxRowBytes: 2048 })).toMatchObject({
      applied: 0,
      stale: 2,
      tooLarge: [{ id: 'big' }],
    });
  });

  describe('in the queue handler', () => {
    let outcomes: ReplicationOutcome[];
    let handler: QueueHandler;

    beforeEach(() => {
      outcomes = [];
      // The tenant's store refuses items over 4 KB, as Cosmos refuses those over 2 MB; the cap is 3 KB.
      const wrapped = Object.create(fixture.store) as Store;
      wrapped.tenant = () => refusingLargeItems(store, 4096);
      const services = {
        ...fixture.services,
        store: wrapped,
        settings: { ...fixture.services.settings, REPLICATION_MAX_ROW_BYTES: 3072 },
      };
      handler = async (body, info) =>
        void outcomes.push(await processReplicationMessage(services, body, info));
    });

    it('completes a batch whose row is too large, names the row in the status and never retries it', async () => {
      await fixture.queue.sendBatch(
        recordChangedBatchMessages(ORG, 'ingest', [
          { entity: 'account', id: 'a', op: 'upsert', attributes: { name: 'A' }, version: '1' },
          {
            entity: 'account',
            id: 'huge',
            op: 'upsert',
            attributes: { body: 'z'.repeat(5000) },
            version: '2',
          },
        ]),
      );
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 1, retried: 0, deadLettered: 0 });
      expect(outcomes).toEqual([{ outcome: 'applied', applied: 1, stale: 0, skipped: 0, tooLarge: 1 }]);
      const status = await readReplicationStatus(store);
      expect(status).toMatchObject({
        oversizeRows: 1,
        deadLettered: 0,
        failedDeliveries: 0,
        lastError: null,
      });
      const [account] = status.entities;
      expect(account!.warnings).toEqual([
        {
          at: '2026-03-01T10:00:00.000Z',
          code: 'RowTooLarge',
          id: 'huge',
          message:
            'account/huge (version 2) was not stored: its 5,011 bytes are more than the 3,072 a row may take.',
        },
      ]);
    });

    it('lets a syncEntity run go on past a row too large, and names it', async () => {
      fixture.source.upsert('a', { name: 'A' });
      fixture.source.upsert('big', { body: 'w'.repeat(3500) });
      fixture.source.upsert('c', { name: 'C' });
      await handler(syncEntityMessage(ORG, 'account'), delivery('m1'));
      expect(outcomes[0]).toMatchObject({ outcome: 'synced', changes: 3, full: true, tooLarge: 1 });
      // The row too large was read, so the full read does not take it for deleted at the source.
      expect((await store.scanRecords('account', { limit: 10 })).map((r) => r.id)).toEqual(['a', 'c']);
      const status = await readReplicationStatus(store);
      expect(status.oversizeRows).toBe(1);
      expect(status.entities[0]!.warnings.map((w) => [w.code, w.id])).toEqual([['RowTooLarge', 'big']]);
      expect(status.entities[0]!.lastError).toBeNull();
    });
  });
});

describe('syncEntity reads only the replicated columns', () => {
  let fixture: ReplicationFixture;
  afterEach(() => fixture.close());

  it('passes the metadata without the columns left out, and reads in full again when they change', async () => {
    fixture = await createReplicationFixture();
    fixture.source.upsert('a', { name: 'A', revenue: 10 });
    const run = (excluded: string[], id: string) =>
      processReplicationMessage(
        {
          ...fixture.services,
          settings: { ...fixture.services.settings, REPLICATION_EXCLUDED_COLUMNS: excluded },
        },
        syncEntityMessage(ORG, 'account'),
        delivery(id),
      );
    expect(await run(['account.revenue'], 'm1')).toMatchObject({ outcome: 'synced', full: true });
    const names = (i: number) => fixture.source.readWith[i]!.attributes.map((a) => a.name);
    expect(names(0)).not.toContain('revenue');
    expect(names(0)).toContain('name');

    // Same columns: the delta token goes on.
    expect(await run(['account.revenue'], 'm2')).toMatchObject({ outcome: 'synced', full: false });
    // Other columns: a delta link keeps the $select it was made with, so the read starts over.
    expect(await run([], 'm3')).toMatchObject({ outcome: 'synced', full: true });
    expect(names(2)).toContain('revenue');
  });
});
