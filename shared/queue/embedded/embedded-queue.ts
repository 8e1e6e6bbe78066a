import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../clock';
import { AppError, isAppError } from '../../errors';
import { PoisonMessageError, type QueueHandler, type QueueSender, type SendOptions } from '../port';
import {
  QueueDatabase,
  type DeadLetter,
  type LeasedMessage,
  type NewMessage,
  type QueueCounts,
} from './queue-database';

/** Where the embedded queue keeps its file, and how it retries. */
export interface EmbeddedQueueOptions {
  /** The data folder: the queue lives in `<dataDir>/queue.db`. */
  dataDir: string;
  /** Decides when messages are due (scheduled time, lock expiry, retry backoff). */
  clock?: Clock;
  /** A message whose delivery number this many throws (or whose lock expires this often) is dead-lettered. */
  maxDeliveryCount?: number;
  /** How long a delivered message stays invisible to other consumers before it is delivered again. */
  lockMs?: number;
  /** First retry delay; doubled on each further failure, up to {@link EmbeddedQueueOptions.maxRetryDelayMs}. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How long a message id keeps de-duplicating sends after the first one (Service Bus's window). */
  dedupeWindowMs?: number;
  /** Where failures of the worker itself go (a failed lease, a lost lock); never swallowed. */
  onError?: (error: unknown) => void;
}

/** How the worker consumes. */
export interface WorkerOptions {
  /** Messages handled at once. */
  concurrency?: number;
  /** Real-time wait between polls when nothing is due. */
  pollMs?: number;
}

/** What one {@link EmbeddedQueue.drain} did. */
export interface DrainResult {
  completed: number;
  /** Deliveries that threw and were made visible again after a backoff. */
  retried: number;
  deadLettered: number;
}

/**
 * The embedded adapter of the Queue port: a sender and a worker over one SQLite file, for the local
 * host. At-least-once: a message is completed only after its handler returns; if the process dies
 * mid-handler, the lock expires and the message is delivered again (with a higher delivery count).
 */
export interface EmbeddedQueue extends QueueSender {
  /** Starts consuming with `handler` until {@link EmbeddedQueue.stop}. */
  start(handler: QueueHandler, options?: WorkerOptions): void;
  /** Stops polling and waits for the handlers in flight to settle. */
  stop(): Promise<void>;
  /** Handles due messages one at a time until none is due (by the clock); for tests and tools. */
  drain(handler: QueueHandler, options?: { maxMessages?: number }): Promise<DrainResult>;
  /** The dead-lettered messages, oldest first. */
  deadLetters(options?: { limit?: number }): DeadLetter[];
  counts(): QueueCounts;
  /** Stops the worker and closes the file. */
  close(): Promise<void>;
}

const DEFAULTS = {
  maxDeliveryCount: 5,
  lockMs: 30_000,
  retryDelayMs: 1_000,
  maxRetryDelayMs: 5 * 60_000,
  dedupeWindowMs: 24 * 60 * 60_000,
};

/** How often (real time) the worker forgets completed messages past the de-duplication window. */
const PURGE_EVERY_MS = 60_000;

/** Creates (or reopens) the embedded queue in `<dataDir>/queue.db`; messages survive restarts. */
export function createEmbeddedQueue(options: EmbeddedQueueOptions): EmbeddedQueue {
  const clock = options.clock ?? systemClock;
  const maxDeliveryCount = options.maxDeliveryCount ?? DEFAULTS.maxDeliveryCount;
  const lockMs = options.lockMs ?? DEFAULTS.lockMs;
  const retryDelayMs = options.retryDelayMs ?? DEFAULTS.retryDelayMs;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULTS.maxRetryDelayMs;
  const dedupeWindowMs = options.dedupeWindowMs ?? DEFAULTS.dedupeWindowMs;
  const onError = options.onError ?? ((error: unknown) => console.error('Embedded queue:', error));
  if (!Number.isInteger(maxDeliveryCount) || maxDeliveryCount < 1) {
    throw new AppError('ValidationFailed', 'maxDeliveryCount must be a positive whole number.');
  }

  mkdirSync(options.dataDir, { recursive: true });
  const database = new QueueDatabase(join(options.dataDir, 'queue.db'));
  let closed = false;
  let worker: Worker | undefined;
  let lastPurge = 0;

  function assertOpen(): void {
    if (closed) throw new AppError('Unavailable', 'The embedded queue is closed.');
  }

  function toNewMessage(body: unknown, sendOptions: SendOptions = {}): NewMessage {
    const json = JSON.stringify(body);
    // JSON.stringify(undefined) is undefined: such a body could never be delivered as sent.
    if (json === undefined) throw new AppError('ValidationFailed', 'A queue message body must be JSON.');
    const now = clock.now().getTime();
    return {
      body: json,
      messageId: sendOptions.messageId,
      visibleAt: sendOptions.scheduleAt === undefined ? now : Math.max(now, sendOptions.scheduleAt.getTime()),
    };
  }

  function insert(messages: NewMessage[]): void {
    assertOpen();
    const now = clock.now().getTime();
    database.insert(messages, now, now - dedupeWindowMs);
  }

  function retryDelay(deliveryCount: number, error: unknown): number {
    const backoff = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (deliveryCount - 1));
    // A throttled dependency says how long to wait: never retry sooner.
    const asked =
      isAppError(error) && error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : 0;
    return Math.max(backoff, asked);
  }

  /** Runs the handler on one leased message and settles it; reports what happened. */
  async function deliver(message: LeasedMessage, handler: QueueHandler): Promise<keyof DrainResult> {
    try {
      await handler(message.body, {
        messageId: message.messageId,
        deliveryCount: message.deliveryCount,
        enqueuedAt: message.enqueuedAt,
        maxDeliveryCount,
      });
    } catch (error) {
      const description = error instanceof Error ? error.message : String(error);
      const now = clock.now().getTime();
      if (error instanceof PoisonMessageError) {
        settled(database.deadLetter(message, 'PoisonMessage', description, now), message);
        return 'deadLettered';
      }
      if (message.deliveryCount >= maxDeliveryCount) {
        settled(database.deadLetter(message, 'MaxDeliveryCountExceeded', description, now), message);
        return 'deadLettered';
      }
      settled(
        database.release(message, now + retryDelay(message.deliveryCount, error), description),
        message,
      );
      return 'retried';
    }
    settled(database.complete(message, clock.now().getTime()), message);
    return 'completed';
  }

  /** A lost lock means the handler outlived `lockMs` and the message went to another delivery. */
  function settled(held: boolean, message: LeasedMessage): void {
    if (!held) {
      onError(
        new AppError('Conflict', `The lock of message ${message.messageId} expired before it was settled.`, {
          details: { messageId: message.messageId, deliveryCount: message.deliveryCount },
        }),
      );
    }
  }

  async function stopWorker(): Promise<void> {
    const running = worker;
    worker = undefined;
    await running?.stop();
  }

  function purgeNow(): void {
    const now = clock.now().getTime();
    database.purgeCompleted(now - dedupeWindowMs);
    lastPurge = Date.now();
  }

  class Worker {
    private running = true;
    private timer: NodeJS.Timeout | undefined;
    private readonly inFlight = new Set<Promise<void>>();

    constructor(
      private readonly handler: QueueHandler,
      private readonly concurrency: number,
      private readonly pollMs: number,
    ) {
      this.pump();
    }

    /** Leases as many messages as there are free slots, then waits for a slot or the next poll. */
    private pump(): void {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.running) return;
      try {
        if (Date.now() - lastPurge > PURGE_EVERY_MS) purgeNow();
        const free = this.concurrency - this.inFlight.size;
        const leased = free > 0 ? database.lease(clock.now().getTime(), free, lockMs, maxDeliveryCount) : [];
        for (const message of leased) {
          const task: Promise<void> = deliver(message, this.handler)
            .then(
              () => undefined,
              (error: unknown) => onError(error),
            )
            .finally(() => {
              this.inFlight.delete(task);
              // A slot is free: look for more work at once rather than after a poll.
              if (this.running) setImmediate(() => this.pump());
            });
          this.inFlight.add(task);
        }
      } catch (error) {
        onError(error);
      }
      if (this.running && this.inFlight.size < this.concurrency) {
        this.timer = setTimeout(() => this.pump(), this.pollMs);
      }
    }

    async stop(): Promise<void> {
      this.running = false;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      await Promise.all([...this.inFlight]);
    }
  }

  return {
    async send(body, sendOptions) {
      insert([toNewMessage(body, sendOptions)]);
    },

    async sendBatch(bodies) {
      insert(bodies.map((body) => toNewMessage(body)));
    },

    start(handler, workerOptions = {}) {
      assertOpen();
      if (worker !== undefined)
        throw new AppError('Conflict', 'The embedded queue worker is already running.');
      const concurrency = workerOptions.concurrency ?? 1;
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new AppError('ValidationFailed', 'Worker concurrency must be a positive whole number.');
      }
      worker = new Worker(handler, concurrency, workerOptions.pollMs ?? 250);
    },

    stop: stopWorker,

    async drain(handler, drainOptions = {}) {
      assertOpen();
      const result: DrainResult = { completed: 0, retried: 0, deadLettered: 0 };
      const maxMessages = drainOptions.maxMessages ?? 10_000;
      purgeNow();
      for (let handled = 0; handled < maxMessages; handled++) {
        const [message] = database.lease(clock.now().getTime(), 1, lockMs, maxDeliveryCount);
        if (message === undefined) break;
        result[await deliver(message, handler)] += 1;
      }
      return result;
    },

    deadLetters(listOptions = {}) {
      assertOpen();
      return database.deadLetters(listOptions.limit ?? 100);
    },

    counts() {
      assertOpen();
      return database.counts(clock.now().getTime());
    },

    async close() {
      if (closed) return;
      await stopWorker();
      closed = true;
      database.close();
    },
  };
}
