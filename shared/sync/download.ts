import { loadEntities } from '../admin/entity-config';
import { getTenantSettings } from '../admin/settings-store';
import type { Principal } from '../auth/principal';
import type { Clock } from '../clock';
import { noteCompletedSync } from './sync-usage';
import { AppError } from '../errors';
import type { TenantSettings } from '../model/settings';
import type { StoredRecord } from '../model/record';
import type { ChangeScope, ReadMeter, TenantStore } from '../store/port';
import { loadCheckpointKey, signCheckpoint, verifyCheckpoint } from './checkpoint';
import type { CompiledDeviceProfile } from './compile-device-profile';
import { observeDownload } from '../telemetry/observe';
import { compiledProfileFor } from './compiled-profile-cache';
import { resolveSyncCaller } from './device-identity';
import {
  checkpointStep,
  deviceKey,
  compactionDue,
  DeviceStateStore,
  heldLinks,
  heldVersion,
  newDeviceState,
  outboxSize,
  toHeldValue,
  type DeviceState,
  type DeviceStateTransaction,
  type HeldDelta,
  type PlanEntry,
} from './device-state';
import { nextSyncSeconds } from './metadata';
import type { DownloadChange, DownloadRequest, DownloadResponse, DownloadWarning } from './sync-protocol';
import {
  changeScopes,
  changesWork,
  CHANGE_CHUNK,
  expectedRemaining,
  initialWork,
  isCursorExpired,
  judgementOf,
  judgementWork,
  newDownloadCounters,
  PlannedOutbox,
  rowKey,
  runTaskStep,
  type DownloadCounters,
  type RequestRows,
  type WorkScope,
} from './sync-work';

/**
 * Rows one request may read before it answers (besides the page's own rows): every request's work is
 * bounded whatever the tenant's size or history (SPEC §12); the device calls again on `more: true`.
 */
export const READ_BUDGET_ROWS = 20_000;

/** What a download needs besides the request. */
export interface DownloadContext {
  store: TenantStore;
  principal: Principal;
  clock: Clock;
  /** Counts what the request reads from the store (the adapters count; the route reports it). */
  meter?: ReadMeter;
  /** Counts how device sets were worked out (tests assert that nothing was recomputed needlessly). */
  counters?: DownloadCounters;
}

/**
 * `POST sync/{org}/download` (SPEC §6): the next page of changes for a device.
 *
 * Without a checkpoint a new epoch starts: every row the device may hold is found through what its
 * profile's rules name (index look-ups, sync-work.ts) and sent in pages. With a checkpoint, the
 * checkpoint's page sequence number tells what the device applied: the newest page's number
 * acknowledges it (its changes join the held set), the one before means the newest page was lost (its
 * entries are sent again). Once a sync's pages are all acknowledged, later calls send what changed
 * since: nothing at once when nothing changed for this device; otherwise the changes of its
 * profile's entities (and owners) judged row by row, and when the user's context, the day, the
 * profile or the metadata changed, only the rows that change can move. Removals are exact.
 *
 * @throws AppError `ValidationFailed` (detail `CheckpointInvalid`) for a forged, altered or foreign
 * checkpoint; `Conflict` (detail `CheckpointStale`) for a checkpoint of an earlier epoch or page: the
 * device must start over without one; `Conflict` (detail `ConcurrentDownload`) when another request
 * of the device committed first; `RowLimitExceeded` past the hard row limit; the errors of
 * {@link resolveSyncCaller}.
 */
export function downloadChanges(ctx: DownloadContext, request: DownloadRequest): Promise<DownloadResponse> {
  return observeDownload(ctx.store.org, request, () => download(ctx, request));
}

async function download(ctx: DownloadContext, request: DownloadRequest): Promise<DownloadResponse> {
  // Configuration comes through the per-process caches, which are kept per tenant handle: read it
  // through the handle itself. The request's own reads (device state, rows, changes) are metered.
  const tenant = ctx.store;
  const store = ctx.meter === undefined ? tenant : tenant.metered(ctx.meter);
  const meter = ctx.meter;
  const caller = await resolveSyncCaller(tenant, ctx.principal, request.app);
  const [entities, settings, key] = await Promise.all([
    loadEntities(tenant),
    getTenantSettings(tenant),
    loadCheckpointKey(tenant),
  ]);
  const profile = compiledProfileFor(
    tenant,
    caller.user.id,
    caller.profile,
    entities,
    caller.context,
    ctx.clock,
  );
  const states = new DeviceStateStore(store, tenant);
  const loaded = await states.load(deviceKey(caller.user.id, request.deviceId));
  const tx = states.begin(loaded);
  const counters = ctx.counters ?? newDownloadCounters();
  const startRows = meter?.rows ?? 0;
  const requestRows: RequestRows = { rows: () => (meter?.rows ?? 0) - startRows, seen: new Map() };

  let state: DeviceState;
  let changed = false;
  if (request.checkpoint === undefined) {
    state = newDeviceState(ctx.principal.objectId);
    tx.replaceEpoch();
    changed = true;
  } else {
    const payload = verifyCheckpoint(key, request.checkpoint, {
      org: store.org,
      user: caller.user.id,
      device: request.deviceId,
    });
    const current = loaded.state;
    if (current === undefined || current.epoch !== payload.epoch) throw stale('of an earlier download');
    if (current.objectId.toLowerCase() !== ctx.principal.objectId.toLowerCase()) {
      throw stale('of another identity');
    }
    state = structuredClone(current);
    const step = checkpointStep(state, payload.seq);
    if (step === 'stale') throw stale('older than the last page the device acknowledged');
    if (step === 'acknowledge') await acknowledge(state, tx);
    else if (step === 'resend') await restorePending(state, tx);
    else if (step === 'takeBack') await takeBackPrevious(state, tx);
    changed = step !== 'current';
  }

  const scope: WorkScope = {
    store,
    profile,
    tx,
    held: states.held(tx.key, state.held, tx),
    judgement: judgementOf(profile),
    counters,
  };
  let page: DownloadResponse;
  try {
    if (state.work !== null && state.work.judgement.digest !== profile.judgementDigest) {
      await rebaseWork(scope, state);
      changed = true;
    }
    if (state.work === null) changed = (await planWork(scope, state, requestRows)) || changed;
    let changes: DownloadChange[] = [];
    if (state.work !== null) {
      changes = await fillAndSend(scope, state, request, settings, requestRows);
      changed = true;
    }
    if (changed) await tx.commit(state);
    page = respond(store.org, caller.user.id, request, state, changes, profile, settings, key);
  } catch (error) {
    await tx.abandon();
    throw error;
  }
  // A sync is complete once a page says there is no more: its device and rows count as usage
  // (sync-usage.ts: noted in the process, written about once a minute). After the commit and outside
  // the transaction, which must not be abandoned now.
  if (!page.more) {
    const rows = state.held.size + (state.pending?.sizeDelta ?? 0);
    await noteCompletedSync(tenant, store, { device: tx.key, at: ctx.clock.now().getTime(), rows });
  }
  return page;
}

function stale(why: string): AppError {
  const message = `The checkpoint is ${why}; start a new download without a checkpoint.`;
  return new AppError('Conflict', message, {
    details: [{ path: 'checkpoint', code: 'CheckpointStale', message }],
  });
}

/** The device applied the newest page: its segment joins the held set; a finished work ends. */
async function acknowledge(state: DeviceState, tx: DeviceStateTransaction): Promise<void> {
  const pending = state.pending!;
  const base = state.baseSeq;
  const segment = { id: pending.segment, count: pending.count };
  state.baseSeq = pending.seq;
  state.pending = null;
  state.previous = null;
  const work = state.work;
  if (work !== null && work.tasks.length === 0 && outboxSize(work.outbox) === 0) {
    state.held.segments.push(segment);
    state.held.size += pending.sizeDelta;
    await finishWork(state, tx);
    return;
  }
  // A fold folds the segments before this page's: its own stays the last, so it can still be taken
  // back (takeBackPrevious) until the next page is acknowledged.
  if (compactionDue({ ...state.held, segments: [...state.held.segments, segment] }, false)) {
    state.held = await tx.compact(state.held);
  }
  state.held.segments.push(segment);
  state.held.size += pending.sizeDelta;
  state.previous = { ...pending, baseSeq: base };
}

/** The work is done: the held set is right at its cursor, under its judgement. */
async function finishWork(state: DeviceState, tx: DeviceStateTransaction): Promise<void> {
  const work = state.work!;
  state.previous = null;
  state.cursor = work.cursor;
  state.judgement = work.judgement;
  state.work = null;
  // A first download plans without looking at what is held, so a row sent twice counted twice: the
  // compaction makes the size exact.
  if (work.phase === 'initial' || compactionDue(state.held, true)) state.held = await tx.compact(state.held);
}

/** The newest page was lost: its planned entries go back to the front of the outbox. */
async function restorePending(state: DeviceState, tx: DeviceStateTransaction): Promise<void> {
  const pending = state.pending!;
  const planned = await tx.readSegmentPlan(pending.segment);
  tx.discardAfterCommit('held', pending.segment);
  state.pending = null;
  const work = state.work!;
  work.sent -= pending.count;
  const rest = await tx.readOutbox(work.outbox);
  // Entries planned after the page for the same rows are the later decision.
  const later = new Set(rest.map(([entity, id]) => rowKey(entity, id)));
  work.outbox = await tx.storeOutbox(work.outbox, [
    ...planned.filter(([entity, id]) => !later.has(rowKey(entity, id))),
    ...rest,
  ]);
}

/**
 * The device lost the pending page and the one acknowledged before it (it asked for the next page
 * before writing the one it then lost, as the SDK does): the pending page goes back to the outbox,
 * then the acknowledged one leaves the held set and goes back before it, so both are sent again.
 */
async function takeBackPrevious(state: DeviceState, tx: DeviceStateTransaction): Promise<void> {
  const previous = state.previous!;
  if (state.pending !== null) await restorePending(state, tx);
  // checkpointStep checked that its segment is the held set's last.
  state.held.segments.pop();
  state.held.size -= previous.sizeDelta;
  state.baseSeq = previous.baseSeq;
  const { baseSeq: _base, ...page } = previous;
  state.pending = page;
  state.previous = null;
  await restorePending(state, tx);
}

/**
 * The profile, the user's context or the day changed while a work ran: its remaining tasks would
 * finish under rules no longer in force. When only bound values changed, the rows they can flip are
 * judged again before the work's last step, whose change scopes widen to both judgements; when a
 * rule changed, every entity is judged again from its rows. The outbox stays: what it plans to send
 * is judged again with the rest (a page applied without its checkpoint may have delivered it).
 */
async function rebaseWork(scope: WorkScope, state: DeviceState): Promise<void> {
  const work = state.work!;
  // What the acknowledged page planned was judged under the old rules: it is not taken back.
  state.previous = null;
  const head = await scope.store.headCursor();
  const delta = await judgementWork(scope, work.judgement, head, false, { count: false });
  if (delta.recomputed.length === 0 && delta.tasks.every((t) => t.kind !== 'drop')) {
    const added = delta.tasks.filter((t) => t.kind !== 'changes');
    const scopes = changeScopes(scope.profile, work.judgement);
    const last = work.tasks.at(-1);
    if (last?.kind === 'changes') {
      last.scopes = mergeScopes(last.scopes, scopes);
      work.tasks.splice(work.tasks.length - 1, 0, ...added);
    } else {
      // The work's changes were all read: read on from where they ended, under both judgements.
      work.tasks.push(...added, { kind: 'changes', scopes, cursor: work.cursor ?? head });
      work.cursor = null;
    }
  } else {
    // Drops cover what either judgement held; the changes are read from now (everything else is
    // judged from the rows as they are).
    const previous = {
      digest: '',
      entities: { ...(state.judgement?.entities ?? {}), ...work.judgement.entities },
    };
    work.tasks = (await judgementWork(scope, previous, head, true)).tasks;
    work.cursor = null;
    // Held rows exist now: what is planned is compared with them from here on.
    work.phase = 'incremental';
  }
  work.judgement = scope.judgement;
}

/** The union of two lists of change scopes: an entity read whole in either is read whole. */
function mergeScopes(a: readonly ChangeScope[], b: readonly ChangeScope[]): ChangeScope[] {
  const byEntity = new Map<string, Set<string> | 'all'>();
  for (const scope of [...a, ...b]) {
    const known = byEntity.get(scope.entity);
    if (scope.ownershipKeys === undefined || known === 'all') {
      byEntity.set(scope.entity, 'all');
      continue;
    }
    byEntity.set(scope.entity, new Set([...(known ?? []), ...scope.ownershipKeys]));
  }
  return [...byEntity].map(([entity, keys]) =>
    keys === 'all' ? { entity } : { entity, ownershipKeys: [...keys].sort() },
  );
}

/**
 * Sets up the device's next work when it has none. Returns whether the state changed; false is the
 * idle path: nothing changed for this device, nothing is written.
 */
async function planWork(scope: WorkScope, state: DeviceState, requestRows: RequestRows): Promise<boolean> {
  const { store, profile } = scope;
  if (state.judgement === null || state.cursor === null) {
    // A new epoch: the head is taken before any row is read, so a write meanwhile is read again later.
    state.work = await initialWork(scope, await store.headCursor());
    return true;
  }
  if (state.judgement.digest !== profile.judgementDigest) {
    state.work = await judgementWork(scope, state.judgement, state.cursor);
    return true;
  }
  let page;
  try {
    page = await store.readChanges(state.cursor, CHANGE_CHUNK, changeScopes(profile, null));
  } catch (error) {
    if (!isCursorExpired(error)) throw error;
    // Changes after the cursor may be gone: judge what the device holds again, from its rows.
    state.work = await judgementWork(scope, state.judgement, await store.headCursor(), true);
    return true;
  }
  if (page.records.length === 0) {
    if (page.cursor === state.cursor) return false;
    state.cursor = page.cursor;
    return true;
  }
  requestRows.prefetched = { cursor: state.cursor, page };
  state.work = changesWork(scope, state.cursor);
  return true;
}

/**
 * Runs the work's tasks until a page is planned or the request's budget is spent, then sends the
 * page: upserts carry each row as stored now (its current version, secured columns stripped); a row
 * gone since it was planned is sent as a removal. The page becomes pending until acknowledged.
 */
async function fillAndSend(
  scope: WorkScope,
  state: DeviceState,
  request: DownloadRequest,
  settings: TenantSettings,
  requestRows: RequestRows,
): Promise<DownloadChange[]> {
  const { tx, store } = scope;
  const work = state.work!;
  const fresh = work.phase === 'initial';
  const outbox = new PlannedOutbox(await tx.readOutbox(work.outbox), scope.held, fresh);
  const pageSize = request.pageSize;
  // Past a full page, steps that plan no rows still run (a reach task listing its sources' values,
  // or finding it has none left; the last task, the changes since the work began, when nothing
  // changed meanwhile), so the page that ends the rows can also end the work.
  const wanted = (): boolean => {
    if (outbox.size < pageSize) return true;
    const next = work.tasks[0]!;
    if (next.kind === 'reach') return next.values === null || next.position >= next.values.total;
    return next.kind === 'changes' && work.tasks.length === 1;
  };
  while (work.tasks.length > 0 && wanted() && requestRows.rows() < READ_BUDGET_ROWS) {
    const task = work.tasks[0]!;
    let finished: boolean;
    try {
      finished = await runTaskStep(scope, work, task, outbox, requestRows, pageSize - outbox.size);
    } catch (error) {
      if (!isCursorExpired(error)) throw error;
      // The work outlived the change retention: judge everything again from a fresh head.
      state.previous = null;
      const replacement = await judgementWork(
        scope,
        state.judgement ?? work.judgement,
        await store.headCursor(),
        true,
      );
      work.tasks = replacement.tasks;
      continue;
    }
    if (finished) work.tasks.shift();
  }
  enforceHardLimit(settings, state.held.size + outbox.net());

  const entries = outbox.take(pageSize);
  if (entries.length === 0 && work.tasks.length === 0) {
    // Nothing to send and nothing left: the work ends here, without a page to acknowledge.
    await finishWork(state, tx);
    return [];
  }
  const ids = new Map<string, string[]>();
  // Entries are read by index, not destructured: destructuring allocated an iterator per entry.
  for (const entry of entries) {
    const entity = entry[0];
    const id = entry[1];
    const op = entry[2];
    if ((op === 'a' || op === 'u') && !requestRows.seen.has(rowKey(entity, id))) {
      const list = ids.get(entity) ?? [];
      ids.set(entity, list);
      list.push(id);
    }
  }
  await Promise.all(
    [...ids].map(async ([entity, list]) => {
      for (const record of await store.getRecords(entity, list))
        requestRows.seen.set(rowKey(entity, record.id), record);
    }),
  );
  const changes: DownloadChange[] = [];
  const delta: HeldDelta[] = [];
  let sizeDelta = 0;
  for (const entry of entries) {
    const entity = entry[0];
    const id = entry[1];
    const op = entry[2];
    const value = entry[3];
    const compiled = scope.profile.entities.get(entity);
    const record: StoredRecord | undefined = requestRows.seen.get(rowKey(entity, id));
    if (op === 'r' || op === 'x' || compiled === undefined) {
      // Removed: the device may hold it anyway (from a page it applied without keeping the
      // checkpoint), so the removal is sent either way.
      changes.push({ entity, id, op: 'remove', version: heldVersion(value) });
      delta.push([entity, id, null]);
      if (op === 'r') sizeDelta -= 1;
      continue;
    }
    if (record === undefined || record.deleted) {
      // Planned as an upsert, gone since: the device gets a removal, but the held set keeps the
      // planned value until the deletion (a change read later) is judged, so what the plan reached
      // through this row is judged again then.
      changes.push({ entity, id, op: 'remove', version: heldVersion(value) });
      delta.push([entity, id, value]);
      if (op === 'a') sizeDelta += 1;
      continue;
    }
    changes.push({
      entity,
      id,
      op: 'upsert',
      version: record.version,
      row: compiled.strip(record.attributes),
    });
    // The version sent, with the association values the plan followed: when the row changed since it
    // was planned, its change (read later) is judged against what its targets were planned from.
    delta.push([entity, id, toHeldValue(record.version, heldLinks(value))]);
    if (op === 'a') sizeDelta += 1;
  }
  const seq = state.issuedSeq + 1;
  state.issuedSeq = seq;
  const segment = await tx.writeSegment(seq, delta, entries satisfies PlanEntry[]);
  state.pending = { seq, segment, count: delta.length, sizeDelta };
  work.sent += changes.length;
  work.outbox = await tx.storeOutbox(work.outbox, outbox.all());
  return changes;
}

function enforceHardLimit(settings: TenantSettings, count: number): void {
  if (count > settings.hardRowLimit) {
    throw new AppError(
      'RowLimitExceeded',
      `This user's download would hold ${count} rows, more than the hard row limit of ${settings.hardRowLimit}.`,
      { details: { limit: 'hardRowLimit', hardRowLimit: settings.hardRowLimit, count } },
    );
  }
}

function respond(
  org: string,
  userId: string,
  request: DownloadRequest,
  state: DeviceState,
  changes: DownloadChange[],
  profile: CompiledDeviceProfile,
  settings: TenantSettings,
  key: Buffer,
): DownloadResponse {
  const work = state.work;
  const seq = state.pending?.seq ?? state.baseSeq;
  const checkpoint = signCheckpoint(key, {
    v: 2,
    org,
    user: userId,
    device: request.deviceId,
    epoch: state.epoch,
    seq,
  });
  const remaining = work === null ? 0 : outboxSize(work.outbox) + expectedRemaining(work);
  const done = work?.sent ?? 0;
  const total = done + remaining;
  const held = state.held.size + (state.pending?.sizeDelta ?? 0);
  const warnings: DownloadWarning[] = [];
  if (held > settings.softRowLimit) {
    warnings.push({
      code: 'SoftRowLimitExceeded',
      message: `This user's download holds ${held} rows, more than the soft row limit of ${settings.softRowLimit}.`,
      details: { limit: 'softRowLimit', softRowLimit: settings.softRowLimit, count: held },
    });
  }
  return {
    changes,
    checkpoint,
    more: work !== null && (work.tasks.length > 0 || outboxSize(work.outbox) > 0),
    progress: { done, total, percent: total === 0 ? 100 : Math.floor((done * 100) / total) },
    ...(warnings.length > 0 ? { warnings } : {}),
    nextSyncSeconds: nextSyncSeconds(profile, settings),
  };
}
