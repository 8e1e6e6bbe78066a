import { z } from 'zod';
import { AppError } from '../errors';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';

/** Doc kind of the per-entity run leases (id: the entity's logical name). */
const LEASE_KIND = 'replication-lease';

const leaseSchema = z.object({ holder: z.string(), expiresAt: z.iso.datetime() });

/** A held lease: renew it while the run goes on, release it at the end. */
export interface EntityRunLease {
  renew(now: Date): Promise<void>;
  release(): Promise<void>;
}

const isRace = (error: unknown): boolean =>
  error instanceof AppError && (error.code === 'Conflict' || error.code === 'PreconditionFailed');

/**
 * Takes the lease that keeps two `syncEntity` runs of one entity from overlapping (SPEC: a tenant
 * never has two overlapping runs of the same entity), in whatever process they run. Optimistic
 * concurrency on one document: `ifNoneMatch` when free, `ifMatch` on an expired lease; of two
 * racing takers one wins. Answers undefined when another holder's lease has not expired. The same
 * holder (a redelivered message) may take its own lease over. A lease lapses after `ttlMs` unless
 * renewed, so a crashed run never blocks the entity for longer than that.
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
    if (current.holder !== holder && new Date(current.expiresAt).getTime() > now.getTime()) return undefined;
  }
  let etag: string;
  try {
    const value = { holder, expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
    etag = (await store.putDoc(LEASE_KIND, entity, value, unchangedSince(existing?.etag))).etag;
  } catch (error) {
    if (isRace(error)) return undefined;
    throw error;
  }
  return {
    async renew(at: Date) {
      try {
        const value = { holder, expiresAt: new Date(at.getTime() + ttlMs).toISOString() };
        etag = (await store.putDoc(LEASE_KIND, entity, value, { ifMatch: etag })).etag;
      } catch (error) {
        if (!isRace(error)) throw error;
        throw new AppError('Conflict', `The replication run of '${entity}' lost its lease to another run.`, {
          cause: error,
        });
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
