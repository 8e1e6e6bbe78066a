import { ingestChanges, MAX_INGEST_CHANGES } from '../../../shared/ingest/ingest-changes';
import { processReplicationMessage, type RecordChangedBatchMessage } from '../../../shared/replication';
import { createReplicationFixture, ORG, type ReplicationFixture } from '../replication/replication-fixture';

describe('ingestChanges', () => {
  let fixture: ReplicationFixture;

  beforeEach(async () => {
    fixture = await createReplicationFixture({ storeKind: 'sqlite' });
  });
  afterEach(() => fixture.close());

  it('queues a full batch as recordChangedBatch messages that the handler applies, in order', async () => {
    const sent: unknown[] = [];
    const queue = {
      send: (body: unknown) => fixture.queue.send(body),
      sendBatch: async (bodies: readonly unknown[]) => {
        sent.push(...bodies);
        await fixture.queue.sendBatch(bodies);
      },
    };
    const changes = Array.from({ length: MAX_INGEST_CHANGES }, (_, i) => ({
      entity: 'account',
      id: `r${i % 600}`,
      op: 'upsert' as const,
      attributes: { name: `v${i}` },
      version: String(i + 1),
    }));
    const tenantStore = fixture.store.tenant(ORG);
    expect(await ingestChanges(tenantStore, queue, ORG, changes)).toEqual({
      accepted: MAX_INGEST_CHANGES,
      queued: MAX_INGEST_CHANGES,
    });
    const batches = sent as RecordChangedBatchMessage[];
    expect(batches.map((m) => [m.type, m.origin, m.changes.length])).toEqual([
      ['recordChangedBatch', 'ingest', 500],
      ['recordChangedBatch', 'ingest', 500],
    ]);

    const outcomes: unknown[] = [];
    const drained = await fixture.queue.drain(async (body, info) => {
      outcomes.push(await processReplicationMessage(fixture.services, body, info));
    });
    expect(drained).toEqual({ completed: 2, retried: 0, deadLettered: 0 });
    expect(outcomes).toEqual([
      { outcome: 'applied', applied: 500, stale: 0, skipped: 0 },
      { outcome: 'applied', applied: 500, stale: 0, skipped: 0 },
    ]);
    // Rows r0–r399 were changed twice: the later change (higher version) is what is stored.
    expect(await tenantStore.getRecord('account', 'r0')).toMatchObject({
      version: '601',
      attributes: { name: 'v600' },
    });
    expect(await tenantStore.getRecord('account', 'r599')).toMatchObject({ version: '600' });
    expect(await tenantStore.countRecords('account')).toBe(600);
  });

  it('queues nothing when a change names an undeclared entity', async () => {
    await expect(
      ingestChanges(fixture.store.tenant(ORG), fixture.queue, ORG, [
        { entity: 'account', id: 'a', op: 'upsert', attributes: {}, version: '1' },
        { entity: 'contact', id: 'b', op: 'delete', attributes: {} },
      ]),
    ).rejects.toMatchObject({ code: 'Unprocessable' });
    expect(fixture.queue.counts().pending).toBe(0);
  });
});
