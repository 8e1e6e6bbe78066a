import { randomUUID } from 'node:crypto';
import { loadEntities, getMetadataVersion } from '../admin/entity-config';
import { getTenantSettings } from '../admin/settings-store';
import type { Principal } from '../auth/principal';
import type { Clock } from '../clock';
import { AppError } from '../errors';
import type { TenantSettings } from '../model/settings';
import type { StoredRecord } from '../model/record';
import type { TenantStore } from '../store/port';
import { loadCheckpointKey, signCheckpoint, verifyCheckpoint, type SyncStamp } from './checkpoint';
import type { CompiledDeviceProfile } from './compile-device-profile';
import { compiledProfileFor } from './compiled-profile-cache';
import { resolveSyncCaller } from './device-identity';
import { computeDeviceSet, deviceSetSize, visitDeviceSet } from './device-set';
import { judgeChangedRows } from './incremental-membership';
import {
  deleteDeviceData,
  deleteHeldDocs,
  deletePlan,
  deletePlanDocs,
  deviceKey,
  loadDeviceState,
  loadHeldRows,
  newDeviceState,
  PlanEntryWriter,
  readPlanDeviations,
  readPlanEntries,
  saveDeviceState,
  storePlanDeviations,
  storePlanEntries,
  writeHeldDelta,
  writeInitialHeldSet,
  type DeviceState,
  type HeldDelta,
  type LoadedDeviceState,
  type PlanEntry,
  type SyncPlan,
} from './device-state';
import { nextSyncSeconds } from './metadata';
import type { DownloadChange, DownloadRequest, DownloadResponse, DownloadWarning } from './sync-protocol';

/** Changes read per `readChanges` call of an incremental sync. */
const CHANGE_PAGE_SIZE = 1000;
/** Past this many changed rows, recomputing the set is cheaper than judging each row. */
const MAX_ROW_BY_ROW_CHANGES = 20_000;

/** What a download needs besides the request. */
export interface DownloadContext {
  store: TenantStore;
  principal: Principal;
  clock: Clock;
}

/** Everything decided once per request. */
interface RequestScope {
  ctx: DownloadContext;
  request: DownloadRequest;
  userId: string;
  /** The compiled profile's entities, items, associations and stripping (clock-independent parts). */
  compiled: CompiledDeviceProfile;
  /** The compiled profile for membership decisions: filters read the clock in this request. */
  membership: () => CompiledDeviceProfile;
  stamp: SyncStamp;
  settings: TenantSettings;
  key: Buffer;
  loaded: LoadedDeviceState;
  /** Rows read while planning in this request (the first page of an initial plan), by entity and id. */
  scanned: Map<string, StoredRecord>;
}

/** Work to finish once the state document is saved (or to undo when saving fails). */
interface Housekeeping {
  afterSave: (() => Promise<void>)[];
  onFailure: (() => Promise<void>)[];
}

/**
 * `POST sync/{org}/download` (SPEC §6): the next page of changes for a device.
 *
 * Without a checkpoint a new epoch starts: the store's head cursor is taken first, then every row the
 * device may hold is computed and sent in pages. With a checkpoint, the checkpoint's page sequence
 * number tells what the device applied: the newest page's number acknowledges it (its changes join
 * the held set), the one before means the newest page was lost (it is forgotten and recomputed). Once
 * a sync's pages are all acknowledged, later calls send what changed since: nothing at once when
 * nothing changed; each changed row judged on its own when no association or version is involved;
 * otherwise the set recomputed and diffed against what the device holds. Removals are exact.
 *
 * @throws AppError `ValidationFailed` (detail `CheckpointInvalid`) for a forged, altered or foreign
 * checkpoint; `Conflict` (detail `CheckpointStale`) for a checkpoint of an earlier epoch or page:
 * the device must start over without one; `RowLimitExceeded` past the hard row limit; the errors of
 * {@link resolveSyncCaller}.
 */
export async function downloadChanges(
  ctx: DownloadContext,
  request: DownloadRequest,
): Promise<DownloadResponse> {
  const { store, clock } = ctx;
  const caller = await resolveSyncCaller(store, ctx.principal, request.app);
  const [entities, metadataVersion, settings, key] = await Promise.all([
    loadEntities(store),
    getMetadataVersion(store),
    getTenantSettings(store),
    loadCheckpointKey(store),
  ]);
  const profile = compiledProfileFor(store, caller.user.id, caller.profile, entities, caller.context, clock);
  const compiled = profile.shape;
  const stamp: SyncStamp = {
    metadataVersion: metadataVersion.version,
    profile: `${caller.profile.id}@${caller.profile.version}`,
    directoryVersion: caller.directoryVersion,
    hiddenColumns: compiled.hiddenColumns,
    day: compiled.clockDependent ? clock.now().toISOString().slice(0, 10) : null,
  };
  const loaded = await loadDeviceState(store, deviceKey(caller.user.id, request.deviceId));
  const scope: RequestScope = {
    ctx,
    request,
    userId: caller.user.id,
    compiled,
    membership: () => profile.withCurrentClock(),
    stamp,
    settings,
    key,
    loaded,
    scanned: new Map(),
  };
  const housekeeping: Housekeeping = { afterSave: [], onFailure: [] };

  let state: DeviceState;
  let changed: boolean;
  if (request.checkpoint === undefined) {
    state = await startEpoch(scope);
    changed = true;
  } else {
    const payload = verifyCheckpoint(key, request.checkpoint, {
      org: store.org,
      user: caller.user.id,
      device: request.deviceId,
    });
    const current = loaded.state;
    if (current === undefined || current.epoch !== payload.epoch) throw stale('of an earlier download');
    state = structuredClone(current);
    if (payload.seq === state.issuedSeq && state.pending !== null) {
      await acknowledgePage(scope, state, housekeeping);
      changed = true;
    } else if (payload.seq === state.baseSeq) {
      // The page issued after this checkpoint never arrived (or is being retried): forget it.
      changed = state.pending !== null;
      state.pending = null;
    } else {
      throw stale('older than the last page the device acknowledged');
    }
    if (state.plan === null) changed = (await planIncrementalSync(scope, state, housekeeping)) || changed;
  }

  let changes: DownloadChange[] = [];
  if (state.plan !== null && state.plan.offset < state.plan.total) {
    changes = await sendPage(scope, state);
    changed = true;
  }
  if (changed) await save(scope, state, housekeeping);
  return respond(scope, state, changes);
}

function stale(why: string): AppError {
  const message = `The checkpoint is ${why}; start a new download without a checkpoint.`;
  return new AppError('Conflict', message, {
    details: [{ path: 'checkpoint', code: 'CheckpointStale', message }],
  });
}

/** A download without a checkpoint: forget the device's previous state and plan every row. */
async function startEpoch(scope: RequestScope): Promise<DeviceState> {
  const { store } = scope.ctx;
  const key = scope.loaded.key;
  // The cursor is taken before the scan, so a write during the scan is re-read by the next sync.
  const cursor = await store.headCursor();
  // The plan is written while the set is scanned, chunk by chunk: neither the set nor an array of its
  // entries is ever held (for 200,000 rows they held ~35 MB, which raised V8's next old-space limit
  // for the whole download). Past the hard limit rows are only counted, for the error's figure.
  const writer = new PlanEntryWriter(store, key, randomUUID().slice(0, 12));
  const limit = scope.settings.hardRowLimit;
  // The scan reads every member row: the first page's rows are kept, not read again to send them.
  const firstPage = scope.request.pageSize;
  let size = 0;
  let stored: Awaited<ReturnType<PlanEntryWriter['finish']>>;
  try {
    await visitDeviceSet(store, scope.membership(), (record) => {
      size += 1;
      if (scope.scanned.size < firstPage) scope.scanned.set(`${record.entity}\u0000${record.id}`, record);
      return size > limit ? undefined : writer.add([record.entity, record.id, 'u', record.version]);
    });
    enforceHardLimit(scope.settings, size);
    stored = await writer.finish();
  } catch (error) {
    await writer.discard();
    throw error;
  }
  // Only now is the device's previous state dropped: a refused download leaves it as it was.
  await deleteDeviceData(store, key, writer.planId);
  const state = newDeviceState(scope.ctx.principal.objectId);
  state.setSize = size;
  if (size === 0) {
    // Nothing to send: the device is already consistent with the cursor.
    state.cursor = cursor;
    state.stamp = scope.stamp;
  } else {
    state.plan = {
      id: writer.planId,
      phase: 'initial',
      cursor,
      stamp: scope.stamp,
      total: stored.total,
      offset: 0,
      inline: stored.inline,
    };
  }
  return state;
}

async function newPlan(
  scope: RequestScope,
  phase: SyncPlan['phase'],
  cursor: string,
  entries: Iterable<PlanEntry>,
): Promise<SyncPlan> {
  const id = randomUUID().slice(0, 12);
  const stored = await storePlanEntries(scope.ctx.store, scope.loaded.key, id, entries);
  return { id, phase, cursor, stamp: scope.stamp, total: stored.total, offset: 0, inline: stored.inline };
}

/** The device applied the newest page: its changes join the held set; a finished plan ends. */
async function acknowledgePage(
  scope: RequestScope,
  state: DeviceState,
  housekeeping: Housekeeping,
): Promise<void> {
  const { store } = scope.ctx;
  const pending = state.pending!;
  const plan = state.plan;
  if (plan?.phase === 'initial') {
    await acknowledgeInitialPage(scope, state, plan, housekeeping);
  } else if (pending.delta.length > 0) {
    const written = await writeHeldDelta(store, scope.loaded.key, state, pending.delta);
    state.heldGenerations = written.generations;
    housekeeping.afterSave.push(() => deleteHeldDocs(store, written.replaced));
    housekeeping.onFailure.push(() => deleteHeldDocs(store, written.written));
  }
  state.baseSeq = pending.seq;
  state.pending = null;
  if (plan === null) return;
  plan.offset = pending.offsetAfter;
  if (plan.offset >= plan.total) {
    state.cursor = plan.cursor;
    state.stamp = plan.stamp;
    state.plan = null;
    housekeeping.afterSave.push(() => deletePlan(store, scope.loaded.key, plan));
  }
}

/**
 * An initial plan's page was applied. Its held set is the plan itself, so it is written once, when the
 * last page is acknowledged; until then only what pages sent differently from the plan is kept.
 */
async function acknowledgeInitialPage(
  scope: RequestScope,
  state: DeviceState,
  plan: SyncPlan,
  housekeeping: Housekeeping,
): Promise<void> {
  const { store } = scope.ctx;
  const key = scope.loaded.key;
  const pending = state.pending!;
  if (pending.offsetAfter >= plan.total) {
    const deviations = [...(await readPlanDeviations(store, key, plan.id)), ...pending.delta];
    const written = await writeInitialHeldSet(store, key, state, plan, deviations);
    state.heldGenerations = written.generations;
    housekeeping.afterSave.push(() => deleteHeldDocs(store, written.replaced));
    housekeeping.onFailure.push(() => deleteHeldDocs(store, written.written));
  } else if (pending.delta.length > 0) {
    const id = await storePlanDeviations(store, key, plan.id, pending.seq, pending.delta);
    housekeeping.onFailure.push(() => deletePlanDocs(store, [id]));
  }
}

function sameStamp(a: SyncStamp, b: SyncStamp): boolean {
  return (
    a.metadataVersion === b.metadataVersion &&
    a.profile === b.profile &&
    a.directoryVersion === b.directoryVersion &&
    a.hiddenColumns === b.hiddenColumns &&
    a.day === b.day
  );
}

/**
 * Plans the changes since the device's cursor. Returns whether the state changed (a new cursor, or a
 * plan); false is the fast path: nothing changed, nothing to write.
 */
async function planIncrementalSync(
  scope: RequestScope,
  state: DeviceState,
  housekeeping: Housekeeping,
): Promise<boolean> {
  const { store } = scope.ctx;
  const { compiled } = scope;
  let recompute = state.stamp === null || state.cursor === null || !sameStamp(state.stamp, scope.stamp);
  const changed = new Map<string, StoredRecord>();
  let cursor = state.cursor ?? undefined;
  if (!recompute) {
    for (;;) {
      const page = await store.readChanges(cursor, CHANGE_PAGE_SIZE);
      cursor = page.cursor;
      // A row may come again on a later page (Cosmos): the later state wins.
      for (const record of page.records) {
        // Rows of profile entities, and of intersect entities (they pair rows of two profile entities).
        if (compiled.entities.has(record.entity) || compiled.associationEntities.has(record.entity)) {
          changed.set(`${record.entity}\u0000${record.id}`, record);
        }
      }
      if (changed.size > MAX_ROW_BY_ROW_CHANGES) {
        recompute = true;
        break;
      }
      if (!page.more) break;
    }
    if (!recompute && cursor === state.cursor) return false;
  }

  let entries: PlanEntry[] = [];
  let size = state.setSize;
  let newCursor = cursor!;
  if (!recompute) {
    // Each changed row judged, and the rows linked to it when associations are involved.
    const delta = await judgeChangedRows(store, scope.membership(), [...changed.values()], (buckets) =>
      loadHeldRows(store, scope.loaded.key, state, buckets),
    );
    if (delta === undefined) recompute = true;
    else {
      entries = delta.entries;
      size += delta.sizeDelta;
    }
  }
  if (recompute) {
    newCursor = await store.headCursor();
    const set = await computeDeviceSet(store, scope.membership());
    const held = await loadHeldRows(store, scope.loaded.key, state);
    size = deviceSetSize(set);
    // Rows the device holds were stripped for other secured-column access: send them again.
    const resendAll = state.stamp !== null && state.stamp.hiddenColumns !== scope.stamp.hiddenColumns;
    for (const [entity, rows] of set) {
      const heldRows = held.get(entity);
      for (const [id, version] of rows) {
        if (resendAll || heldRows?.get(id) !== version) entries.push([entity, id, 'u', version]);
      }
    }
    for (const [entity, heldRows] of held) {
      const rows = set.get(entity);
      for (const [id, version] of heldRows)
        if (rows?.has(id) !== true) entries.push([entity, id, 'r', version]);
    }
  }
  enforceHardLimit(scope.settings, size);
  state.setSize = size;
  if (entries.length === 0) {
    state.cursor = newCursor;
    state.stamp = scope.stamp;
    return true;
  }
  state.plan = await newPlan(scope, 'incremental', newCursor, entries);
  const plan = state.plan;
  housekeeping.onFailure.push(() => deletePlan(store, scope.loaded.key, plan));
  return true;
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

/**
 * Sends the plan's next page: upserts carry the row as stored now (its current version, secured
 * columns stripped); a row deleted since the plan was made is sent as a removal. The page becomes
 * pending until the device acknowledges it.
 */
async function sendPage(scope: RequestScope, state: DeviceState): Promise<DownloadChange[]> {
  const { store } = scope.ctx;
  const plan = state.plan!;
  const initial = plan.phase === 'initial';
  const from = plan.offset;
  const to = Math.min(plan.total, from + scope.request.pageSize);
  const entries = await readPlanEntries(store, scope.loaded.key, plan, from, to);
  const idsByEntity = new Map<string, string[]>();
  const rows = new Map<string, StoredRecord>();
  for (const [entity, id, op] of entries) {
    if (op !== 'u') continue;
    const scanned = scope.scanned.get(`${entity}\u0000${id}`);
    if (scanned !== undefined) {
      rows.set(`${entity}\u0000${id}`, scanned);
      continue;
    }
    const ids = idsByEntity.get(entity) ?? [];
    idsByEntity.set(entity, ids);
    ids.push(id);
  }
  await Promise.all(
    [...idsByEntity].map(async ([entity, ids]) => {
      for (const record of await store.getRecords(entity, ids))
        rows.set(`${entity}\u0000${record.id}`, record);
    }),
  );
  const changes: DownloadChange[] = [];
  const delta: HeldDelta[] = [];
  for (const [entity, id, op, version] of entries) {
    if (op === 'r') {
      changes.push({ entity, id, op: 'remove', version });
      delta.push([entity, id, null]);
      continue;
    }
    const record = rows.get(`${entity}\u0000${id}`);
    const compiledEntity = scope.compiled.entities.get(entity);
    if (record === undefined || record.deleted || compiledEntity === undefined) {
      // Gone since the plan was made. The device may hold the row anyway (from an earlier version,
      // or from a copy of this page it applied without keeping the checkpoint): remove it.
      changes.push({ entity, id, op: 'remove', version });
      delta.push([entity, id, null]);
      continue;
    }
    changes.push({
      entity,
      id,
      op: 'upsert',
      version: record.version,
      row: compiledEntity.strip(record.attributes),
    });
    // An initial plan's page keeps only what differs from the plan (see acknowledgeInitialPage).
    if (!initial || record.version !== version) delta.push([entity, id, record.version]);
  }
  const seq = state.issuedSeq + 1;
  state.issuedSeq = seq;
  state.pending = { seq, offsetAfter: to, delta };
  return changes;
}

async function save(scope: RequestScope, state: DeviceState, housekeeping: Housekeeping): Promise<void> {
  try {
    await saveDeviceState(scope.ctx.store, scope.loaded, state);
  } catch (error) {
    for (const undo of housekeeping.onFailure) await undo();
    if (error instanceof AppError && (error.code === 'PreconditionFailed' || error.code === 'Conflict')) {
      throw new AppError('Conflict', 'Another download of this device ran at the same time; retry.', {
        details: [
          { path: 'deviceId', code: 'ConcurrentDownload', message: 'retry with the same checkpoint' },
        ],
        cause: error,
      });
    }
    throw error;
  }
  for (const finish of housekeeping.afterSave) await finish();
}

function respond(scope: RequestScope, state: DeviceState, changes: DownloadChange[]): DownloadResponse {
  const plan = state.plan;
  const seq = state.pending?.seq ?? state.baseSeq;
  const checkpoint = signCheckpoint(scope.key, {
    v: 1,
    org: scope.ctx.store.org,
    user: scope.userId,
    device: scope.request.deviceId,
    epoch: state.epoch,
    seq,
    phase: plan?.phase ?? 'incremental',
    cursor: plan?.cursor ?? state.cursor,
    stamp: plan?.stamp ?? state.stamp ?? scope.stamp,
  });
  const done = plan === null ? 0 : (state.pending?.offsetAfter ?? plan.offset);
  const total = plan?.total ?? 0;
  const warnings: DownloadWarning[] = [];
  if (state.setSize > scope.settings.softRowLimit) {
    warnings.push({
      code: 'SoftRowLimitExceeded',
      message: `This user's download holds ${state.setSize} rows, more than the soft row limit of ${scope.settings.softRowLimit}.`,
      details: { limit: 'softRowLimit', softRowLimit: scope.settings.softRowLimit, count: state.setSize },
    });
  }
  return {
    changes,
    checkpoint,
    more: plan !== null && done < total,
    progress: { done, total, percent: total === 0 ? 100 : Math.floor((done * 100) / total) },
    ...(warnings.length > 0 ? { warnings } : {}),
    nextSyncSeconds: nextSyncSeconds(scope.compiled, scope.settings),
  };
}
