import type { AppServices } from '../app-services';
import { AppError } from '../errors';
import type { DeliveryInfo } from '../queue/port';
import type { ReplicationMessage } from './messages';

/**
 * Backpressure of the replication queue (issue 14). Two things put a message back on the queue,
 * scheduled for later, and complete the delivery in hand, instead of throwing:
 *
 * - **Throttling.** A handler that meets a 429 (Cosmos DB after the SDK's own retries, or the source
 *   after the Web API client's: both arrive as `Throttled` with the Retry-After) would otherwise be
 *   redelivered at once by Service Bus, which knows no backoff, and after `maxDeliveryCount`
 *   deliveries the message — a webhook's changes, say — would be dead-lettered and lost. Deferred,
 *   it comes back after Retry-After (growing with each deferral of the same message), as a new
 *   message whose delivery count starts again: throttling never dead-letters anything.
 * - **The tenant's concurrency cap** (`REPLICATION_TENANT_CONCURRENCY`, per process): a message of a
 *   tenant that already has that many in hand here comes back a few seconds later, so one tenant's
 *   burst cannot hold every handler of an instance (16 on the Functions host) nor throttle its
 *   database alone. The cap is per process: across instances the bound is the cap × instances.
 *
 * Re-sending is safe because every message is idempotent (upsert-if-newer; a `syncEntity` re-read
 * from its stored token; its schedule merges duplicate chains).
 */

/** Longest wait between deferrals of one throttled message. */
export const MAX_THROTTLE_DEFERRAL_MS = 5 * 60_000;
/** How long a message waits when its tenant is at its concurrency cap (plus up to as much again). */
export const BUSY_DEFERRAL_MS = 2_000;

/** What deferring a message did. */
export interface Deferral {
  outcome: 'deferred';
  reason: 'throttled' | 'busy';
  /** When the re-sent message is delivered. */
  retryAt: Date;
  /** How often the message has now been deferred. */
  deferrals: number;
}

/** Whether an error is throttling that waiting fixes (a 429, with or without Retry-After). */
export function isThrottling(error: unknown): error is AppError {
  return error instanceof AppError && error.code === 'Throttled';
}

/**
 * The wait before a throttled message's next attempt: at least the Retry-After asked for, and at
 * least 1 s × 2^(deferrals − 1), at most {@link MAX_THROTTLE_DEFERRAL_MS}, plus up to a fifth more
 * (`random`), so messages throttled together do not all come back at the same moment.
 */
export function throttleDelayMs(
  error: AppError,
  deferrals: number,
  random: () => number = Math.random,
): number {
  const asked = (error.retryAfterSeconds ?? 1) * 1000;
  const backoff = Math.min(MAX_THROTTLE_DEFERRAL_MS, 1000 * 2 ** Math.max(0, deferrals - 1));
  const delay = Math.min(MAX_THROTTLE_DEFERRAL_MS, Math.max(asked, backoff));
  return Math.round(delay * (1 + random() / 5));
}

/** The message id of a re-sent message: the original's, with the deferral count (unique per re-send). */
export function deferredMessageId(messageId: string, deferrals: number): string {
  return `${messageId.replace(/~deferred-\d+$/, '')}~deferred-${deferrals}`;
}

/**
 * Re-sends `message` to be delivered after `delayMs`, one deferral more, under a new message id
 * (the queue's de-duplication must not take it for the delivery in hand). Throws when the send
 * fails: then the delivery in hand must fail too, so the queue retries it.
 */
export async function deferMessage(
  services: Pick<AppServices, 'queue' | 'clock'>,
  message: ReplicationMessage,
  delivery: DeliveryInfo,
  reason: Deferral['reason'],
  delayMs: number,
): Promise<Deferral> {
  const deferrals = (message.deferred ?? 0) + 1;
  const retryAt = new Date(services.clock.now().getTime() + delayMs);
  await services.queue.send(
    { ...message, deferred: deferrals },
    { scheduleAt: retryAt, messageId: deferredMessageId(delivery.messageId, deferrals) },
  );
  return { outcome: 'deferred', reason, retryAt, deferrals };
}

/** Messages in hand per tenant in this process. */
const inHand = new Map<string, number>();

/** A slot of a tenant's concurrency cap: release it when the message is handled. */
export interface TenantSlot {
  release(): void;
}

/** Takes one of the tenant's `cap` slots in this process, or answers undefined when all are taken. */
export function takeTenantSlot(org: string, cap: number): TenantSlot | undefined {
  const count = inHand.get(org) ?? 0;
  if (count >= cap) return undefined;
  inHand.set(org, count + 1);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const left = (inHand.get(org) ?? 1) - 1;
      if (left <= 0) inHand.delete(org);
      else inHand.set(org, left);
    },
  };
}
