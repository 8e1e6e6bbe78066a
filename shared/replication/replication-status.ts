import { z } from 'zod';
import type { TooLargeRow } from './apply-source-changes';
import type { DocStore } from '../store/port';
import { retryOnWriteRace, unchangedSince } from '../store/port';
import { errorFields, logLine } from '../telemetry/log';

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

/** Most warnings one status document keeps (newest last). */
export const MAX_STATUS_WARNINGS = 20;

/** Something replication could not do for one row, though the run went on (a row too large to store). */
export const replicationWarningSchema = z.object({
  at: z.iso.datetime(),
  /** `RowTooLarge`: the row was not stored (see {@link recordTooLargeRows}). */
  code: z.string(),
  message: z.string(),
  /** The row it is about. */
  id: z.string(),
});
export type ReplicationWarning = z.infer<typeof replicationWarningSchema>;

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
  /** Messages put back on the queue for later because Cosmos DB or the source was throttling. */
  throttledDeferrals: z.number().int().nonnegative().default(0),
  /** The last such deferral, and when its message comes back. */
  lastThrottledAt: z.iso.datetime().nullable().default(null),
  throttledUntil: z.iso.datetime().nullable().default(null),
  /** Row versions not stored because the row was too large (each named in `warnings`). */
  oversizeRows: z.number().int().nonnegative().default(0),
  /** The newest warnings, at most {@link MAX_STATUS_WARNINGS}. */
  warnings: z.array(replicationWarningSchema).default([]),
});
export type EntityReplicationStatus = z.infer<typeof entityReplicationStatusSchema>;

/** A tenant's replication status, for the status route and the admin page. */
export interface ReplicationStatus {
  entities: EntityReplicationStatus[];
  deadLettered: number;
  failedDeliveries: number;
  /** Row versions of any entity not stored because they were too large. */
  oversizeRows: number;
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
  await retryOnWriteRace(MAX_ATTEMPTS, async () => {
    const doc = await store.getDoc(STATUS_KIND, id);
    const current = entityReplicationStatusSchema.parse(doc?.value ?? { entity: id });
    await store.putDoc(STATUS_KIND, id, change(current), unchangedSince(doc?.etag));
  });
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
    oversizeRows: entities.reduce((sum, s) => sum + s.oversizeRows, 0),
    lastError,
  };
}

/**
 * Records rows that were not stored because they are too large: counted in their entity's status and
 * each named in a warning (entity, id, size, and what refused it). The row's earlier stored version
 * stays; its next change is tried again like any other, so a row that shrinks is stored then.
 * A failure to record is reported, not thrown: the rows were already skipped either way.
 */
export async function recordTooLargeRows(
  store: DocStore,
  rows: readonly TooLargeRow[],
  at: Date,
  maxRowBytes: number,
): Promise<void> {
  const byEntity = new Map<string, TooLargeRow[]>();
  for (const row of rows) byEntity.set(row.entity, [...(byEntity.get(row.entity) ?? []), row]);
  for (const [entity, skipped] of byEntity) {
    const warnings = skipped.map((row): ReplicationWarning => ({
      at: at.toISOString(),
      code: 'RowTooLarge',
      id: row.id,
      message:
        row.refusedBy === 'cap'
          ? `${entity}/${row.id} (version ${row.version ?? '?'}) was not stored: its ${row.bytes.toLocaleString('en-US')} bytes are more than the ${maxRowBytes.toLocaleString('en-US')} a row may take.`
          : `${entity}/${row.id} (version ${row.version ?? '?'}, ${row.bytes.toLocaleString('en-US')} bytes) was not stored: the store refused it as too large.`,
    }));
    try {
      await updateReplicationStatus(store, entity, (s) => ({
        ...s,
        oversizeRows: s.oversizeRows + skipped.length,
        warnings: [...s.warnings, ...warnings].slice(-MAX_STATUS_WARNINGS),
      }));
    } catch (error) {
      logLine('error', 'replication.status did not record rows too large', {
        entity,
        rows: skipped.length,
        ...errorFields(error),
      });
    }
  }
}

/**
 * Records that a message was deferred because of throttling (not a failure: nothing is retried or
 * dead-lettered). A failure to record — likely throttled too — is reported, not thrown.
 */
export async function recordThrottling(
  store: DocStore,
  statusId: string,
  at: string,
  until: string,
): Promise<void> {
  try {
    await updateReplicationStatus(store, statusId, (s) => ({
      ...s,
      throttledDeferrals: s.throttledDeferrals + 1,
      lastThrottledAt: at,
      throttledUntil: until,
    }));
  } catch (error) {
    logLine('error', 'replication.status did not record throttling', {
      status: statusId,
      ...errorFields(error),
    });
  }
}
