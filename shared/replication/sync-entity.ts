import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AppServices } from '../app-services';
import { getTenantSettings } from '../admin/settings-store';
import type { Tenant, TenantState } from '../model/tenant';
import type { DeliveryInfo } from '../queue/port';
import type { TenantStore } from '../store/port';
import { applySourceChanges, nextVersion, type ApplySummary } from './apply-source-changes';
import {
  clearSavedRead,
  readDeltaToken,
  readSavedRead,
  readSeenIds,
  saveDeltaToken,
  saveReadProgress,
  type ReadProgress,
} from './delta-token-store';
import { findEntityConfiguration } from './entity-configuration';
import { acquireEntityRunLease } from './entity-run-lease';
import { continueReadMessage, type SyncEntityMessage } from './messages';
import { columnPolicyOf, columnsFingerprint, replicatedMetadata } from './replicated-columns';
import { recordTooLargeRows, updateReplicationStatus } from './replication-status';
import { scheduleNextSyncRun } from './sync-schedule';

/** Tuning of a `syncEntity` run. */
export interface SyncEntityOptions {
  /** How long a run's lease lasts without renewal (renewed before every page is applied). */
  leaseTtlMs?: number;
  /** Writes per bulk store call. */
  chunkSize?: number;
  /** The per-row byte cap (default: the `REPLICATION_MAX_ROW_BYTES` setting). */
  maxRowBytes?: number;
  /** Most pages one message reads (default: the `REPLICATION_READ_MAX_PAGES` setting). */
  maxPages?: number;
  /** Most seconds one message reads (default: the `REPLICATION_READ_MAX_SECONDS` setting). */
  maxSeconds?: number;
}

/** What a `syncEntity` message did. */
export type SyncEntityOutcome =
  | ({
      outcome: 'synced';
      /** Changes read from the source (by every message of the read). */
      changes: number;
      /** Whether the read was a full read (rows not seen were then removed). */
      full: boolean;
      /** Rows tombstoned because a full read no longer returned them. */
      removed: number;
      nextRunAt: Date | undefined;
      /** Rows read but not stored because they were too large (named in the status); absent when none. */
      tooLarge?: number;
    } & Omit<ApplySummary, 'tooLarge'>)
  /**
   * The read used this message's budget (pages or seconds): its position is saved and a new message
   * goes on with it.
   */
  | {
      outcome: 'continued';
      readId: string;
      /** Pages applied by this message, and by the read so far. */
      pages: number;
      pagesSoFar: number;
      changesSoFar: number;
      nextRunAt: Date | undefined;
    }
  /**
   * Another run of the entity holds the lease (or took it over while this one ran): this one did
   * nothing more (the schedule goes on, and the read resumes from its saved page).
   */
  | { outcome: 'overlap'; nextRunAt: Date | undefined }
  | { outcome: 'skipped'; reason: string };

/** Tenants whose entities are rescheduled; deprovisioned ones end their schedule (SPEC §8). */
const SCHEDULED_STATES: ReadonlySet<TenantState> = new Set(['provisioning', 'active', 'stopped', 'failed']);

const DEFAULT_LEASE_TTL_MS = 5 * 60_000;
const SCAN_PAGE = 500;

/**
 * One `syncEntity` work item (SPEC §7): schedules the entity's next run, then — unless another run
 * of the entity holds its lease — reads the source's changes since the stored delta token and applies
 * them page by page. The read is bounded and resumable: after each page it saves the source's
 * position (and for a full read the ids the page returned); after `REPLICATION_READ_MAX_PAGES` pages
 * or `REPLICATION_READ_MAX_SECONDS` it sends a message that goes on from there and ends, so no
 * message outlasts its lock, and a run that dies (its lease lapses) is resumed from its last saved
 * page by the next message of the entity. The lease is renewed before each page is applied, so a run
 * whose lease was taken over applies nothing more. Only once the last page is applied does a full read
 * tombstone the stored rows it did not return and the new token get stored, so a crash anywhere
 * re-reads from the saved page or the old token (and applying again changes nothing).
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
  // A continuation goes on with a read; the run that started it scheduled the next one already.
  if (SCHEDULED_STATES.has(tenant.state) && message.continues === undefined) {
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
  // The lease belongs to this attempt: a redelivery of the same message never runs beside it.
  const holder = `${delivery.messageId}#${randomUUID()}`;
  const lease = await acquireEntityRunLease(store, message.entity, holder, services.clock.now(), ttl);
  if (lease === undefined) return { outcome: 'overlap', nextRunAt };

  try {
    // The columns left out (file contents by default) are never read; the token is kept per column set.
    const metadata = replicatedMetadata(configuration.metadata, columnPolicyOf(services.settings));
    const columns = columnsFingerprint(metadata);
    const saved = await readSavedRead(store, message.entity, columns);
    if (message.continues !== undefined && saved?.progress.readId !== message.continues) {
      return { outcome: 'skipped', reason: `The read '${message.continues}' it went on with has finished.` };
    }
    const runStartedAt = services.clock.now();
    await updateReplicationStatus(store, message.entity, (s) => ({
      ...s,
      lastRunStartedAt: saved?.progress.startedAt ?? runStartedAt.toISOString(),
      nextRunAt: nextRunAt?.toISOString() ?? s.nextRunAt,
    }));
    const token = saved === undefined ? await readDeltaToken(store, message.entity, columns) : undefined;
    // The position is known once a page hands one out.
    let progress: Omit<ReadProgress, 'resumeAt'> & { resumeAt?: string } = saved?.progress ?? {
      readId: `read-${randomUUID()}`,
      from: token ?? null,
      columns,
      startedAt: runStartedAt.toISOString(),
      pages: 0,
      changes: 0,
      full: false,
      applied: 0,
      stale: 0,
      skipped: 0,
      tooLarge: 0,
    };
    let etag = saved?.etag;
    const maxPages = options.maxPages ?? services.settings.REPLICATION_READ_MAX_PAGES;
    const maxMs = (options.maxSeconds ?? services.settings.REPLICATION_READ_MAX_SECONDS) * 1000;
    const maxRowBytes = options.maxRowBytes ?? services.settings.REPLICATION_MAX_ROW_BYTES;
    const source = services.sourceFor(tenant);
    const reading = source.readChanges(metadata, progress.from ?? undefined, saved?.progress.resumeAt);
    let pagesThisRun = 0;
    let lastPageIds: string[] = [];
    let nextToken: string | undefined;
    for await (const page of reading) {
      // Renewed before the page is applied: a run whose lease lapsed or was taken applies nothing more.
      if (!(await lease.renew(services.clock.now()))) return { outcome: 'overlap', nextRunAt };
      const summary = await applySourceChanges(store, page.changes, { ...options, maxRowBytes });
      if (summary.tooLarge !== undefined) {
        // Skipped, never retried: the run goes on, and the status names each row.
        await recordTooLargeRows(store, summary.tooLarge, services.clock.now(), maxRowBytes);
      }
      pagesThisRun += 1;
      lastPageIds = page.full ? page.changes.map((change) => change.id) : [];
      progress = {
        ...progress,
        pages: progress.pages + 1,
        changes: progress.changes + page.changes.length,
        full: progress.full || page.full,
        applied: progress.applied + summary.applied,
        stale: progress.stale + summary.stale,
        skipped: progress.skipped + summary.skipped,
        tooLarge: progress.tooLarge + (summary.tooLarge?.length ?? 0),
      };
      if (page.resumeAt === undefined) {
        nextToken = page.deltaToken;
        break;
      }
      progress = { ...progress, resumeAt: page.resumeAt };
      // Other work of this process (the local host's requests) gets its turn between pages.
      await yieldToEventLoop();
      etag = await saveReadProgress(
        store,
        message.entity,
        { ...progress, resumeAt: page.resumeAt },
        etag,
        lastPageIds,
      );
      if (etag === undefined) return { outcome: 'overlap', nextRunAt };
      lastPageIds = [];
      const elapsed = services.clock.now().getTime() - runStartedAt.getTime();
      if (pagesThisRun >= maxPages || elapsed >= maxMs) {
        // Sent before this delivery completes: if the send fails, the delivery is retried and
        // resumes from the page just saved. The id makes a repeated send of one position one message.
        await services.queue.send(continueReadMessage(tenant.org, message.entity, progress.readId), {
          messageId: `syncEntity-${tenant.org}-${message.entity}-${progress.readId}-${progress.pages}`,
        });
        return {
          outcome: 'continued',
          readId: progress.readId,
          pages: pagesThisRun,
          pagesSoFar: progress.pages,
          changesSoFar: progress.changes,
          nextRunAt,
        };
      }
    }

    let removed = 0;
    if (progress.full) {
      // Pages saved before the last one (in this message or earlier ones) left their ids behind.
      const seen =
        etag === undefined ? new Set<string>() : await readSeenIds(store, message.entity, progress.readId);
      for (const id of lastPageIds) seen.add(id);
      removed = await tombstoneRowsNotSeen(store, message.entity, seen, new Date(progress.startedAt));
    }
    // Still ours? Only the lease holder finishes the read (tombstoning again is harmless, a token is not).
    if (!(await lease.renew(services.clock.now()))) return { outcome: 'overlap', nextRunAt };
    if (nextToken !== undefined && nextToken !== progress.from)
      await saveDeltaToken(store, message.entity, nextToken, columns);
    if (etag !== undefined) await clearSavedRead(store, message.entity, progress.readId);

    await updateReplicationStatus(store, message.entity, (s) => ({
      ...s,
      lastRunFinishedAt: services.clock.now().toISOString(),
      lastRunChanges: progress.changes,
      lastRunFull: progress.full,
    }));
    return {
      outcome: 'synced',
      changes: progress.changes,
      full: progress.full,
      removed,
      nextRunAt,
      applied: progress.applied,
      stale: progress.stale,
      skipped: progress.skipped,
      ...(progress.tooLarge === 0 ? {} : { tooLarge: progress.tooLarge }),
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
    await yieldToEventLoop();
  }
}
