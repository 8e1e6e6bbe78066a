import type { DeliveryInfo, QueueHandler } from '../../../shared/queue/port';
import {
  processReplicationMessage,
  readDeltaToken,
  syncEntityMessage,
  type ReplicationOutcome,
} from '../../../shared/replication';
import { READ_PROGRESS_KIND } from '../../../shared/replication/delta-token-store';
import { continueReadMessage } from '../../../shared/replication/messages';
import type { Store, TenantStore } from '../../../shared/store/port';
import { createReplicationFixture, ORG, STORE_KINDS, type ReplicationFixture } from './replication-fixture';

/**
 * Bounded, resumable replication reads (issue 14): a read longer than one message's budget saves the
 * source's position per page and goes on in a new message; the lease belongs to the run, so a
 * redelivery never runs beside a live holder, and a dead holder's read resumes from its saved page.
 */

const delivery = (messageId: string, deliveryCount = 1): DeliveryInfo => ({
  messageId,
  deliveryCount,
  enqueuedAt: new Date('2026-03-01T10:00:00.000Z'),
});

const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];

describe.each(STORE_KINDS)('resumable syncEntity reads (%s store)', (storeKind) => {
  let fixture: ReplicationFixture;
  let store: TenantStore;
  /** Every row id written by replication, once per write (a page applied twice writes its ids twice). */
  let written: string[];
  let services: ReplicationFixture['services'];

  beforeEach(async () => {
    fixture = await createReplicationFixture({ storeKind });
    store = fixture.store.tenant(ORG);
    written = [];
    const counting = Object.create(store) as TenantStore;
    counting.applyRecordWrites = (writes) => {
      written.push(...writes.map((w) => w.id));
      return store.applyRecordWrites(writes);
    };
    const wrapped = Object.create(fixture.store) as Store;
    wrapped.tenant = () => counting;
    services = { ...fixture.services, store: wrapped };
    for (const id of IDS) fixture.source.upsert(id, { name: id.toUpperCase() });
  });
  afterEach(() => fixture.close());

  async function liveIds(): Promise<string[]> {
    return (await store.scanRecords('account', { limit: 100 })).filter((r) => !r.deleted).map((r) => r.id);
  }

  it('splits a read over messages after N pages, each going on from the page saved before', async () => {
    const outcomes: ReplicationOutcome[] = [];
    const handler: QueueHandler = async (body, info) =>
      void outcomes.push(await processReplicationMessage(services, body, info, { maxPages: 2 }));
    await fixture.queue.send(syncEntityMessage(ORG, 'account'), { messageId: 'first' });
    await fixture.queue.drain(handler);

    // 10 rows, 2 a page: 5 pages, 2 per message.
    expect(outcomes.map((o) => o.outcome)).toEqual(['continued', 'continued', 'synced']);
    expect(outcomes[0]).toMatchObject({ pages: 2, pagesSoFar: 2, changesSoFar: 4 });
    expect(outcomes[2]).toMatchObject({ outcome: 'synced', full: true, changes: 10, applied: 10 });
    expect(fixture.source.resumedAt).toEqual([undefined, 'after:d', 'after:h']);
    expect(written).toEqual(IDS);
    expect(await liveIds()).toEqual(IDS);
    expect(await readDeltaToken(store, 'account')).toBe('110');
    expect(await store.getDoc(READ_PROGRESS_KIND, 'account')).toBeUndefined();
    // The continuations scheduled nothing more: one chain of scheduled runs.
    expect(fixture.queue.counts()).toMatchObject({ scheduled: 1, pending: 0 });
  });

  it('goes on in a new message after T seconds of reading', async () => {
    // Each page takes 50 s: a 120 s budget is used after the third page.
    fixture.source.beforePage = () => fixture.clock.advance(50_000);
    const first = await processReplicationMessage(
      services,
      syncEntityMessage(ORG, 'account'),
      delivery('m1'),
      {
        maxSeconds: 120,
      },
    );
    expect(first).toMatchObject({ outcome: 'continued', pages: 3 });
    expect(fixture.queue.counts()).toMatchObject({ pending: 1 });
  });

  it('removes the rows a full read spread over messages did not return, and no others', async () => {
    await processReplicationMessage(services, syncEntityMessage(ORG, 'account'), delivery('m1'));
    const token = (await readDeltaToken(store, 'account'))!;
    fixture.source.remove('c');
    fixture.source.remove('i');
    fixture.source.expiredTokens.add(token);
    fixture.clock.advance(1000);
    const outcomes: ReplicationOutcome[] = [];
    const handler: QueueHandler = async (body, info) =>
      void outcomes.push(await processReplicationMessage(services, body, info, { maxPages: 1 }));
    await fixture.queue.send(syncEntityMessage(ORG, 'account'), { messageId: 'expired' });
    await fixture.queue.drain(handler);
    expect(outcomes.at(-1)).toMatchObject({ outcome: 'synced', full: true, removed: 2 });
    // 4 pages, one a message; the last page used its message's budget, so the removal pass goes on in
    // a fifth message.
    expect(outcomes.map((o) => (o.outcome === 'continued' ? o.phase : o.outcome))).toEqual([
      'read',
      'read',
      'read',
      'removal',
      'synced',
    ]);
    expect(await liveIds()).toEqual(IDS.filter((id) => id !== 'c' && id !== 'i'));
  });

  it('never runs a redelivery beside a live holder; a dead holder’s read resumes from its saved page, no page applied twice, no row lost', async () => {
    const { source, clock } = fixture;
    const options = { leaseTtlMs: 60_000 };
    // The first run hangs before its third page, past the lock window: its lock is lost, it is redelivered.
    let pages = 0;
    let hung!: () => void;
    let resume!: () => void;
    const reachedHang = new Promise<void>((resolve) => (hung = resolve));
    const held = new Promise<void>((resolve) => (resume = resolve));
    source.beforePage = async () => {
      pages += 1;
      if (pages === 3) {
        hung();
        await held;
      }
    };
    const first = processReplicationMessage(
      services,
      syncEntityMessage(ORG, 'account'),
      delivery('m1'),
      options,
    );
    await reachedHang;
    expect(written).toEqual(['a', 'b', 'c', 'd']);

    // The redelivery of the same message while the holder lives: it does nothing.
    clock.advance(30_000);
    const beside = await processReplicationMessage(
      services,
      syncEntityMessage(ORG, 'account'),
      delivery('m1', 2),
      options,
    );
    expect(beside).toMatchObject({ outcome: 'overlap' });
    expect(source.reads).toBe(1);

    // The holder is dead to the world: once its lease lapses, the next delivery resumes from its saved page.
    clock.advance(31_000);
    const resumed = await processReplicationMessage(
      services,
      syncEntityMessage(ORG, 'account'),
      delivery('m1', 3),
      options,
    );
    expect(resumed).toMatchObject({ outcome: 'synced', full: true, changes: 10, applied: 10, removed: 0 });
    expect(source.resumedAt).toEqual([undefined, 'after:d']);

    // The old holder wakes up with its third page in hand: it has lost its lease and applies nothing.
    resume();
    await expect(first).resolves.toMatchObject({ outcome: 'overlap' });
    expect(written).toEqual(IDS);
    expect(await liveIds()).toEqual(IDS);
    expect(await readDeltaToken(store, 'account')).toBe('110');
    expect(await store.getDoc(READ_PROGRESS_KIND, 'account')).toBeUndefined();
  });

  it('resumes after a failed delivery from the last page saved', async () => {
    let pages = 0;
    source().beforePage = () => {
      pages += 1;
      if (pages === 4) throw new Error('connection reset');
    };
    await expect(
      processReplicationMessage(services, syncEntityMessage(ORG, 'account'), delivery('m1')),
    ).rejects.toThrow('connection reset');
    expect(written).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    const retried = await processReplicationMessage(
      services,
      syncEntityMessage(ORG, 'account'),
      delivery('m1', 2),
    );
    expect(retried).toMatchObject({ outcome: 'synced', changes: 10 });
    expect(source().resumedAt).toEqual([undefined, 'after:f']);
    expect(written).toEqual(IDS);
  });

  it('does nothing for a continuation of a read that has finished', async () => {
    await processReplicationMessage(services, syncEntityMessage(ORG, 'account'), delivery('m1'));
    const late = await processReplicationMessage(
      services,
      continueReadMessage(ORG, 'account', 'read-finished-long-ago'),
      delivery('c1'),
    );
    expect(late).toMatchObject({ outcome: 'skipped' });
    expect(source().reads).toBe(1);
  });

  const source = () => fixture.source;
});
