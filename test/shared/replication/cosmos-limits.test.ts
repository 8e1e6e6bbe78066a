import {
  Item,
  Items,
  type BulkOperationResponse,
  type OperationInput,
  type OperationResponse,
} from '@azure/cosmos';
import type { QueueHandler } from '../../../shared/queue/port';
import {
  processReplicationMessage,
  readReplicationStatus,
  recordChangedBatchMessages,
  type ReplicationOutcome,
} from '../../../shared/replication';
import { createReplicationFixture, ORG, type ReplicationFixture } from './replication-fixture';

/**
 * The Cosmos adapter meeting Cosmos DB's limits (issue 14), on the in-process Cosmos server with the
 * SDK answering as the service does where that server does not: an item over the size limit is
 * refused with 413 (in a bulk request, per operation; as a single write, by the SDK throwing), and
 * while "throttled" every write to the records container answers 429 with a retry-after, as the SDK
 * reports it once its own retries are spent. The replication handler then skips the row with a
 * warning, or re-sends the message with the delay; nothing is dead-lettered.
 */

/** Items over this many bytes of JSON are refused (the service's limit is 2 MB; the test's is small). */
const ITEM_LIMIT = 8 * 1024;

const throttle = { on: false };
const tooLarge = (body: unknown): boolean => Buffer.byteLength(JSON.stringify(body ?? null)) > ITEM_LIMIT;
const isRecords = (items: Items): boolean => items.container.id === 'records';
const sdkError = (code: number, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(code === 413 ? 'Request size is too large' : 'Request rate is large'), {
    code,
    ...extra,
  });

const originalBulk = Items.prototype.bulk;
const originalCreate = Items.prototype.create;
const originalReplace = Item.prototype.replace;

beforeAll(() => {
  jest.spyOn(Items.prototype, 'bulk').mockImplementation(async function (
    this: Items,
    operations: OperationInput[],
    ...rest: unknown[]
  ): Promise<BulkOperationResponse> {
    if (!isRecords(this)) return originalBulk.call(this, operations, ...(rest as []));
    const answer = (responses: OperationResponse[]): BulkOperationResponse =>
      Object.assign(responses, { diagnostics: undefined as never });
    if (throttle.on) {
      return answer(operations.map(() => ({ statusCode: 429, requestCharge: 0 })));
    }
    const refused = operations.map((op) => 'resourceBody' in op && tooLarge(op.resourceBody));
    const sent = operations.filter((_, i) => !refused[i]);
    const answered = sent.length === 0 ? [] : await originalBulk.call(this, sent, ...(rest as []));
    let next = 0;
    return answer(
      operations.map((_, i) => (refused[i] ? { statusCode: 413, requestCharge: 0 } : answered[next++]!)),
    );
  });
  jest.spyOn(Items.prototype, 'create').mockImplementation(function (this: Items, body: unknown, ...rest) {
    if (isRecords(this) && throttle.on) return Promise.reject(sdkError(429, { retryAfterInMs: 2500 }));
    if (isRecords(this) && tooLarge(body)) return Promise.reject(sdkError(413));
    return originalCreate.call(this, body as never, ...rest);
  });
  jest.spyOn(Item.prototype, 'replace').mockImplementation(function (this: Item, body: unknown, ...rest) {
    if (this.container.id === 'records' && throttle.on)
      return Promise.reject(sdkError(429, { retryAfterInMs: 2500 }));
    if (this.container.id === 'records' && tooLarge(body)) return Promise.reject(sdkError(413));
    return originalReplace.call(this, body as never, ...rest);
  });
});
afterAll(() => jest.restoreAllMocks());

describe('the Cosmos adapter at Cosmos DB limits (413, 429)', () => {
  let fixture: ReplicationFixture;
  let outcomes: ReplicationOutcome[];
  let handler: QueueHandler;

  beforeEach(async () => {
    throttle.on = false;
    fixture = await createReplicationFixture({ storeKind: 'cosmos', maxDeliveryCount: 2 });
    outcomes = [];
    handler = async (body, info) =>
      void outcomes.push(await processReplicationMessage(fixture.services, body, info));
  });
  afterEach(() => fixture.close());

  const rows = (names: Record<string, string>) =>
    recordChangedBatchMessages(
      ORG,
      'ingest',
      Object.entries(names).map(([id, name], i) => ({
        entity: 'account',
        id,
        op: 'upsert' as const,
        attributes: { name },
        version: String(i + 1),
      })),
    );

  it('skips the row Cosmos refuses with 413, stores the rest, and names the row in the status', async () => {
    await fixture.queue.sendBatch(rows({ a: 'A', huge: 'h'.repeat(ITEM_LIMIT), c: 'C' }));
    expect(await fixture.queue.drain(handler)).toEqual({ completed: 1, retried: 0, deadLettered: 0 });
    // The adapter wrote a and c in bulk before the single write of the large row failed; written again
    // one by one, they come back stale (upsert-if-newer), so the counts say stale for what had landed.
    expect(outcomes).toEqual([{ outcome: 'applied', applied: 0, stale: 2, skipped: 0, tooLarge: 1 }]);
    const store = fixture.store.tenant(ORG);
    expect((await store.scanRecords('account', { limit: 10 })).map((r) => r.id)).toEqual(['a', 'c']);
    const status = await readReplicationStatus(store);
    expect(status).toMatchObject({ oversizeRows: 1, deadLettered: 0, failedDeliveries: 0 });
    expect(status.entities[0]!.warnings[0]).toMatchObject({
      code: 'RowTooLarge',
      id: 'huge',
      message: expect.stringContaining('the store refused it as too large') as unknown,
    });
  });

  it('re-sends a batch Cosmos throttles with its retry-after, and applies it once the throttling ends', async () => {
    await fixture.queue.sendBatch(rows({ a: 'A', b: 'B' }));
    throttle.on = true;
    // More throttled deliveries than the queue's maxDeliveryCount (2): never dead-lettered.
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await fixture.queue.drain(handler)).toEqual({ completed: 1, retried: 0, deadLettered: 0 });
      expect(outcomes.at(-1)).toMatchObject({ outcome: 'deferred', reason: 'throttled', deferrals: attempt });
      const retryAt = (outcomes.at(-1) as { retryAt: Date }).retryAt.getTime();
      // The 2.5 s retry-after, rounded up to whole seconds: 3 s at least.
      expect(retryAt - fixture.clock.now().getTime()).toBeGreaterThanOrEqual(3000);
      fixture.clock.set(new Date(retryAt));
    }
    throttle.on = false;
    expect(await fixture.queue.drain(handler)).toEqual({ completed: 1, retried: 0, deadLettered: 0 });
    expect(outcomes.at(-1)).toEqual({ outcome: 'applied', applied: 2, stale: 0, skipped: 0 });
    expect(fixture.queue.counts().deadLettered).toBe(0);
    const status = await readReplicationStatus(fixture.store.tenant(ORG));
    expect(status.entities[0]).toMatchObject({ throttledDeferrals: 3, failedDeliveries: 0, lastError: null });
  });
});
