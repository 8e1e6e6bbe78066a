import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../shared/clock';
import { AppError } from '../../../shared/errors';
import { createEmbeddedQueue, type EmbeddedQueue } from '../../../shared/queue/embedded';
import { PoisonMessageError, type DeliveryInfo, type QueueHandler } from '../../../shared/queue/port';

describe('embedded queue', () => {
  let dataDir: string;
  let clock: ManualClock;
  const opened: EmbeddedQueue[] = [];

  function open(
    options: { maxDeliveryCount?: number; lockMs?: number; onError?: (e: unknown) => void } = {},
  ) {
    const queue = createEmbeddedQueue({ dataDir, clock, retryDelayMs: 1000, ...options });
    opened.push(queue);
    return queue;
  }

  /** A handler that records what it got. */
  function recorder(): { handler: QueueHandler; got: { body: unknown; info: DeliveryInfo }[] } {
    const got: { body: unknown; info: DeliveryInfo }[] = [];
    return { got, handler: async (body, info) => void got.push({ body, info }) };
  }

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'embedded-queue-'));
    clock = new ManualClock('2026-03-01T10:00:00.000Z');
  });

  afterEach(async () => {
    for (const queue of opened.splice(0)) await queue.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers a sent message once, with its delivery count and enqueue time, and completes it', async () => {
    const queue = open();
    await queue.send({ type: 'hello', n: 1 });
    const { handler, got } = recorder();

    expect(await queue.drain(handler)).toEqual({ completed: 1, retried: 0, deadLettered: 0 });
    expect(got).toHaveLength(1);
    expect(got[0]!.body).toEqual({ type: 'hello', n: 1 });
    expect(got[0]!.info.deliveryCount).toBe(1);
    expect(got[0]!.info.maxDeliveryCount).toBe(5);
    expect(got[0]!.info.enqueuedAt.toISOString()).toBe('2026-03-01T10:00:00.000Z');
    expect(await queue.drain(handler)).toEqual({ completed: 0, retried: 0, deadLettered: 0 });
    expect(queue.counts()).toMatchObject({ pending: 0, completed: 1, deadLettered: 0 });
  });

  it('drops a second send with the same message id within the de-duplication window', async () => {
    const queue = createEmbeddedQueue({ dataDir, clock, dedupeWindowMs: 60_000 });
    opened.push(queue);
    await queue.send({ n: 1 }, { messageId: 'same' });
    await queue.send({ n: 2 }, { messageId: 'same' });
    const { handler, got } = recorder();
    await queue.drain(handler);
    // Completed but still remembered: a replayed send is still a duplicate.
    await queue.send({ n: 3 }, { messageId: 'same' });
    await queue.drain(handler);
    expect(got.map((g) => g.body)).toEqual([{ n: 1 }]);

    clock.advance(60_001);
    await queue.send({ n: 4 }, { messageId: 'same' });
    await queue.drain(handler);
    expect(got.map((g) => g.body)).toEqual([{ n: 1 }, { n: 4 }]);
    expect(got[1]!.info.messageId).toBe('same');
  });

  it('delivers a scheduled message only once the clock reaches its time', async () => {
    const queue = open();
    await queue.send({ later: true }, { scheduleAt: new Date('2026-03-01T10:15:00.000Z') });
    await queue.send({ now: true });
    const { handler, got } = recorder();

    await queue.drain(handler);
    expect(got.map((g) => g.body)).toEqual([{ now: true }]);
    expect(queue.counts()).toMatchObject({ scheduled: 1, pending: 0 });

    clock.set('2026-03-01T10:14:59.999Z');
    await queue.drain(handler);
    expect(got).toHaveLength(1);
    clock.set('2026-03-01T10:15:00.000Z');
    await queue.drain(handler);
    expect(got.map((g) => g.body)).toEqual([{ now: true }, { later: true }]);
  });

  it('sends a batch in order', async () => {
    const queue = open();
    await queue.sendBatch([{ i: 1 }, { i: 2 }, { i: 3 }]);
    const { handler, got } = recorder();
    await queue.drain(handler);
    expect(got.map((g) => g.body)).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
  });

  it('refuses a body that is not JSON', async () => {
    const queue = open();
    await expect(queue.send(undefined)).rejects.toMatchObject({ code: 'ValidationFailed' });
  });

  it('retries a failed delivery after a growing backoff, with a higher delivery count', async () => {
    const queue = open();
    await queue.send({ flaky: true });
    const counts: number[] = [];
    const handler: QueueHandler = async (_body, info) => {
      counts.push(info.deliveryCount);
      if (info.deliveryCount < 3) throw new Error('transient');
    };

    expect(await queue.drain(handler)).toEqual({ completed: 0, retried: 1, deadLettered: 0 });
    expect(queue.counts()).toMatchObject({ scheduled: 1 });
    clock.advance(999);
    await queue.drain(handler);
    expect(counts).toEqual([1]);
    clock.advance(1);
    expect(await queue.drain(handler)).toMatchObject({ retried: 1 });
    // Second backoff is twice the first.
    clock.advance(1999);
    await queue.drain(handler);
    expect(counts).toEqual([1, 2]);
    clock.advance(1);
    expect(await queue.drain(handler)).toMatchObject({ completed: 1 });
    expect(counts).toEqual([1, 2, 3]);
  });

  it('waits at least as long as a throttled dependency asks', async () => {
    const queue = open();
    await queue.send({ throttled: true });
    let calls = 0;
    const handler: QueueHandler = async () => {
      calls += 1;
      if (calls === 1) throw new AppError('Throttled', 'slow down', { retryAfterSeconds: 30 });
    };
    await queue.drain(handler);
    clock.advance(29_999);
    await queue.drain(handler);
    expect(calls).toBe(1);
    clock.advance(1);
    await queue.drain(handler);
    expect(calls).toBe(2);
  });

  it('dead-letters a message after the maximum number of failed deliveries, with the reason', async () => {
    const queue = open({ maxDeliveryCount: 3 });
    await queue.send({ doomed: true }, { messageId: 'm-1' });
    let calls = 0;
    const handler: QueueHandler = async () => {
      calls += 1;
      throw new Error(`boom ${calls}`);
    };
    for (let i = 0; i < 5; i++) {
      await queue.drain(handler);
      clock.advance(10 * 60_000);
    }
    expect(calls).toBe(3);
    const [dead, ...rest] = queue.deadLetters();
    expect(rest).toEqual([]);
    expect(dead).toMatchObject({
      messageId: 'm-1',
      body: { doomed: true },
      reason: 'MaxDeliveryCountExceeded',
      description: 'boom 3',
      deliveryCount: 3,
    });
    expect(queue.counts()).toMatchObject({ deadLettered: 1, pending: 0, scheduled: 0 });
  });

  it('dead-letters a poison message at once', async () => {
    const queue = open();
    await queue.send({ bad: true });
    let calls = 0;
    const result = await queue.drain(async () => {
      calls += 1;
      throw new PoisonMessageError('invalid message: type is missing');
    });
    expect(result).toEqual({ completed: 0, retried: 0, deadLettered: 1 });
    expect(calls).toBe(1);
    expect(queue.deadLetters()).toEqual([
      expect.objectContaining({
        reason: 'PoisonMessage',
        description: 'invalid message: type is missing',
        deliveryCount: 1,
      }),
    ]);
  });

  it('survives a restart: messages persist, and a message leased by a crashed process is delivered again once its lock expires', async () => {
    const errors: unknown[] = [];
    const crashed = open({ lockMs: 30_000, onError: (e) => errors.push(e) });
    await crashed.send({ work: 1 });
    await crashed.send({ work: 2 }, { scheduleAt: new Date('2026-03-01T11:00:00.000Z') });

    // The first process takes the message and never finishes it (it "crashes").
    let release!: () => void;
    const hang = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const leased = new Promise<void>((resolve) => (started = resolve));
    crashed.start(
      async (body) => {
        expect(body).toEqual({ work: 1 });
        started();
        await hang;
      },
      { pollMs: 5 },
    );
    await leased;

    const restarted = open({ lockMs: 30_000 });
    const { handler, got } = recorder();
    await restarted.drain(handler);
    expect(got).toEqual([]);

    clock.advance(30_000);
    await restarted.drain(handler);
    expect(got.map((g) => [g.body, g.info.deliveryCount])).toEqual([[{ work: 1 }, 2]]);

    // The crashed process's late completion finds its lock gone and reports it, changing nothing.
    release();
    await crashed.stop();
    expect(errors).toEqual([expect.objectContaining({ code: 'Conflict' })]);

    clock.set('2026-03-01T11:00:00.000Z');
    await restarted.drain(handler);
    expect(got.map((g) => g.body)).toEqual([{ work: 1 }, { work: 2 }]);
    expect(restarted.counts()).toMatchObject({ completed: 2, pending: 0, scheduled: 0, locked: 0 });
  });

  it('dead-letters a message whose lock expired on every delivery (a consumer that always crashes)', async () => {
    const queue = open({ maxDeliveryCount: 2, lockMs: 1000 });
    await queue.send({ crashy: true });
    const other = open({ maxDeliveryCount: 2, lockMs: 1000 });
    // Two deliveries that never settle: drains whose handlers never return, abandoned like crashed processes.
    const never = new Promise<void>(() => undefined);
    void queue.drain(() => never);
    clock.advance(1000);
    void other.drain(() => never);
    clock.advance(1000);
    const third = open({ maxDeliveryCount: 2, lockMs: 1000 });
    const { handler, got } = recorder();
    expect(await third.drain(handler)).toEqual({ completed: 0, retried: 0, deadLettered: 0 });
    expect(got).toEqual([]);
    expect(third.deadLetters()).toEqual([
      expect.objectContaining({ reason: 'MaxDeliveryCountExceeded', deliveryCount: 2 }),
    ]);
  });

  it('runs a worker in real time with several handlers at once, and stop waits for those in flight', async () => {
    const queue = open();
    await queue.sendBatch([1, 2, 3, 4, 5, 6].map((i) => ({ i })));
    const done: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let allDone!: () => void;
    const finished = new Promise<void>((resolve) => (allDone = resolve));
    queue.start(
      async (body) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
        done.push((body as { i: number }).i);
        if (done.length === 6) allDone();
      },
      { concurrency: 3, pollMs: 5 },
    );
    await finished;
    await queue.stop();
    expect([...done].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(queue.counts()).toMatchObject({ completed: 6, pending: 0, locked: 0 });

    // After stop, a handler in flight has settled before stop resolves.
    await queue.send({ i: 7 });
    let settledFlag = false;
    let begun!: () => void;
    const began = new Promise<void>((resolve) => (begun = resolve));
    queue.start(
      async () => {
        begun();
        await new Promise((resolve) => setTimeout(resolve, 20));
        settledFlag = true;
      },
      { pollMs: 5 },
    );
    await began;
    await queue.stop();
    expect(settledFlag).toBe(true);
    expect(queue.counts()).toMatchObject({ completed: 7 });
  });

  it('refuses a second worker and work after close', async () => {
    const queue = open();
    queue.start(async () => undefined, { pollMs: 5 });
    expect(() => queue.start(async () => undefined)).toThrow(AppError);
    await queue.close();
    await expect(queue.send({})).rejects.toMatchObject({ code: 'Unavailable' });
  });
});
