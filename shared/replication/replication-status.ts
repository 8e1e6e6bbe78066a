import { z } from 'zod';
import { AppError } from '../errors';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';

/** Doc kind of replication status in the tenant store: one document per entity (or area). */
const STATUS_KIND = 'replication-status';

/** Status ids that are not entities (entity logical names never contain a hyphen). */
export const METADATA_STATUS_ID = 'metadata-refresh';
export const INVALID_MESSAGE_STATUS_ID = 'invalid-message';

/** The last failure of an entity's replication work. */
export const replicationErrorSchema = z.object({
  at: z.iso.datetime(),
  /** `AppError` code, `PoisonMessage`, or `Error` for anything else. */
  code: z.string(),
  message: z.string(),
  messageId: z.string(),
  deliveryCount: z.number().int(),
  /** Whether this failure dead-lettered the message (no retry follows). */
  deadLettered: z.boolean(),
});
export type ReplicationError = z.infer<typeof replicationErrorSchema>;

/** Replication status of one entity (or of metadata refresh / invalid messages), as stored. */
export const entityReplicationStatusSchema = z.object({
  entity: z.string(),
  lastRunStartedAt: z.iso.datetime().nullable().default(null),
  lastRunFinishedAt: z.iso.datetime().nullable().default(null),
  /** Changes read in the last finished run, and whether it was a full read. */
  lastRunChanges: z.number().int().nullable().default(null),
  lastRunFull: z.boolean().nullable().default(null),
  /** When the next scheduled run is due. */
  nextRunAt: z.iso.datetime().nullable().default(null),
  lastError: replicationErrorSchema.nullable().default(null),
  /** Deliveries that failed (each retried or dead-lettered). */
  failedDeliveries: z.number().int().nonnegative().default(0),
  /** Messages dead-lettered: they need an operator. */
  deadLettered: z.number().int().nonnegative().default(0),
});
export type EntityReplicationStatus = z.infer<typeof entityReplicationStatusSchema>;

/** A tenant's replication status, for the status route and the admin page. */
export interface ReplicationStatus {
  entities: EntityReplicationStatus[];
  deadLettered: number;
  failedDeliveries: number;
  /** The most recent error of any entity. */
  lastError: (ReplicationError & { entity: string }) | null;
}

const MAX_ATTEMPTS = 5;

/**
 * Changes one status document under optimistic concurrency (handlers run in parallel, in several
 * processes), retrying on a concurrent write.
 */
export async function updateReplicationStatus(
  store: DocStore,
  id: string,
  change: (status: EntityReplicationStatus) => EntityReplicationStatus,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const doc = await store.getDoc(STATUS_KIND, id);
    const current = entityReplicationStatusSchema.parse(doc?.value ?? { entity: id });
    try {
      await store.putDoc(STATUS_KIND, id, change(current), unchangedSince(doc?.etag));
      return;
    } catch (error) {
      const race =
        error instanceof AppError && (error.code === 'PreconditionFailed' || error.code === 'Conflict');
      if (!race || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

/** The tenant's replication status: per entity, with dead-letter and failure totals and the last error. */
export async function readReplicationStatus(store: DocStore): Promise<ReplicationStatus> {
  const entities = (await store.listDocs(STATUS_KIND)).map((doc) =>
    entityReplicationStatusSchema.parse(doc.value),
  );
  let lastError: ReplicationStatus['lastError'] = null;
  for (const status of entities) {
    if (status.lastError !== null && (lastError === null || status.lastError.at > lastError.at)) {
      lastError = { ...status.lastError, entity: status.entity };
    }
  }
  return {
    entities,
    deadLettered: entities.reduce((sum, s) => sum + s.deadLettered, 0),
    failedDeliveries: entities.reduce((sum, s) => sum + s.failedDeliveries, 0),
    lastError,
  };
}
