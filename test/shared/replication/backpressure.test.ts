import { AppError } from '../../../shared/errors';
import type { DeliveryInfo, QueueHandler, QueueSender } from '../../../shared/queue/port';
import { wrapServiceBusSender, type ServiceBusSenderLike } from '../../../shared/queue/servicebus';
import {
  processReplicationMessage,
  readReplicationStatus,
  recordChangedBatchMessages,
  syncEntityMessage,
  type ReplicationOutcome,
} from '../../../shared/replication';
import {
  deferredMessageId,
  MAX_THROTTLE_DEFERRAL_MS,
  throttleDelayMs,
} from '../../../shared/replication/backpressure';
import { toStoreError } from '../../../shared/store/cosmos/cosmos-errors';
import type { Store, TenantStore } from '../../../shared/store/port';
import { createReplicationFixture, ORG, type ReplicationFixture } from './replication-fixture';

/**
 * Backpressure (issue 14): a throttled message — Cosmos DB answering 429 after the SDK's retries, or
 * the source answering 429 — is re-sent scheduled at its Retry-After and the delivery completes;
 * nothing is dead-lettered because of throttling. A tenant at its concurrency cap gets its message
 * back a few seconds later.
 */

/** The Cosmos adapter as it fails under throttling: the SDK's 429 after its own retries, translated. */
function throttlingRecordWrites(store: TenantStore, state: { throttled: boolean }): TenantStore {
  const wrapped = Object.create(store) as TenantStore;
  wrapped.applyRecordWrites = (writes) => {
    if (!state.throttled) return store.applyRecordWrites(writes);
    const sdkError = Object.assign(new Error('Request rate is large'), { code: 429, retryAfterInMs: 3000 });
    return Promise.reject(toStoreError(sdkError, { what: 'Writing account rows' }));
  };
  return wrapped;
}

const batch = () =>
  recordChangedBatchMessages(ORG, 'ingest', [
    { entity: 'account', id: 'a', op: 'upsert', attributes: { name: 'A' }, version: '1' },
    { entity: 'account', id: 'b', op: 'upsert', attributes: { name: 'B' }, version: '2' },
  ]);

describe('replication backpressure', () => {
  let fixture: ReplicationFixture;
  let outcomes: ReplicationOutcome[];

  beforeEach(async () => {
    // The embedded queue dead-letters after 3 deliveries: throttling must never get there.
    fixture = await createReplicationFixture({ maxDeliveryCount: 3 });
    outcomes = [];
  });
  afterEach(() => fixture.close());

  function handlerWith(services = fixture.services): QueueHandler {
    return async (body, info) => void outcomes.push(await processReplicationMessage(services, body, info));
  }

  it('re-sends a message Cosmos DB throttles at its Retry-After, completes the delivery, and applies it later', async () => {
    const state = { throttled: true };
    const wrapped = Object.create(fixture.store) as Store;
    wrapped.tenant = () => throttlingRecordWrites(fixture.store.tenant(ORG), state);
    const handler = handlerWith({ ...fixture.services, store: wrapped });
    await fixture.queue.sendBatch(batch());

    // Throttled far more often than the queue's maxDeliveryCount: each time deferred, never dead-lettered.
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 1, retried: 0, deadLettered: 0 });
      const deferral = outcomes.at(-1)!;
      expect(deferral).toMatchObject({ outcome: 'deferred', reason: 'throttled', deferrals: attempt });
      const wait = (deferral as { retryAt: Date }).retryAt.getTime() - fixture.clock.now().getTime();
      waits.push(wait);
      // Not delivered before Retry-After.
      fixture.clock.advance(2900);
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 0, retried: 0, deadLettered: 0 });
      fixture.clock.advance(wait - 2900);
    }
    // At least the 3 s Retry-After, growing once the backoff passes it (1, 2, 4, 8, 16, 32 s), with jitter.
    expect(waits[0]).toBeGreaterThanOrEqual(3000);
    expect(waits[0]).toBeLessThanOrEqual(3600);
    expect(waits[5]).toBeGreaterThanOrEqual(32_000);
    expect(fixture.queue.counts()).toMatchObject({ deadLettered: 0, scheduled: 0, pending: 1 });

    state.throttled = false;
    expect(await fixture.queue.drain(handler)).toEqual({ completed: 1, retried: 0, deadLettered: 0 });
    expect(outcomes.at(-1)).toEqual({ outcome: 'applied', applied: 2, stale: 0, skipped: 0 });
    const status = await readReplicationStatus(fixture.store.tenant(ORG));
    expect(status).toMatchObject({ deadLettered: 0, failedDeliveries: 0, lastError: null });
    expect(status.entities.find((e) => e.entity === 'account')).toMatchObject({ throttledDeferrals: 6 });
  });

  it('defers a syncEntity run the source throttles (429 with Retry-After), keeping the schedule', async () => {
    const throttle = new AppError('Throttled', 'Dataverse: Number of requests exceeded the limit.', {
      retryAfterSeconds: 7,
    });
    let reads = 0;
    const source = fixture.source;
    const throttling = Object.create(source) as typeof source;
    throttling.readChanges = (entity, token) => {
      reads += 1;
      if (reads === 1) {
        return (async function* () {
          await Promise.resolve();
          yield* [];
          throw throttle;
        })();
      }
      return source.readChanges(entity, token);
    };
    source.upsert('a', { name: 'A' });
    const handler = handlerWith({ ...fixture.services, sourceFor: () => throttling });
    await fixture.queue.send(syncEntityMessage(ORG, 'account'), { messageId: 'run-1' });

    expect(await fixture.queue.drain(handler)).toEqual({ completed: 1, retried: 0, deadLettered: 0 });
    expect(outcomes[0]).toMatchObject({ outcome: 'deferred', reason: 'throttled', deferrals: 1 });
    const retryAt = (outcomes[0] as { retryAt: Date }).retryAt.getTime() - fixture.clock.now().getTime();
    expect(retryAt).toBeGreaterThanOrEqual(7000);
    expect(retryAt).toBeLessThanOrEqual(8400);
    const status = await readReplicationStatus(fixture.store.tenant(ORG));
    expect(status.entities.find((e) => e.entity === 'account')).toMatchObject({
      throttledDeferrals: 1,
      failedDeliveries: 0,
      lastError: null,
    });

    fixture.clock.advance(retryAt);
    await fixture.queue.drain(handler, { maxMessages: 1 });
    expect(outcomes[1]).toMatchObject({ outcome: 'synced', changes: 1 });
    expect(await fixture.store.tenant(ORG).getRecord('account', 'a')).toMatchObject({ version: '101' });
  });

  it('gives a tenant at its concurrency cap its message back a few seconds later', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const source = fixture.source;
    const slow = Object.create(source) as typeof source;
    slow.readChanges = (entity, token) =>
      (async function* () {
        await blocked;
        yield* source.readChanges(entity, token);
      })();
    const services = {
      ...fixture.services,
      sourceFor: () => slow,
      settings: { ...fixture.services.settings, REPLICATION_TENANT_CONCURRENCY: 1 },
    };
    const info = (messageId: string): DeliveryInfo => ({
      messageId,
      deliveryCount: 1,
      enqueuedAt: fixture.clock.now(),
    });
    const first = processReplicationMessage(services, syncEntityMessage(ORG, 'account'), info('one'));
    await new Promise((resolve) => setImmediate(resolve));
    const second = await processReplicationMessage(services, batch()[0], info('two'));
    expect(second).toMatchObject({ outcome: 'deferred', reason: 'busy', deferrals: 1 });
    const wait = (second as { retryAt: Date }).retryAt.getTime() - fixture.clock.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(2000);
    expect(wait).toBeLessThanOrEqual(4000);
    release();
    expect(await first).toMatchObject({ outcome: 'synced' });
    // The slot is free again: the re-sent message is handled when it comes back.
    fixture.clock.advance(wait);
    const handled: ReplicationOutcome[] = [];
    await fixture.queue.drain(async (body, delivery) => {
      handled.push(await processReplicationMessage(services, body, delivery));
    });
    expect(handled.filter((o) => o.outcome === 'applied')).toEqual([
      { outcome: 'applied', applied: 2, stale: 0, skipped: 0 },
    ]);
  });

  it('fails the delivery as before when the queue cannot take the deferred message back', async () => {
    const refusing: QueueSender = {
      send: () => Promise.reject(new AppError('Unavailable', 'Service Bus is down.')),
      sendBatch: () => Promise.reject(new AppError('Unavailable', 'Service Bus is down.')),
    };
    const state = { throttled: true };
    const wrapped = Object.create(fixture.store) as Store;
    wrapped.tenant = () => throttlingRecordWrites(fixture.store.tenant(ORG), state);
    const services = { ...fixture.services, store: wrapped, queue: refusing };
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(
        processReplicationMessage(services, batch()[0], {
          messageId: 'm',
          deliveryCount: 1,
          enqueuedAt: fixture.clock.now(),
        }),
      ).rejects.toMatchObject({ code: 'Throttled' });
    } finally {
      errors.mockRestore();
    }
  });

  it('sends a deferral through Service Bus as a scheduled message with its own id', async () => {
    const scheduled: { body: unknown; messageId: unknown; at: Date }[] = [];
    const fake = {
      scheduleMessages: (message: { body: unknown; messageId?: unknown }, at: Date) => {
        scheduled.push({ body: message.body, messageId: message.messageId, at });
        return Promise.resolve([1n]);
      },
      sendMessages: () => Promise.reject(new Error('not scheduled')),
      createMessageBatch: () => Promise.reject(new Error('not used')),
      close: () => Promise.resolve(),
    } as unknown as ServiceBusSenderLike;
    const queue = wrapServiceBusSender(fake, 'replication');
    const state = { throttled: true };
    const wrapped = Object.create(fixture.store) as Store;
    wrapped.tenant = () => throttlingRecordWrites(fixture.store.tenant(ORG), state);
    const outcome = await processReplicationMessage(
      { ...fixture.services, store: wrapped, queue },
      batch()[0],
      {
        messageId: 'sb-42~deferred-2',
        deliveryCount: 4,
        enqueuedAt: fixture.clock.now(),
      },
    );
    expect(outcome).toMatchObject({ outcome: 'deferred', deferrals: 1 });
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]!.messageId).toBe('sb-42~deferred-1');
    expect(scheduled[0]!.body).toMatchObject({ type: 'recordChangedBatch', deferred: 1 });
    expect(scheduled[0]!.at).toEqual((outcome as { retryAt: Date }).retryAt);
  });

  it('waits at least Retry-After, doubling per deferral up to five minutes, with at most a fifth of jitter', () => {
    const throttled = (seconds?: number) =>
      new AppError('Throttled', 't', seconds === undefined ? {} : { retryAfterSeconds: seconds });
    const none = () => 0;
    expect(throttleDelayMs(throttled(3), 1, none)).toBe(3000);
    expect(throttleDelayMs(throttled(3), 4, none)).toBe(8000);
    expect(throttleDelayMs(throttled(), 1, none)).toBe(1000);
    expect(throttleDelayMs(throttled(1), 30, none)).toBe(MAX_THROTTLE_DEFERRAL_MS);
    expect(throttleDelayMs(throttled(3), 1, () => 1)).toBe(3600);
    expect(deferredMessageId('abc', 1)).toBe('abc~deferred-1');
    expect(deferredMessageId('abc~deferred-1', 2)).toBe('abc~deferred-2');
  });
});
