import type { DeliveryInfo, QueueHandler } from '../../../shared/queue/port';
import {
  processReplicationMessage,
  readDeltaToken,
  readReplicationStatus,
  recordChangedBatchMessages,
  recordChangedMessage,
  syncEntityMessage,
  type BatchedChange,
  type ReplicationOutcome,
} from '../../../shared/replication';
import { declareEntityMetadata } from '../../../shared/admin/entity-config';
import { acquireEntityRunLease } from '../../../shared/replication/entity-run-lease';
import type { Store, TenantStore } from '../../../shared/store/port';
import { setTenantState } from '../../../shared/tenants/tenant-registry';
import { testEntities } from '../../support/offline-config-fixtures';
import { createReplicationFixture, ORG, STORE_KINDS, type ReplicationFixture } from './replication-fixture';

const CONTACT = testEntities().find((e) => e.logicalName === 'contact')!;

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

    /** A recordChanged upsert without the version every upsert needs. */
    const upsertWithoutVersion = {
      type: 'recordChanged',
      org: ORG,
      entity: 'account',
      id: 'a',
      op: 'upsert',
      origin: 'ingest',
    };

    it('dead-letters invalid messages at once with the reason, and shows them in the status', async () => {
      await fixture.queue.send(upsertWithoutVersion);
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

    it('counts an invalid message once, at its last delivery, where the host retries it (Azure Functions)', async () => {
      const invalid = upsertWithoutVersion;
      const functionsDelivery = (deliveryCount: number): DeliveryInfo => ({
        ...delivery('poison-1', deliveryCount),
        maxDeliveryCount: 3,
        poisonDeadLettersAtOnce: false,
      });
      for (const count of [1, 2]) {
        await expect(
          processReplicationMessage(fixture.services, invalid, functionsDelivery(count)),
        ).rejects.toThrow(/an upsert needs a version/);
      }
      const before = await readReplicationStatus(store);
      expect(before.deadLettered).toBe(0);
      expect(before.entities.find((e) => e.entity === 'invalid-message')).toMatchObject({
        failedDeliveries: 2,
        deadLettered: 0,
        lastError: { code: 'PoisonMessage', deliveryCount: 2, deadLettered: false },
      });
      await expect(
        processReplicationMessage(fixture.services, invalid, functionsDelivery(3)),
      ).rejects.toThrow();
      const after = await readReplicationStatus(store);
      expect(after.deadLettered).toBe(1);
      expect(after.entities.find((e) => e.entity === 'invalid-message')).toMatchObject({
        failedDeliveries: 3,
        deadLettered: 1,
        lastError: { code: 'PoisonMessage', deliveryCount: 3, deadLettered: true },
      });
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

  describe('recordChangedBatch', () => {
    beforeEach(() => setUp());

    const upsert = (id: string, version: string, name: string): BatchedChange => ({
      entity: 'account',
      id,
      op: 'upsert',
      attributes: { name },
      version,
    });
    const batch = (changes: BatchedChange[], origin: 'ingest' | 'dataverse' = 'ingest') => {
      const messages = recordChangedBatchMessages(ORG, origin, changes);
      expect(messages).toHaveLength(1);
      return messages[0]!;
    };

    it('applies a whole batch with one bulk write', async () => {
      const bulk = Object.create(store) as TenantStore;
      const calls: number[] = [];
      bulk.applyRecordWrites = (writes) => {
        calls.push(writes.length);
        return store.applyRecordWrites(writes);
      };
      const services = withTenantStore(fixture, bulk);
      const changes = Array.from({ length: 60 }, (_, i) => upsert(`r${i}`, '1', `R${i}`));
      const outcome = await processReplicationMessage(services, batch(changes), delivery('b1'));
      expect(outcome).toEqual({ outcome: 'applied', applied: 60, stale: 0, skipped: 0 });
      expect(calls).toEqual([60]);
      expect(await store.countRecords('account')).toBe(60);
    });

    it('converges whatever the order, duplication and replay of batches and changes in them', async () => {
      await fixture.queue.sendBatch([
        batch([upsert('a', '2', 'A2'), upsert('a', '1', 'A1'), upsert('c', '1', 'C1')]),
        // The same batch again (a duplicate send), and a late one with older versions.
        batch([upsert('a', '2', 'A2'), upsert('a', '1', 'A1'), upsert('c', '1', 'C1')]),
        batch(
          [
            { entity: 'account', id: 'b', op: 'delete', attributes: {}, version: '5' },
            upsert('b', '4', 'late'),
            upsert('a', '1', 'A1'),
          ],
          'dataverse',
        ),
      ]);
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 3, retried: 0, deadLettered: 0 });
      expect(outcomes).toEqual([
        { outcome: 'applied', applied: 2, stale: 1, skipped: 0 },
        { outcome: 'applied', applied: 0, stale: 3, skipped: 0 },
        { outcome: 'applied', applied: 1, stale: 2, skipped: 0 },
      ]);
      expect(await liveRows()).toEqual({ a: { version: '2', name: 'A2' }, c: { version: '1', name: 'C1' } });
      expect(await store.getRecord('account', 'b')).toMatchObject({ deleted: true, version: '5' });

      // A replay of everything, single messages and batches alike, changes nothing.
      const cursor = await store.headCursor();
      await fixture.queue.sendBatch([
        batch([upsert('c', '1', 'C1'), upsert('b', '4', 'late')]),
        recordChangedMessage({ org: ORG, origin: 'ingest', ...upsert('a', '1', 'A1') }),
      ]);
      await fixture.queue.drain(handler);
      expect((await store.readChanges(cursor, 10)).records).toEqual([]);
    });

    it('gives the same end state as the same changes sent one message each', async () => {
      const changes: BatchedChange[] = [
        upsert('a', '1', 'A1'),
        { entity: 'account', id: 'a', op: 'upsert', attributes: { revenue: 7 }, version: '3', partial: true },
        upsert('b', '2', 'B2'),
        { entity: 'account', id: 'b', op: 'delete', attributes: {} },
        upsert('b', '2', 'B2 again'),
        upsert('c', '4', 'C4'),
        upsert('a', '2', 'A2 late'),
      ];
      await processReplicationMessage(fixture.services, batch(changes), delivery('b1'));
      const batched = await store.scanRecords('account', { limit: 100, includeDeleted: true });

      const single = await createReplicationFixture({ storeKind });
      try {
        for (const [i, c] of changes.entries()) {
          await processReplicationMessage(
            single.services,
            recordChangedMessage({ org: ORG, origin: 'ingest', ...c }),
            delivery(`s${i}`),
          );
        }
        const one = await single.store
          .tenant(ORG)
          .scanRecords('account', { limit: 100, includeDeleted: true });
        const shape = (rows: typeof one) =>
          rows.map(({ id, version, deleted, attributes }) => ({ id, version, deleted, attributes }));
        expect(shape(batched)).toEqual(shape(one));
        expect(shape(batched)).toEqual([
          { id: 'a', version: '3', deleted: false, attributes: { name: 'A1', revenue: 7 } },
          { id: 'b', version: '3', deleted: true, attributes: {} },
          { id: 'c', version: '4', deleted: false, attributes: { name: 'C4' } },
        ]);
      } finally {
        await single.close();
      }
    });

    it('converges after a crash halfway through a batch: the redelivery writes the rest', async () => {
      const crashing = Object.create(store) as TenantStore;
      let crashed = false;
      // The first call writes half of the batch, then the process "dies".
      crashing.applyRecordWrites = async (writes) => {
        if (crashed) return store.applyRecordWrites(writes);
        crashed = true;
        await store.applyRecordWrites(writes.slice(0, Math.floor(writes.length / 2)));
        throw new Error('crash');
      };
      const services = withTenantStore(fixture, crashing);
      const crashingHandler: QueueHandler = async (body, info) =>
        void outcomes.push(await processReplicationMessage(services, body, info));
      const changes = Array.from({ length: 10 }, (_, i) => upsert(`r${i}`, '1', `R${i}`));
      await fixture.queue.send(batch(changes), { messageId: 'batch-1' });

      expect(await fixture.queue.drain(crashingHandler)).toMatchObject({ retried: 1 });
      expect(Object.keys(await liveRows())).toHaveLength(5);
      fixture.clock.advance(1000);
      expect(await fixture.queue.drain(crashingHandler)).toMatchObject({ completed: 1 });
      expect(outcomes).toEqual([{ outcome: 'applied', applied: 5, stale: 5, skipped: 0 }]);
      expect(await liveRows()).toEqual(
        Object.fromEntries(changes.map((c) => [c.id, { version: '1', name: c.attributes.name }])),
      );
      expect((await readReplicationStatus(store)).entities).toEqual([
        expect.objectContaining({ entity: 'account', failedDeliveries: 1, deadLettered: 0 }),
      ]);
    });

    it('applies the declared entities of a batch and dead-letters it naming the undeclared ones', async () => {
      await fixture.queue.send(
        batch([
          upsert('a', '1', 'A1'),
          { entity: 'contact', id: 'x', op: 'upsert', attributes: {}, version: '1' },
          { entity: 'lead', id: 'y', op: 'delete', attributes: {} },
          upsert('b', '1', 'B1'),
        ]),
      );
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 0, retried: 0, deadLettered: 1 });
      expect(await liveRows()).toEqual({ a: { version: '1', name: 'A1' }, b: { version: '1', name: 'B1' } });
      const [dead] = fixture.queue.deadLetters();
      expect(dead).toMatchObject({ reason: 'PoisonMessage' });
      expect(dead!.description).toMatch(/Entities 'contact', 'lead' are not declared.*2 change/);
      const status = await readReplicationStatus(store);
      expect(status.entities.map((e) => [e.entity, e.deadLettered]).sort()).toEqual([
        ['contact', 1],
        ['lead', 1],
      ]);
    });

    it('dead-letters invalid batches at once with the reason', async () => {
      const valid = batch([upsert('a', '1', 'A1')]);
      await fixture.queue.sendBatch([
        { ...valid, changes: [] },
        { ...valid, changes: [{ entity: 'account', id: 'a', op: 'upsert', attributes: {} }] },
        { ...valid, changes: Array.from({ length: 501 }, (_, i) => upsert(`r${i}`, '1', 'x')) },
        { ...valid, secret: 'never' },
      ]);
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 0, retried: 0, deadLettered: 4 });
      const dead = fixture.queue.deadLetters();
      expect(dead.map((d) => d.reason)).toEqual(Array(4).fill('PoisonMessage'));
      expect(dead[1]!.description).toMatch(/changes\.0\.version: an upsert needs a version/);
      expect((await readReplicationStatus(store)).entities).toEqual([
        expect.objectContaining({ entity: 'invalid-message', deadLettered: 4 }),
      ]);
      expect(await liveRows()).toEqual({});
    });

    it('retries a failing batch and dead-letters it after the last attempt, with the error under each entity', async () => {
      await fixture.close();
      await setUp({ maxDeliveryCount: 2 });
      await declareEntityMetadata(store, fixture.clock, CONTACT);
      const broken = Object.create(store) as TenantStore;
      broken.applyRecordWrites = () => Promise.reject(new Error('disk on fire'));
      const services = withTenantStore(fixture, broken);
      const failing: QueueHandler = async (body, info) =>
        void (await processReplicationMessage(services, body, info));
      await fixture.queue.send(
        batch([
          upsert('a', '1', 'A'),
          { entity: 'contact', id: 'c', op: 'upsert', attributes: {}, version: '1' },
        ]),
      );
      for (let i = 0; i < 3; i++) {
        await fixture.queue.drain(failing);
        fixture.clock.advance(60_000);
      }
      expect(fixture.queue.deadLetters()).toEqual([
        expect.objectContaining({ reason: 'MaxDeliveryCountExceeded', description: 'disk on fire' }),
      ]);
      const status = await readReplicationStatus(store);
      expect(status.entities.map((e) => [e.entity, e.failedDeliveries, e.deadLettered]).sort()).toEqual([
        ['account', 2, 1],
        ['contact', 2, 1],
      ]);
    });

    it('refuses a batch for a tenant being deprovisioned (kept in the dead-letter queue)', async () => {
      await setTenantState(fixture.store, fixture.clock, ORG, 'deprovisioning');
      await fixture.queue.send(batch([upsert('a', '1', 'A')]));
      expect(await fixture.queue.drain(handler)).toMatchObject({ deadLettered: 1 });
      expect(fixture.queue.deadLetters()[0]!.description).toMatch(/deprovisioning/);
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
