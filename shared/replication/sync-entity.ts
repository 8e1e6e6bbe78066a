import type { AppServices } from '../app-services';
import { getTenantSettings } from '../admin/settings-store';
import type { Tenant, TenantState } from '../model/tenant';
import type { DeliveryInfo } from '../queue/port';
import type { TenantStore } from '../store/port';
import { applySourceChanges, nextVersion, type ApplySummary } from './apply-source-changes';
import { readDeltaToken, saveDeltaToken } from './delta-token-store';
import { findEntityConfiguration } from './entity-configuration';
import { acquireEntityRunLease } from './entity-run-lease';
import type { SyncEntityMessage } from './messages';
import { columnPolicyOf, columnsFingerprint, replicatedMetadata } from './replicated-columns';
import { recordTooLargeRows, updateReplicationStatus } from './replication-status';
import { scheduleNextSyncRun } from './sync-schedule';

/** Tuning of a `syncEntity` run. */
export interface SyncEntityOptions {
  /** How long a run's lease lasts without renewal (renewed after every page). */
  leaseTtlMs?: number;
  /** Writes per bulk store call. */
  chunkSize?: number;
  /** The per-row byte cap (default: the `REPLICATION_MAX_ROW_BYTES` setting). */
  maxRowBytes?: number;
}

/** What a `syncEntity` message did. */
export type SyncEntityOutcome =
  | ({
      outcome: 'synced';
      /** Changes read from the source. */
      changes: number;
      /** Whether the read was a full read (rows not seen were then removed). */
      full: boolean;
      /** Rows tombstoned because a full read no longer returned them. */
      removed: number;
      nextRunAt: Date | undefined;
      /** Rows read but not stored because they were too large (named in the status); absent when none. */
      tooLarge?: number;
    } & Omit<ApplySummary, 'tooLarge'>)
  /** Another run of the entity holds the lease: this one did nothing (the schedule goes on). */
  | { outcome: 'overlap'; nextRunAt: Date | undefined }
  | { outcome: 'skipped'; reason: string };

/** Tenants whose entities are rescheduled; deprovisioned ones end their schedule (SPEC §8). */
const SCHEDULED_STATES: ReadonlySet<TenantState> = new Set(['provisioning', 'active', 'stopped', 'failed']);

const DEFAULT_LEASE_TTL_MS = 5 * 60_000;
const SCAN_PAGE = 500;

/**
 * One `syncEntity` work item (SPEC §7): schedules the entity's next run, then — unless another run
 * of the entity is in progress — reads the source's changes since the stored delta token, applies
 * them page by page, on a full read tombstones the stored rows the read no longer returned, and
 * stores the new token only after all of that, so a crash anywhere re-reads from the old token
 * (and applying again changes nothing).
 */
export async function runSyncEntity(
  services: AppServices,
  tenant: Tenant,
  message: SyncEntityMessage,
  delivery: DeliveryInfo,
  options: SyncEntityOptions = {},
): Promise<SyncEntityOutcome> {
  const store = services.store.tenant(tenant.org);
  const configuration = await findEntityConfiguration(store, message.entity);
  if (configuration === undefined) {
    return { outcome: 'skipped', reason: `Entity '${message.entity}' is not declared.` };
  }
  if (!configuration.offline.enabled) {
    // Its schedule ends; enabling it again and provisioning (or a manual syncEntity) restarts it.
    return { outcome: 'skipped', reason: `Entity '${message.entity}' is not offline-enabled.` };
  }

  let nextRunAt: Date | undefined;
  if (SCHEDULED_STATES.has(tenant.state)) {
    // Scheduled before the work, so a run that fails (even into the dead-letter queue) keeps the schedule.
    const { syncIntervalSeconds } = await getTenantSettings(store);
    const schedule = await scheduleNextSyncRun(
      services.queue,
      store,
      tenant.org,
      message.entity,
      message.runId,
      services.clock.now(),
      syncIntervalSeconds * 1000,
    );
    nextRunAt = schedule.nextRunAt;
  }

  const ttl = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const lease = await acquireEntityRunLease(
    store,
    message.entity,
    delivery.messageId,
    services.clock.now(),
    ttl,
  );
  if (lease === undefined) return { outcome: 'overlap', nextRunAt };

  try {
    const startedAt = services.clock.now();
    await updateReplicationStatus(store, message.entity, (s) => ({
      ...s,
      lastRunStartedAt: startedAt.toISOString(),
      nextRunAt: nextRunAt?.toISOString() ?? s.nextRunAt,
    }));
    const source = services.sourceFor(tenant);
    // The columns left out (file contents by default) are never read; the token is kept per column set.
    const metadata = replicatedMetadata(configuration.metadata, columnPolicyOf(services.settings));
    const columns = columnsFingerprint(metadata);
    const token = await readDeltaToken(store, message.entity, columns);
    const totals: Omit<ApplySummary, 'tooLarge'> = { applied: 0, stale: 0, skipped: 0 };
    const maxRowBytes = options.maxRowBytes ?? services.settings.REPLICATION_MAX_ROW_BYTES;
    let tooLarge = 0;
    const seen = new Set<string>();
    let full = false;
    let changes = 0;
    let nextToken: string | undefined;
    for await (const page of source.readChanges(metadata, token)) {
      if (page.full) {
        full = true;
        for (const change of page.changes) seen.add(change.id);
      }
      const summary = await applySourceChanges(store, page.changes, { ...options, maxRowBytes });
      totals.applied += summary.applied;
      totals.stale += summary.stale;
      totals.skipped += summary.skipped;
      if (summary.tooLarge !== undefined) {
        // Skipped, never retried: the run goes on, and the status names each row.
        tooLarge += summary.tooLarge.length;
        await recordTooLargeRows(store, summary.tooLarge, services.clock.now(), maxRowBytes);
      }
      changes += page.changes.length;
      if (page.deltaToken !== undefined) nextToken = page.deltaToken;
      await lease.renew(services.clock.now());
    }
    const removed = full ? await tombstoneRowsNotSeen(store, message.entity, seen, startedAt) : 0;
    if (nextToken !== undefined && nextToken !== token)
      await saveDeltaToken(store, message.entity, nextToken, columns);

    await updateReplicationStatus(store, message.entity, (s) => ({
      ...s,
      lastRunFinishedAt: services.clock.now().toISOString(),
      lastRunChanges: changes,
      lastRunFull: full,
    }));
    return {
      outcome: 'synced',
      changes,
      full,
      removed,
      nextRunAt,
      ...totals,
      ...(tooLarge === 0 ? {} : { tooLarge }),
    };
  } finally {
    await lease.release();
  }
}

/**
 * After a full read: every stored live row of the entity that the read did not return is deleted at
 * the source, so it becomes a tombstone (stored version + 1, compare-and-set so a concurrent write
 * wins). Rows written since the run started came from elsewhere (a webhook, an upload) after the
 * read's snapshot began, so they stay.
 */
async function tombstoneRowsNotSeen(
  store: TenantStore,
  entity: string,
  seen: ReadonlySet<string>,
  startedAt: Date,
): Promise<number> {
  let removed = 0;
  let afterId: string | undefined;
  for (;;) {
    const rows = await store.scanRecords(entity, {
      ...(afterId === undefined ? {} : { afterId }),
      limit: SCAN_PAGE,
    });
    const gone = rows.filter((row) => !seen.has(row.id) && new Date(row.updatedAt) < startedAt);
    if (gone.length > 0) {
      const results = await store.applyRecordWrites(
        gone.map((row) => ({
          entity,
          id: row.id,
          version: nextVersion(row.version),
          deleted: true,
          attributes: {},
          expectedVersion: row.version,
        })),
      );
      removed += results.filter((r) => r.outcome === 'applied').length;
    }
    if (rows.length < SCAN_PAGE) return removed;
    afterId = rows[rows.length - 1]!.id;
  }
}
