import { z } from 'zod';
import { AppError } from '../errors';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';

/** Doc kind of the per-entity run leases (id: the entity's logical name). */
const LEASE_KIND = 'replication-lease';

const leaseSchema = z.object({ holder: z.string(), expiresAt: z.iso.datetime() });

/** A held lease: renew it while the run goes on, release it at the end. */
export interface EntityRunLease {
  /**
   * Extends the lease `ttlMs` from `now`. Answers false when the lease lapsed and another run took
   * it: this run must stop at once, before it applies anything more.
   */
  renew(now: Date): Promise<boolean>;
  release(): Promise<void>;
  /** When the lease lapses unless renewed. */
  readonly expiresAt: Date;
}

const isRace = (error: unknown): boolean =>
  error instanceof AppError && (error.code === 'Conflict' || error.code === 'PreconditionFailed');

/**
 * Takes the lease that keeps two `syncEntity` runs of one entity from overlapping (SPEC: a tenant
 * never has two overlapping runs of the same entity), in whatever process they run. Optimistic
 * concurrency on one document: `ifNoneMatch` when free, `ifMatch` on an expired lease; of two
 * racing takers one wins. Answers undefined while any holder's lease has not expired. The lease
 * belongs to the run, not to its message: `holder` is unique per attempt, so a redelivery of a message
 * whose first delivery still runs (its lock was lost) never runs beside it. A lease lapses after
 * `ttlMs` unless renewed, so a crashed run never blocks the entity for longer than that; a holder that
 * comes back after its lease was taken finds out at its next renewal.
 */
export async function acquireEntityRunLease(
  store: DocStore,
  entity: string,
  holder: string,
  now: Date,
  ttlMs: number,
): Promise<EntityRunLease | undefined> {
  const existing = await store.getDoc(LEASE_KIND, entity);
  if (existing !== undefined) {
    const current = leaseSchema.parse(existing.value);
    if (new Date(current.expiresAt).getTime() > now.getTime()) return undefined;
  }
  let etag: string;
  let expiresAt = new Date(now.getTime() + ttlMs);
  try {
    const value = { holder, expiresAt: expiresAt.toISOString() };
    etag = (await store.putDoc(LEASE_KIND, entity, value, unchangedSince(existing?.etag))).etag;
  } catch (error) {
    if (isRace(error)) return undefined;
    throw error;
  }
  return {
    get expiresAt() {
      return expiresAt;
    },
    async renew(at: Date) {
      // Lapsed: whoever comes next may take it, so this run must not go on even if nobody has yet.
      if (at.getTime() >= expiresAt.getTime()) return false;
      try {
        const next = new Date(at.getTime() + ttlMs);
        etag = (
          await store.putDoc(LEASE_KIND, entity, { holder, expiresAt: next.toISOString() }, { ifMatch: etag })
        ).etag;
        expiresAt = next;
        return true;
      } catch (error) {
        if (!isRace(error)) throw error;
        return false;
      }
    },
    async release() {
      try {
        await store.deleteDoc(LEASE_KIND, entity, { ifMatch: etag });
      } catch (error) {
        // Taken over after it lapsed: the lease is the other run's now, not ours to delete.
        if (!isRace(error)) throw error;
      }
    },
  };
}
