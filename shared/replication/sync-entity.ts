import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AppServices } from '../app-services';
import { getTenantSettings } from '../admin/settings-store';
import type { Tenant, TenantState } from '../model/tenant';
import type { DeliveryInfo } from '../queue/port';
import type { TenantStore } from '../store/port';
import { applySourceChanges, nextVersion, type ApplySummary } from './apply-source-changes';
import { AppError } from '../errors';
import {
  clearSavedRead,
  finishSavedRead,
  readDeltaToken,
  readSavedRead,
  saveDeltaToken,
  saveReadProgress,
  type ReadProgress,
  type RemovalProgress,
} from './delta-token-store';
import { isSeenIdsMissing, openSeenIds } from './full-read-seen-ids';
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
  /** Stored rows one step of a full read's removal pass judges (default {@link REMOVAL_PAGE_ROWS}). */
  removalPageRows?: number;
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
   * goes on with it — with the source's pages (`read`), or with a full read's removal pass.
   */
  | {
      outcome: 'continued';
      phase: 'read';
      readId: string;
      /** Pages applied by this message, and by the read so far. */
      pages: number;
      pagesSoFar: number;
      changesSoFar: number;
      nextRunAt: Date | undefined;
    }
  | {
      outcome: 'continued';
      phase: 'removal';
      readId: string;
      /** Source pages and removal steps of this message; the read's pages in all. */
      pages: number;
      pagesSoFar: number;
      changesSoFar: number;
      /** Stored rows judged by this message, and by the pass so far; rows it tombstoned so far. */
      scanned: number;
      scannedSoFar: number;
      removedSoFar: number;
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
/**
 * Stored rows one step of a full read's removal pass judges: a step counts as one page against the
 * message's budget (`REPLICATION_READ_MAX_PAGES`), so a message judges at most 100 × 500 rows.
 */
export const REMOVAL_PAGE_ROWS = 500;

/**
 * One `syncEntity` work item (SPEC §7): schedules the entity's next run, then — unless another run
 * of the entity holds its lease — reads the source's changes since the stored delta token and applies
 * them page by page. The read is bounded and resumable: after each page it saves the source's
 * position (and for a full read the ids the page returned); after `REPLICATION_READ_MAX_PAGES` pages
 * or `REPLICATION_READ_MAX_SECONDS` it sends a message that goes on from there and ends, so no
 * message outlasts its lock, and a run that dies (its lease lapses) is resumed from its last saved
 * page by the next message of the entity. The lease is renewed before each page is applied, so a run
 * whose lease was taken over applies nothing more. Once the last page is applied, a full read runs its
 * removal pass (`removeRowsNotSeen`): bounded and resumable the same way, under the same budget, a
 * page of stored rows at a time. The new token is stored only when the read and its pass are done, so
 * a crash anywhere resumes from the saved page or position, or re-reads from the old token (and
 * applying again changes nothing).
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
    let progress: ReadProgress = saved?.progress ?? {
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
    // Source pages and removal steps of this message, under one budget.
    let stepsThisRun = 0;
    const budgetUsed = (): boolean =>
      stepsThisRun >= maxPages || services.clock.now().getTime() - runStartedAt.getTime() >= maxMs;
    // Sent before this delivery completes: if the send fails, the delivery is retried and resumes
    // from the position just saved. The id makes a repeated send of one position one message.
    const sendContinuation = (position: string): Promise<void> =>
      services.queue.send(continueReadMessage(tenant.org, message.entity, progress.readId), {
        messageId: `syncEntity-${tenant.org}-${message.entity}-${progress.readId}-${position}`,
      });

    let nextToken: string | undefined;
    // A saved removal pass means every page is applied: the read goes on with the pass.
    if (progress.removal === undefined) {
      const source = services.sourceFor(tenant);
      const reading = source.readChanges(metadata, progress.from ?? undefined, progress.resumeAt);
      let lastPageIds: string[] | undefined;
      for await (const page of reading) {
        // Renewed before the page is applied: a run whose lease lapsed or was taken applies nothing more.
        if (!(await lease.renew(services.clock.now()))) return { outcome: 'overlap', nextRunAt };
        const summary = await applySourceChanges(store, page.changes, { ...options, maxRowBytes });
        if (summary.tooLarge !== undefined) {
          // Skipped, never retried: the run goes on, and the status names each row.
          await recordTooLargeRows(store, summary.tooLarge, services.clock.now(), maxRowBytes);
        }
        stepsThisRun += 1;
        const pageIds = page.full ? page.changes.map((change) => change.id) : undefined;
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
          lastPageIds = pageIds;
          break;
        }
        progress = { ...progress, resumeAt: page.resumeAt };
        // Other work of this process (the local host's requests) gets its turn between pages.
        await yieldToEventLoop();
        etag = await saveReadProgress(store, message.entity, progress, etag, pageIds);
        if (etag === undefined) return { outcome: 'overlap', nextRunAt };
        if (budgetUsed()) {
          await sendContinuation(String(progress.pages));
          return {
            outcome: 'continued',
            phase: 'read',
            readId: progress.readId,
            pages: stepsThisRun,
            pagesSoFar: progress.pages,
            changesSoFar: progress.changes,
            nextRunAt,
          };
        }
      }
      if (progress.full) {
        // Every page is applied: the last one's ids are kept like the others', and from here on a
        // crash or a redelivery resumes the removal pass, not the read.
        const { resumeAt, ...read } = progress;
        void resumeAt;
        progress = {
          ...read,
          removal: { deltaToken: nextToken ?? null, afterId: null, scanned: 0, removed: 0 },
        };
        etag = await saveReadProgress(store, message.entity, progress, etag, lastPageIds ?? []);
        if (etag === undefined) return { outcome: 'overlap', nextRunAt };
      }
    }

    if (progress.removal !== undefined) {
      let pass: RemovalPassOutcome;
      try {
        pass = await removeRowsNotSeen(
          store,
          message.entity,
          { ...progress, removal: progress.removal },
          etag,
          {
            renew: () => lease.renew(services.clock.now()),
            budgetUsed,
            step: () => void (stepsThisRun += 1),
            pageRows: options.removalPageRows ?? REMOVAL_PAGE_ROWS,
          },
        );
      } catch (error) {
        // Its ids are gone (they cannot come back): the read is dropped, and the next run reads again.
        if (isSeenIdsMissing(error)) await clearSavedRead(store, message.entity, progress.readId);
        throw error;
      }
      if (pass.kind === 'overlap') return { outcome: 'overlap', nextRunAt };
      progress = pass.progress;
      etag = pass.etag;
      const removal = pass.progress.removal;
      if (pass.kind === 'paused') {
        await sendContinuation(`removal-${removal.scanned}`);
        return {
          outcome: 'continued',
          phase: 'removal',
          readId: progress.readId,
          pages: stepsThisRun,
          pagesSoFar: progress.pages,
          changesSoFar: progress.changes,
          scanned: pass.scanned,
          scannedSoFar: removal.scanned,
          removedSoFar: removal.removed,
          nextRunAt,
        };
      }
      nextToken = removal.deltaToken ?? undefined;
    }
    // Still ours? Only the lease holder finishes the read (tombstoning again is harmless, a token is not).
    if (!(await lease.renew(services.clock.now()))) return { outcome: 'overlap', nextRunAt };
    // Stored only now: a full read's token once its removal pass is done too.
    if (nextToken !== undefined && nextToken !== progress.from)
      await saveDeltaToken(store, message.entity, nextToken, columns);
    if (progress.full) await finishSavedRead(store, message.entity);
    else if (etag !== undefined) await clearSavedRead(store, message.entity, progress.readId);

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
      removed: progress.removal?.removed ?? 0,
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

type Removing = ReadProgress & { removal: RemovalProgress };

type RemovalPassOutcome =
  /** Every stored row is judged. */
  | { kind: 'done'; progress: Removing; etag: string | undefined }
  /** The message's budget is used: the position is saved, a new message goes on (`scanned`: rows judged here). */
  | { kind: 'paused'; progress: Removing; etag: string; scanned: number }
  /** The lease was lost, or another run saved meanwhile: this one stops. */
  | { kind: 'overlap' };

/**
 * A full read's removal pass: every stored live row of the entity that the read did not return is
 * deleted at the source, so it becomes a tombstone (stored version + 1, compare-and-set so a
 * concurrent write wins). Rows written since the read started came from elsewhere (a webhook, an
 * upload) after the read's snapshot began — or from the read itself — so they stay. The rows are
 * judged a page at a time in id order, against the read's kept ids merged in the same order
 * (`openSeenIds`); after each page the position (the last id judged) is saved, so a crash or a
 * redelivery goes on right after it: a page judged again finds its tombstones already deleted (scans
 * skip them) and removes nothing twice. Each page counts against the message's budget; once it is
 * used, the pass pauses and a new message goes on.
 */
async function removeRowsNotSeen(
  store: TenantStore,
  entity: string,
  start: Removing,
  startEtag: string | undefined,
  run: {
    renew: () => Promise<boolean>;
    budgetUsed: () => boolean;
    step: () => void;
    pageRows: number;
  },
): Promise<RemovalPassOutcome> {
  const startedAt = new Date(start.startedAt);
  let progress = start;
  let etag = startEtag;
  let scanned = 0;
  const seen = await openSeenIds(store, entity, start.readId, start.pages, start.removal.afterId);
  for (;;) {
    // Checked before each page (the read's pages count too): the position is saved at this point.
    if (run.budgetUsed() && etag !== undefined) return { kind: 'paused', progress, etag, scanned };
    // Renewed before the page is judged: a run whose lease lapsed or was taken removes nothing more.
    if (!(await run.renew())) return { kind: 'overlap' };
    const after = progress.removal.afterId;
    const rows = await store.scanRecords(entity, {
      ...(after === null ? {} : { afterId: after }),
      limit: run.pageRows,
    });
    let previous = after;
    for (const row of rows) {
      // The merge of kept ids relies on it: a row out of that order would look gone.
      if (previous !== null && !(row.id > previous)) {
        throw new AppError(
          'Internal',
          `The store scanned '${entity}' row '${row.id}' after '${previous}': ids out of order, the removal pass stops without removing anything.`,
        );
      }
      previous = row.id;
    }
    let removed = 0;
    if (rows.length > 0) {
      const returned = await seen.through(rows[rows.length - 1]!.id);
      const gone = rows.filter((row) => !returned.has(row.id) && new Date(row.updatedAt) < startedAt);
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
        removed = results.filter((r) => r.outcome === 'applied').length;
      }
    }
    run.step();
    scanned += rows.length;
    progress = {
      ...progress,
      removal: {
        ...progress.removal,
        afterId: previous,
        scanned: progress.removal.scanned + rows.length,
        removed: progress.removal.removed + removed,
      },
    };
    if (rows.length < run.pageRows) return { kind: 'done', progress, etag };
    etag = await saveReadProgress(store, entity, progress, etag);
    if (etag === undefined) return { kind: 'overlap' };
    // Other work of this process (the local host's requests) gets its turn between pages.
    await yieldToEventLoop();
  }
}
