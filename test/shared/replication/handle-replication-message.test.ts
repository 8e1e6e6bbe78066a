import type { DeliveryInfo, QueueHandler } from '../../../shared/queue/port';
import {
  processReplicationMessage,
  readDeltaToken,
  readReplicationStatus,
  recordChangedMessage,
  syncEntityMessage,
  type ReplicationOutcome,
} from '../../../shared/replication';
import { acquireEntityRunLease } from '../../../shared/replication/entity-run-lease';
import type { Store, TenantStore } from '../../../shared/store/port';
import { setTenantState } from '../../../shared/tenants/tenant-registry';
import { createReplicationFixture, ORG, STORE_KINDS, type ReplicationFixture } from './replication-fixture';

/** The fixture's services, with the tenant's store replaced (to inject failures). */
function withTenantStore(fixture: ReplicationFixture, store: TenantStore) {
  const wrapped = Object.create(fixture.store) as Store;
  wrapped.tenant = () => store;
  return { ...fixture.services, store: wrapped };
}

const delivery = (messageId: string, deliveryCount = 1): DeliveryInfo => ({
  messageId,
  deliveryCount,
  enqueuedAt: new Date('2026-03-01T10:00:00.000Z'),
});

describe.each(STORE_KINDS)('handleReplicationMessage (%s store)', (storeKind) => {
  let fixture: ReplicationFixture;
  let store: TenantStore;
  let outcomes: ReplicationOutcome[];
  let handler: QueueHandler;

  async function setUp(options: Parameters<typeof createReplicationFixture>[0] = {}): Promise<void> {
    fixture = await createReplicationFixture({ storeKind, ...options });
    store = fixture.store.tenant(ORG);
    outcomes = [];
    handler = async (body, info) =>
      void outcomes.push(await processReplicationMessage(fixture.services, body, info));
  }

  afterEach(() => fixture.close());

  async function liveRows(): Promise<Record<string, unknown>> {
    const rows = await store.scanRecords('account', { limit: 100 });
    return Object.fromEntries(rows.map((r) => [r.id, { version: r.version, ...r.attributes }]));
  }

  describe('recordChanged', () => {
    beforeEach(() => setUp());

    const change = (id: string, version: string, name: string) =>
      recordChangedMessage({
        org: ORG,
        entity: 'account',
        id,
        op: 'upsert',
        attributes: { name },
        version,
        origin: 'ingest',
      });

    it('converges whatever the order, duplication and replay of the messages', async () => {
      await fixture.queue.sendBatch([
        change('a', '2', 'A2'),
        change('a', '1', 'A1'),
        change('a', '2', 'A2'),
        recordChangedMessage({
          org: ORG,
          entity: 'account',
          id: 'b',
          op: 'delete',
          version: '5',
          origin: 'dataverse',
        }),
        change('b', '4', 'late'),
        change('c', '1', 'C1'),
      ]);
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 6, retried: 0, deadLettered: 0 });
      expect(await liveRows()).toEqual({ a: { version: '2', name: 'A2' }, c: { version: '1', name: 'C1' } });
      expect(await store.getRecord('account', 'b')).toMatchObject({ deleted: true, version: '5' });

      // A replay of everything changes nothing.
      const cursor = await store.headCursor();
      await fixture.queue.sendBatch([
        change('a', '1', 'A1'),
        change('c', '1', 'C1'),
        change('b', '4', 'late'),
      ]);
      await fixture.queue.drain(handler);
      expect((await store.readChanges(cursor, 10)).records).toEqual([]);
    });

    it('merges a partial change onto the stored row', async () => {
      await fixture.queue.send(change('a', '1', 'A'));
      await fixture.queue.send(
        recordChangedMessage({
          org: ORG,
          entity: 'account',
          id: 'a',
          op: 'upsert',
          attributes: { revenue: 10 },
          version: '2',
          origin: 'dataverse',
          partial: true,
        }),
      );
      await fixture.queue.drain(handler);
      expect(await liveRows()).toEqual({ a: { version: '2', name: 'A', revenue: 10 } });
    });

    it('dead-letters invalid messages at once with the reason, and shows them in the status', async () => {
      await fixture.queue.send({
        type: 'recordChanged',
        org: ORG,
        entity: 'account',
        id: 'a',
        op: 'upsert',
        origin: 'ingest',
      });
      await fixture.queue.send({
        type: 'recordChanged',
        org: 'nobody',
        entity: 'account',
        id: 'a',
        op: 'delete',
        origin: 'ingest',
      });
      await fixture.queue.send({ type: 'mystery', org: ORG });
      await fixture.queue.send('{not json');
      await fixture.queue.send({ ...change('a', '1', 'x'), entity: 'contact' });
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 0, retried: 0, deadLettered: 5 });

      const dead = fixture.queue.deadLetters();
      expect(dead.map((d) => d.reason)).toEqual(Array(5).fill('PoisonMessage'));
      expect(dead[0]!.description).toMatch(/version: an upsert needs a version/);
      expect(dead[1]!.description).toMatch(/No tenant 'nobody'/);
      expect(dead[2]!.description).toMatch(/Invalid replication message/);
      expect(dead[3]!.description).toMatch(/not JSON/);
      expect(dead[4]!.description).toMatch(/Entity 'contact' is not declared/);

      const status = await readReplicationStatus(store);
      expect(status.deadLettered).toBe(3);
      expect(status.entities.find((e) => e.entity === 'invalid-message')).toMatchObject({ deadLettered: 2 });
      expect(status.entities.find((e) => e.entity === 'contact')).toMatchObject({
        deadLettered: 1,
        lastError: { code: 'PoisonMessage', deadLettered: true },
      });
      expect(await liveRows()).toEqual({});
    });

    it('retries a failing message and dead-letters it after the last attempt, with the error in the status', async () => {
      await fixture.close();
      await setUp({ maxDeliveryCount: 3 });
      const broken = Object.create(store) as TenantStore;
      broken.applyRecordWrites = () => Promise.reject(new Error('disk on fire'));
      const services = withTenantStore(fixture, broken);
      const failing: QueueHandler = async (body, info) =>
        void (await processReplicationMessage(services, body, info));
      await fixture.queue.send(change('a', '1', 'A'), { messageId: 'msg-a' });

      for (let i = 0; i < 4; i++) {
        await fixture.queue.drain(failing);
        fixture.clock.advance(60_000);
      }
      expect(fixture.queue.deadLetters()).toEqual([
        expect.objectContaining({
          messageId: 'msg-a',
          reason: 'MaxDeliveryCountExceeded',
          description: 'disk on fire',
        }),
      ]);
      const status = await readReplicationStatus(store);
      expect(status.entities).toEqual([
        expect.objectContaining({
          entity: 'account',
          failedDeliveries: 3,
          deadLettered: 1,
          lastError: expect.objectContaining({
            code: 'Error',
            message: 'disk on fire',
            deliveryCount: 3,
            deadLettered: true,
          }) as unknown,
        }),
      ]);
    });
  });

  describe('syncEntity', () => {
    beforeEach(() => setUp());

    it('reads in full, then deltas with deletes, stores the token after applying, and schedules the next run', async () => {
      const { source, queue, clock } = fixture;
      source.upsert('a', { name: 'A' });
      source.upsert('b', { name: 'B' });
      source.upsert('c', { name: 'C' });
      await queue.send(syncEntityMessage(ORG, 'account'), { messageId: 'first' });
      await queue.drain(handler);
      expect(outcomes).toEqual([
        expect.objectContaining({ outcome: 'synced', full: true, changes: 3, applied: 3, removed: 0 }),
      ]);
      expect(await liveRows()).toEqual({
        a: { version: '101', name: 'A' },
        b: { version: '102', name: 'B' },
        c: { version: '103', name: 'C' },
      });
      expect(await readDeltaToken(store, 'account')).toBe('103');

      // The next run is scheduled at the tenant's interval (900 s by default), with a deterministic id.
      expect(queue.counts()).toMatchObject({ scheduled: 1, pending: 0 });
      source.upsert('b', { name: 'B2' });
      source.remove('c');
      clock.advance(899_999);
      await queue.drain(handler);
      expect(outcomes).toHaveLength(1);
      clock.advance(1);
      await queue.drain(handler);
      expect(outcomes[1]).toMatchObject({ outcome: 'synced', full: false, changes: 2, applied: 2 });
      expect(await liveRows()).toEqual({
        a: { version: '101', name: 'A' },
        b: { version: '104', name: 'B2' },
      });
      expect(await store.getRecord('account', 'c')).toMatchObject({ deleted: true, version: '104' });
      expect(await readDeltaToken(store, 'account')).toBe('105');

      const status = await readReplicationStatus(store);
      expect(status.entities[0]).toMatchObject({
        entity: 'account',
        lastRunChanges: 2,
        lastRunFull: false,
        lastRunFinishedAt: '2026-03-01T10:15:00.000Z',
        nextRunAt: '2026-03-01T10:30:00.000Z',
        lastError: null,
      });
    });

    it('on a full re-read (expired token) removes the stored rows the source no longer has', async () => {
      const { source, queue, clock } = fixture;
      for (const id of ['a', 'b', 'c', 'd']) source.upsert(id, { name: id });
      await processReplicationMessage(fixture.services, syncEntityMessage(ORG, 'account'), delivery('m1'));
      source.remove('b');
      source.remove('d');
      source.upsert('e', { name: 'e' });
      source.expiredTokens.add((await readDeltaToken(store, 'account'))!);
      clock.advance(1000);
      const outcome = await processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'account'),
        delivery('m2'),
      );
      expect(outcome).toMatchObject({ outcome: 'synced', full: true, removed: 2 });
      expect(Object.keys(await liveRows())).toEqual(['a', 'c', 'e']);
      expect(await store.getRecord('account', 'b')).toMatchObject({ deleted: true });
      expect(queue.counts().scheduled).toBe(1);
    });

    it('converges after a crash halfway through a run: the token moves only once every page is applied', async () => {
      const { source, queue } = fixture;
      for (const id of ['a', 'b', 'c', 'd', 'e']) source.upsert(id, { name: id });
      const crashingStore = Object.create(store) as TenantStore;
      let calls = 0;
      // The second page's write fails once: the first page is stored, the token is not.
      crashingStore.applyRecordWrites = (writes) => {
        calls += 1;
        return calls === 2 ? Promise.reject(new Error('crash')) : store.applyRecordWrites(writes);
      };
      const services = withTenantStore(fixture, crashingStore);
      const crashing: QueueHandler = async (body, info) =>
        void outcomes.push(await processReplicationMessage(services, body, info));
      await queue.send(syncEntityMessage(ORG, 'account'));

      expect(await queue.drain(crashing)).toMatchObject({ retried: 1 });
      expect(Object.keys(await liveRows())).toEqual(['a', 'b']);
      expect(await readDeltaToken(store, 'account')).toBeUndefined();
      expect((await readReplicationStatus(store)).lastError).toMatchObject({
        message: 'crash',
        deadLettered: false,
      });

      fixture.clock.advance(1000);
      expect(await queue.drain(crashing)).toMatchObject({ completed: 1 });
      expect(await liveRows()).toEqual({
        a: { version: '101', name: 'a' },
        b: { version: '102', name: 'b' },
        c: { version: '103', name: 'c' },
        d: { version: '104', name: 'd' },
        e: { version: '105', name: 'e' },
      });
      expect(await readDeltaToken(store, 'account')).toBe('105');
      // The retry did not schedule a second run.
      expect(queue.counts().scheduled).toBe(1);
    });

    it('refuses to overlap a run of the same entity that holds the lease', async () => {
      const { source, clock } = fixture;
      source.upsert('a', { name: 'A' });
      const other = await acquireEntityRunLease(store, 'account', 'another-run', clock.now(), 60_000);
      expect(other).toBeDefined();
      const refused = await processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'account'),
        delivery('m1'),
      );
      expect(refused).toMatchObject({ outcome: 'overlap' });
      expect(source.reads).toBe(0);
      expect(await liveRows()).toEqual({});

      // Once the other run's lease lapses (it crashed), a run may start.
      clock.advance(60_001);
      const ran = await processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'account'),
        delivery('m2'),
      );
      expect(ran).toMatchObject({ outcome: 'synced', applied: 1 });
      // And its lease is released at the end: the next run is not refused.
      await other!.release();
      const again = await processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'account'),
        delivery('m3'),
      );
      expect(again).toMatchObject({ outcome: 'synced' });
    });

    it('keeps one schedule per entity however many messages start runs', async () => {
      const { queue, clock } = fixture;
      await processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'account', 'provisioning-1'),
        delivery('p1'),
      );
      clock.advance(10_000);
      // A second provisioning run and a retried delivery start no second chain.
      await processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'account', 'provisioning-2'),
        delivery('p2'),
      );
      await processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'account', 'provisioning-1'),
        delivery('p1', 2),
      );
      expect(queue.counts().scheduled).toBe(1);

      clock.advance(900_000);
      await queue.drain(handler);
      expect(outcomes).toEqual([expect.objectContaining({ outcome: 'synced' })]);
      expect(queue.counts()).toMatchObject({ scheduled: 1, pending: 0 });
    });

    it('ends the schedule when the tenant is deprovisioned', async () => {
      const { queue, clock, store: controlStore } = fixture;
      await queue.send(syncEntityMessage(ORG, 'account'));
      await queue.drain(handler);
      expect(queue.counts().scheduled).toBe(1);
      await setTenantState(controlStore, clock, ORG, 'deprovisioning');
      clock.advance(900_000);
      await queue.drain(handler);
      expect(outcomes[1]).toMatchObject({ outcome: 'dropped' });
      expect(queue.counts()).toMatchObject({ scheduled: 0, pending: 0, deadLettered: 0 });
    });

    it('skips an entity that is not declared or not offline-enabled, without scheduling it', async () => {
      const outcome = await processReplicationMessage(
        fixture.services,
        syncEntityMessage(ORG, 'contact'),
        delivery('m1'),
      );
      expect(outcome).toMatchObject({ outcome: 'skipped' });
      expect(fixture.queue.counts().scheduled).toBe(0);
    });
  });
});
