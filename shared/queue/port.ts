/**
 * The Queue port: at-least-once delivery of replication work. `queue/servicebus` sends with
 * `@azure/service-bus` (Functions' Service Bus trigger receives); `queue/embedded` persists messages
 * in the local data folder and runs a worker with the same handler.
 */

export interface SendOptions {
  /** Deliver no earlier than this time (scheduled messages for recurring work). */
  scheduleAt?: Date;
  /** Service Bus duplicate detection / embedded de-duplication key. */
  messageId?: string;
}

export interface QueueSender {
  send(body: unknown, options?: SendOptions): Promise<void>;
  sendBatch(bodies: readonly unknown[]): Promise<void>;
}

/** What the handler knows of one delivery. */
export interface DeliveryInfo {
  messageId: string;
  /** 1 on the first delivery. */
  deliveryCount: number;
  enqueuedAt: Date;
  /**
   * The delivery after which a throw dead-letters the message, when the host knows it (the
   * embedded queue does; Functions knows it from the queue's settings). Lets the handler tell a
   * last failed attempt from one that will be retried, for the tenant's status.
   */
  maxDeliveryCount?: number;
  /**
   * Whether a {@link PoisonMessageError} dead-letters the message at once (the embedded queue), or
   * whether the host retries it like any failure until `maxDeliveryCount` (Azure Functions: a Node.js
   * function cannot settle its Service Bus message itself). Default: at once.
   */
  poisonDeadLettersAtOnce?: boolean;
}

/**
 * Handles one message. Returning settles it; throwing retries it (dead-lettered after the
 * configured attempts); throwing a {@link PoisonMessageError} dead-letters it at once.
 */
export type QueueHandler = (body: unknown, delivery: DeliveryInfo) => Promise<void>;

/** A message that can never succeed (invalid shape, unknown tenant): dead-letter now, with the reason. */
export class PoisonMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoisonMessageError';
  }
}

/**
 * Whether a delivery that failed with `error` dead-letters its message: it was the last attempt, or
 * the error is poison and this host dead-letters poison at once.
 */
export function deadLettersOnFailure(error: unknown, delivery: DeliveryInfo): boolean {
  const lastDelivery =
    delivery.maxDeliveryCount !== undefined && delivery.deliveryCount >= delivery.maxDeliveryCount;
  return lastDelivery || (error instanceof PoisonMessageError && delivery.poisonDeadLettersAtOnce !== false);
}
