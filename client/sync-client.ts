import {
  NEXT_CHECKPOINT_HEADER,
  syncMetadataResponseSchema,
  type DownloadChange,
  type DownloadResponse,
  type DownloadWarning,
  type SyncMetadataResponse,
} from '../shared/sync/sync-protocol';
import {
  MAX_UPLOAD_OPERATIONS,
  syncErrorsResponseSchema,
  uploadResponseSchema,
  type SyncErrorEntry,
  type UploadOperation,
  type UploadOutcome,
  type UploadResult,
} from '../shared/sync/upload/upload-protocol';
import { downloadPageEnvelopeSchema, readDownloadPage } from './download-page';
import type { LocalStore, LocalStoreTransaction, LocalSyncError, OutboxEntry, RowData } from './local-store';
import {
  createChangeFeed,
  createTable,
  watchQuery,
  type RowOf,
  type Table,
  type TableSchema,
} from './live-query';
import { serverImageOf, settleRow, type ServerImage } from './local-view';
import type { RowQuery } from './query';
import { timerSleep, webRandomUUID } from './portable';
import { createSyncStatusStore, type SyncStatus } from './sync-status';
import { createSyncTransport, SyncClientError, type RetryPolicy, type SyncTransport } from './sync-transport';

/** Where a sync is. `download` events carry the server's rows done / total of this download. */
export interface SyncProgress {
  phase: 'metadata' | 'upload' | 'download' | 'done';
  done: number;
  total: number;
  percent: number;
  /** True during a device's first (full) download. */
  initial: boolean;
}

/** What one `sync()` did. */
export interface SyncSummary {
  /** Operations the server applied (duplicates of applied ones included). */
  uploaded: number;
  /** Operations that met a newer server row (conflict detection on): the server's row was kept. */
  conflicts: number;
  /** Operations the server refused: reverted locally and listed in `syncErrors()`. */
  rejected: number;
  /** Rows upserted by the download. */
  downloaded: number;
  /** Rows removed by the download. */
  removed: number;
  /** Download pages applied. */
  pages: number;
  /** True when the metadata version changed (or was first downloaded) and was applied. */
  metadataChanged: boolean;
  /** When the server asks the device to sync next. */
  nextSyncSeconds: number;
  warnings: DownloadWarning[];
  durationMs: number;
}

/**
 * The download page size the SDK asks for unless told otherwise: smaller than the server's largest
 * (5,000). The device asks for each next page as soon as a page's headers arrive, so the server
 * prepares one page while the device receives and writes the one before; smaller pages get both at
 * work sooner and keep each request's garbage smaller. Measured on bench workload 8 (10,565 rows,
 * 2 shared cores, alternating runs): medians of 252–299 ms in five runs at 2,000 against 272–343 ms
 * in ten at 5,000, for 2.4% more bytes on the wire.
 */
export const DEFAULT_PAGE_SIZE = 2000;

/** Options of {@link createSyncClient}. */
export interface SyncClientOptions {
  /** The server's root, e.g. `https://contoso-sync.azurewebsites.net` (routes are under `/api`). */
  baseUrl: string;
  /** The tenant. */
  org: string;
  /** The app module (e.g. `field-sales`). */
  app: string;
  /** This device's stable id. */
  deviceId: string;
  /** Returns a valid access token; called before every request (refresh inside it). */
  getToken: () => Promise<string> | string;
  store: LocalStore;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  onProgress?: (progress: SyncProgress) => void;
  retry?: Partial<RetryPolicy>;
  /** The `Accept-Encoding` to send (default: `br, gzip` on Node.js, the platform's own elsewhere). */
  acceptEncoding?: string;
  /** Download page size (default {@link DEFAULT_PAGE_SIZE}; the server serves at most 5,000). */
  pageSize?: number;
  /** Clock for timestamps (tests). */
  now?: () => Date;
  /**
   * New operation and row ids (default: Web Crypto's `crypto.randomUUID()`; on React Native without
   * a polyfill, pass e.g. expo-crypto's `randomUUID`).
   */
  randomId?: () => string;
}

/**
 * The device SDK: offline reads and writes on the local store, and `sync()` with the server. `Schema`
 * types the rows of `table()` and `watch()` (from `npm run cli -- generate-types`, or written by hand).
 */
export interface SyncClient<Schema extends TableSchema = Record<string, RowData>> {
  /** Metadata check, upload of the outbox, download to the end. Concurrent calls share one run. */
  sync(): Promise<SyncSummary>;
  /** Creates a row offline; returns its id (a new UUID unless the row or `id` names one). */
  create(entity: string, row: RowData, id?: string): Promise<string>;
  /** Changes columns of a row offline; only these columns are uploaded. */
  update(entity: string, id: string, changes: RowData): Promise<void>;
  /** Deletes a row offline. */
  delete(entity: string, id: string): Promise<void>;
  get(entity: string, id: string): Promise<RowData | undefined>;
  list(entity: string): Promise<RowData[]>;
  /** Outbox entries not yet uploaded. */
  pending(): Promise<OutboxEntry[]>;
  /** Rejected and conflicting operations kept on the device, newest first. */
  syncErrors(): Promise<LocalSyncError[]>;
  /** Records a kept failed operation again as a new outbox entry (uploaded by the next sync). */
  retrySyncError(id: string): Promise<void>;
  dismissSyncError(id: string): Promise<void>;
  /** The server's sync error log entries of this device. */
  serverSyncErrors(): Promise<SyncErrorEntry[]>;
  /** The metadata last applied, if any. */
  metadata(): Promise<SyncMetadataResponse | undefined>;
  /** The sync status now (phase, online, progress, lastSyncedAt, hasSynced, lastError). */
  status(): SyncStatus;
  /** Calls `listener` with each new status; returns the function that unsubscribes it. */
  subscribeStatus(listener: (status: SyncStatus) => void): () => void;
  /** Tells the client the platform's network state (the sync loop does, from online / offline events). */
  setOnline(online: boolean): void;
  /** A query of one entity's local rows: `.where({...}).orderBy(col).limit(n).get()` or `.watch(cb)`. */
  table<E extends string & keyof Schema>(entity: E): Table<RowOf<Schema, E>>;
  /**
   * Live query: `callback` gets the rows now and after each change of the entity (a local write, an
   * upload result, an applied download page) that changes them. Returns the function that stops it.
   */
  watch<Row>(
    query: RowQuery<Row> | Table<Row>,
    callback: (rows: Row[]) => void,
    onError?: (error: unknown) => void,
  ): () => void;
  /** Called with the entities whose local rows changed, after each local write and each applied page. */
  onChange(listener: (entities: ReadonlySet<string>) => void): () => void;
}

/** Detail codes of a checkpoint the server no longer accepts: start over with a full download. */
const RESTART_CODES = new Set(['CheckpointStale', 'CheckpointInvalid']);
const CONCURRENT_DOWNLOAD = 'ConcurrentDownload';

function detailCodes(error: SyncClientError): string[] {
  return Array.isArray(error.details)
    ? error.details.flatMap((d: unknown) =>
        typeof d === 'object' && d !== null && typeof (d as { code?: unknown }).code === 'string'
          ? [(d as { code: string }).code]
          : [],
      )
    : [];
}

/** What an upload result came to, a duplicate read as its original outcome. */
function outcomeOf(result: UploadResult): UploadOutcome {
  if (result.status !== 'duplicate') return { ...result, status: result.status };
  if (result.original) return result.original;
  // A duplicate repeats the first result's fields; without `original`, an absent error means applied.
  return {
    status: result.error ? 'rejected' : 'applied',
    ...(result.version === undefined ? {} : { version: result.version }),
    ...(result.row === undefined ? {} : { row: result.row }),
    ...(result.error === undefined ? {} : { error: result.error }),
  };
}

/**
 * Creates the device SDK over an app-provided {@link LocalStore} (SPEC §6). Writes are applied to the
 * local store at once and recorded in its outbox with an operation id and the server version they were
 * based on; `sync()` uploads them, applies each result (applied: new version; conflict: the server's
 * row replaces the local copy; rejected: the change is reverted and kept in `syncErrors()`), then
 * downloads page by page, each page's rows and checkpoint in one store transaction.
 */
export function createSyncClient<Schema extends TableSchema = Record<string, RowData>>(
  options: SyncClientOptions,
): SyncClient<Schema> {
  const { store, app, deviceId } = options;
  const now = options.now ?? (() => new Date());
  const randomId = options.randomId ?? webRandomUUID;
  const sleep = options.sleep ?? timerSleep;
  const transport: SyncTransport = createSyncTransport(options);
  const emit = (progress: SyncProgress): void => options.onProgress?.(progress);
  let running: Promise<SyncSummary> | undefined;
  const status = createSyncStatusStore();
  const feed = createChangeFeed();
  /** Rows applied per entity in the running sync's download (the status's per-entity progress). */
  let entityCounts: Record<string, number> = {};

  async function requireEntity(tx: LocalStoreTransaction, entity: string): Promise<{ primaryId: string }> {
    const { metadata } = await tx.readState();
    const found = metadata?.entities.find((e) => e.logicalName === entity);
    if (!found) {
      throw new SyncClientError(
        'NotFound',
        `'${entity}' is not an entity of this device's profile (sync first).`,
      );
    }
    return { primaryId: found.primaryIdAttribute };
  }

  async function record(
    tx: LocalStoreTransaction,
    entry: Omit<OutboxEntry, 'seq' | 'afterOpId' | 'baseVersion' | 'opId' | 'createdAt'>,
  ): Promise<void> {
    const local = await tx.getRow(entry.entity, entry.id);
    const earlier = await tx.outboxOf(entry.entity, entry.id);
    const last = earlier.at(-1);
    // A change on top of a pending one is based on that one's result: its version is filled in once
    // the earlier entry is answered.
    const base = last
      ? { afterOpId: last.opId }
      : local?.version === undefined
        ? {}
        : { baseVersion: local.version };
    await tx.addOutbox({ ...entry, ...base, opId: randomId(), createdAt: now().toISOString() });
    await settleRow(tx, entry.entity, entry.id, serverImageOf(local));
  }

  async function uploadOutbox(summary: SyncSummary): Promise<void> {
    const total = (await store.transaction((tx) => tx.listOutbox())).length;
    let done = 0;
    if (total > 0) {
      emit({ phase: 'upload', done, total, percent: 0, initial: false });
      status.dispatch({ type: 'upload', done, total });
    }
    for (;;) {
      const outbox = await store.transaction((tx) => tx.listOutbox());
      // One entry per row per batch: a later entry of the same row waits for the earlier one's version.
      const seen = new Set<string>();
      const batch: OutboxEntry[] = [];
      for (const entry of outbox) {
        const key = `${entry.entity}\u0000${entry.id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        batch.push(entry);
        if (batch.length >= MAX_UPLOAD_OPERATIONS) break;
      }
      if (batch.length === 0) return;
      const operations: UploadOperation[] = batch.map((e) => ({
        opId: e.opId,
        entity: e.entity,
        id: e.id,
        op: e.op,
        ...(e.row === undefined || e.op === 'delete' ? {} : { row: e.row }),
        ...(e.baseVersion === undefined ? {} : { baseVersion: e.baseVersion }),
      }));
      const response = await transport.request('POST', 'upload', uploadResponseSchema, {
        app,
        deviceId,
        operations,
      });
      const byOpId = new Map(response.results.map((r) => [r.opId, r]));
      await store.transaction(async (tx) => {
        for (const entry of batch) {
          const result = byOpId.get(entry.opId);
          if (!result)
            throw new SyncClientError('BadResponse', `The upload answer has no result for ${entry.opId}.`);
          const outcome = outcomeOf(result);
          await applyOutcome(tx, entry, outcome);
          if (outcome.status === 'applied') summary.uploaded++;
          else if (outcome.status === 'conflict') summary.conflicts++;
          else summary.rejected++;
        }
      });
      feed.notify(batch.map((e) => e.entity));
      done += batch.length;
      emit({
        phase: 'upload',
        done,
        total: Math.max(total, done),
        percent: Math.min(100, Math.round((done / Math.max(total, done)) * 100)),
        initial: false,
      });
      status.dispatch({ type: 'upload', done, total: Math.max(total, done) });
    }
  }

  async function applyOutcome(
    tx: LocalStoreTransaction,
    entry: OutboxEntry,
    outcome: UploadOutcome,
  ): Promise<void> {
    const local = await tx.getRow(entry.entity, entry.id);
    await tx.deleteOutbox(entry.opId);
    for (const next of await tx.outboxOf(entry.entity, entry.id)) {
      if (next.afterOpId !== entry.opId) continue;
      const baseVersion = outcome.status === 'applied' ? outcome.version : entry.baseVersion;
      const { afterOpId: _after, baseVersion: _old, ...rest } = next;
      await tx.updateOutbox({ ...rest, ...(baseVersion === undefined ? {} : { baseVersion }) });
    }
    if (outcome.status === 'applied') {
      // A row the download removed meanwhile stays removed: the server no longer counts it as held.
      if (local === undefined && entry.op !== 'create') return;
      let image: ServerImage;
      if (entry.op === 'delete') image = { row: null };
      else {
        const row = outcome.row ?? { ...(serverImageOf(local).row ?? {}), ...entry.row };
        image = { row, ...(outcome.version === undefined ? {} : { version: outcome.version }) };
      }
      await settleRow(tx, entry.entity, entry.id, image);
      return;
    }
    const error: LocalSyncError = {
      id: entry.opId,
      time: now().toISOString(),
      entity: entry.entity,
      recordId: entry.id,
      op: entry.op,
      ...(entry.row === undefined ? {} : { row: entry.row }),
      status: outcome.status,
      error: outcome.error ?? { code: 'Conflict', message: 'The server holds a newer version of the row.' },
    };
    await tx.putSyncError(error);
    if (outcome.status === 'conflict') {
      // Server wins: its row replaces the local copy (absent: the server no longer has the row).
      const image: ServerImage =
        outcome.row === undefined
          ? { row: null }
          : { row: outcome.row, ...(outcome.version === undefined ? {} : { version: outcome.version }) };
      await settleRow(tx, entry.entity, entry.id, image);
    } else if (local !== undefined) {
      // Rejected: back to the saved server image, with any later pending changes laid over it.
      await settleRow(tx, entry.entity, entry.id);
    }
  }

  async function applyPage(
    changes: DownloadChange[],
    checkpoint: string,
    summary: SyncSummary,
  ): Promise<void> {
    let removed = 0;
    const counts: Record<string, number> = {};
    for (const change of changes) {
      if (change.op === 'remove') removed++;
      counts[change.entity] = (counts[change.entity] ?? 0) + 1;
    }
    await store.transaction(async (tx) => {
      const outbox = await tx.listOutbox();
      const pending = new Set(outbox.map((e) => `${e.entity}\u0000${e.id}`));
      // Runs of rows without pending changes go to the store in one call (in order); a row with
      // pending changes is rebased under them between runs.
      let run: DownloadChange[] = [];
      const flush = async (): Promise<void> => {
        if (run.length === 0) return;
        await applyServerChanges(tx, run);
        run = [];
      };
      for (const change of changes) {
        if (pending.size === 0 || !pending.has(`${change.entity}\u0000${change.id}`)) {
          run.push(change);
          continue;
        }
        await flush();
        const image =
          change.op === 'remove' ? { row: null } : { row: change.row ?? {}, version: change.version };
        await settleRow(tx, change.entity, change.id, image);
      }
      await flush();
      // Same transaction as the rows: the checkpoint never runs ahead of what is applied.
      await tx.saveCheckpoint(checkpoint);
    });
    summary.removed += removed;
    summary.downloaded += changes.length - removed;
    summary.pages++;
    for (const [entity, n] of Object.entries(counts)) entityCounts[entity] = (entityCounts[entity] ?? 0) + n;
    feed.notify(Object.keys(counts));
  }

  /** Server changes of rows without pending changes: the store's batch path, else row by row. */
  async function applyServerChanges(tx: LocalStoreTransaction, changes: DownloadChange[]): Promise<void> {
    if (tx.applyServerChanges) {
      await tx.applyServerChanges(changes);
      return;
    }
    for (const change of changes) {
      if (change.op === 'remove') await tx.deleteRow(change.entity, change.id);
      else
        await tx.putRow({
          entity: change.entity,
          id: change.id,
          row: change.row ?? {},
          version: change.version,
          pending: false,
        });
    }
  }

  async function restartDownload(): Promise<void> {
    // The server forgot this device's state: drop server rows (pending local changes stay) and start over.
    const entities = await store.transaction(async (tx) => {
      const { metadata } = await tx.readState();
      for (const entity of metadata?.entities ?? []) {
        for (const row of await tx.listRows(entity.logicalName)) {
          if (row.pending) await settleRow(tx, entity.logicalName, row.id, { row: null });
          else await tx.deleteRow(entity.logicalName, row.id);
        }
      }
      await tx.saveCheckpoint(undefined);
      return (metadata?.entities ?? []).map((e) => e.logicalName);
    });
    feed.notify(entities);
  }

  /**
   * A page asked for, and the one after it once asked for. The next page is asked for as soon as
   * this one's headers arrive (its checkpoint comes in one, NEXT_CHECKPOINT_HEADER), so the server
   * works on it while the body is on its way and written — but only once the loop waits for this
   * page, so at most one page runs ahead of the last one written. If this page is then lost (its
   * body cut off, its write failed), the device asks again with the checkpoint before it, and the
   * server takes back both pages (download.ts `takeBackPrevious`) and sends this one again.
   */
  interface PageRequest {
    page: Promise<DownloadResponse>;
    /** The checkpoint the header gave, once the headers have arrived. */
    received?: string;
    /** The loop waits for this page: the next may be asked for. */
    awaited: boolean;
    next?: { checkpoint: string; request: PageRequest };
  }

  /** Asks for the page after `checkpoint` (undefined: the first page of a full download). */
  function requestPage(checkpoint: string | undefined): PageRequest {
    const request: PageRequest = { awaited: false } as PageRequest;
    request.page = transport
      .request(
        'POST',
        'download',
        downloadPageEnvelopeSchema,
        {
          app,
          deviceId,
          ...(checkpoint === undefined ? {} : { checkpoint }),
          pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE,
          format: 'tables',
        },
        {
          onHeaders: (headers) => {
            const next = headers.get(NEXT_CHECKPOINT_HEADER);
            if (next === null || next === '') return;
            request.received = next;
            if (request.awaited) askNext(request);
          },
        },
      )
      .then(readDownloadPage);
    return request;
  }

  /** Asks for the page after `request` once its checkpoint is known and the loop waits for it. */
  function askNext(request: PageRequest): void {
    if (request.next !== undefined || request.received === undefined || !request.awaited) return;
    const next = requestPage(request.received);
    // Its failure is handled where it is awaited; if it is never awaited, it is dropped.
    next.page.catch(() => undefined);
    request.next = { checkpoint: request.received, request: next };
  }

  async function download(summary: SyncSummary): Promise<void> {
    let { checkpoint } = await store.transaction((tx) => tx.readState());
    let initial = checkpoint === undefined;
    let restarted = false;
    let concurrentRetries = 0;
    /** The next page, asked for while the one before it is written: the server works as the device does. */
    let prefetched: PageRequest | undefined;
    for (;;) {
      let page: DownloadResponse;
      const current = prefetched ?? requestPage(checkpoint);
      prefetched = undefined;
      try {
        current.awaited = true;
        askNext(current);
        page = await current.page;
      } catch (error) {
        if (!(error instanceof SyncClientError)) throw error;
        const codes = detailCodes(error);
        if (!restarted && checkpoint !== undefined && codes.some((c) => RESTART_CODES.has(c))) {
          restarted = true;
          await restartDownload();
          checkpoint = undefined;
          initial = true;
          continue;
        }
        if (codes.includes(CONCURRENT_DOWNLOAD) && concurrentRetries < 3) {
          concurrentRetries++;
          await sleep(500 * concurrentRetries);
          continue;
        }
        throw error;
      }
      if (page.more) {
        // Asked for before this page is committed: a device whose write fails resumes from the
        // checkpoint it saved, and the server sends this page again (see PageRequest). Asked for here when the header did not give the checkpoint.
        prefetched = current.next?.checkpoint === page.checkpoint ? current.next.request : undefined;
        if (prefetched === undefined) {
          prefetched = requestPage(page.checkpoint);
          prefetched.page.catch(() => undefined);
        }
      }
      await applyPage(page.changes, page.checkpoint, summary);
      checkpoint = page.checkpoint;
      summary.nextSyncSeconds = page.nextSyncSeconds;
      for (const warning of page.warnings ?? []) {
        if (!summary.warnings.some((w) => w.code === warning.code)) summary.warnings.push(warning);
      }
      emit({ phase: 'download', ...page.progress, initial });
      status.dispatch({ type: 'download', ...page.progress, initial, entities: { ...entityCounts } });
      if (!page.more) return;
    }
  }

  async function runSync(): Promise<SyncSummary> {
    const started = Date.now();
    const summary: SyncSummary = {
      uploaded: 0,
      conflicts: 0,
      rejected: 0,
      downloaded: 0,
      removed: 0,
      pages: 0,
      metadataChanged: false,
      nextSyncSeconds: 0,
      warnings: [],
      durationMs: 0,
    };
    emit({ phase: 'metadata', done: 0, total: 1, percent: 0, initial: false });
    const metadata = await transport.request(
      'GET',
      `metadata?app=${encodeURIComponent(app)}`,
      syncMetadataResponseSchema,
    );
    summary.nextSyncSeconds = metadata.syncIntervalSeconds;
    await store.transaction(async (tx) => {
      const held = (await tx.readState()).metadata;
      if (
        held?.metadataVersion !== metadata.metadataVersion ||
        held.profile.id !== metadata.profile.id ||
        held.profileVersion !== metadata.profileVersion
      ) {
        // New tables are created and existing rows kept; removals for rows that left come from the server.
        await tx.saveMetadata(metadata);
        summary.metadataChanged = true;
      }
    });
    emit({ phase: 'metadata', done: 1, total: 1, percent: 100, initial: false });
    await uploadOutbox(summary);
    await download(summary);
    summary.durationMs = Date.now() - started;
    emit({ phase: 'done', done: 1, total: 1, percent: 100, initial: false });
    return summary;
  }

  async function trackedSync(): Promise<SyncSummary> {
    entityCounts = {};
    status.dispatch({ type: 'started' });
    try {
      const summary = await runSync();
      status.dispatch({ type: 'succeeded', at: now().toISOString() });
      return summary;
    } catch (error) {
      status.dispatch({
        type: 'failed',
        error:
          error instanceof SyncClientError
            ? { code: error.code, message: error.message }
            : { code: 'Error', message: error instanceof Error ? error.message : String(error) },
      });
      throw error;
    }
  }

  return {
    sync() {
      running ??= trackedSync().finally(() => {
        running = undefined;
      });
      return running;
    },
    status: () => status.get(),
    subscribeStatus: (listener) => status.subscribe(listener),
    setOnline: (online) => status.dispatch({ type: online ? 'online' : 'offline' }),
    table: (entity) => createTable(store, feed, { entity }),
    watch: (query, callback, onError) =>
      watchQuery(store, feed, 'query' in query ? query.query : query, callback, onError),
    onChange: (listener) => feed.subscribe(listener),
    async create(entity, row, id) {
      const created = await store.transaction(async (tx) => {
        const { primaryId } = await requireEntity(tx, entity);
        const given = row[primaryId];
        const rowId = id ?? (typeof given === 'string' && given !== '' ? given : randomId());
        const existing = await tx.getRow(entity, rowId);
        if (existing?.row)
          throw new SyncClientError('Conflict', `${entity} ${rowId} already exists on the device.`);
        await record(tx, { entity, id: rowId, op: 'create', row: { ...row, [primaryId]: rowId } });
        return rowId;
      });
      feed.notify([entity]);
      return created;
    },
    async update(entity, id, changes) {
      await store.transaction(async (tx) => {
        await requireEntity(tx, entity);
        const existing = await tx.getRow(entity, id);
        if (!existing?.row) throw new SyncClientError('NotFound', `${entity} ${id} is not on the device.`);
        await record(tx, { entity, id, op: 'update', row: { ...changes } });
      });
      feed.notify([entity]);
    },
    async delete(entity, id) {
      await store.transaction(async (tx) => {
        await requireEntity(tx, entity);
        const existing = await tx.getRow(entity, id);
        if (!existing?.row) throw new SyncClientError('NotFound', `${entity} ${id} is not on the device.`);
        await record(tx, { entity, id, op: 'delete' });
      });
      feed.notify([entity]);
    },
    async get(entity, id) {
      const local = await store.transaction((tx) => tx.getRow(entity, id));
      return local?.row ?? undefined;
    },
    async list(entity) {
      const rows = await store.transaction((tx) => tx.listRows(entity));
      return rows.flatMap((r) => (r.row ? [r.row] : []));
    },
    pending: () => store.transaction((tx) => tx.listOutbox()),
    syncErrors: () => store.transaction((tx) => tx.listSyncErrors()),
    async retrySyncError(id) {
      const entity = await store.transaction(async (tx) => {
        const error = (await tx.listSyncErrors()).find((e) => e.id === id);
        if (!error) throw new SyncClientError('NotFound', `No sync error ${id} on the device.`);
        const existing = await tx.getRow(error.entity, error.recordId);
        if (error.op !== 'create' && !existing?.row) {
          throw new SyncClientError(
            'NotFound',
            `${error.entity} ${error.recordId} is no longer on the device.`,
          );
        }
        await record(tx, {
          entity: error.entity,
          id: error.recordId,
          op: error.op,
          ...(error.row === undefined ? {} : { row: error.row }),
        });
        await tx.deleteSyncError(id);
        return error.entity;
      });
      feed.notify([entity]);
    },
    dismissSyncError: (id) => store.transaction((tx) => tx.deleteSyncError(id)),
    async serverSyncErrors() {
      const response = await transport.request(
        'GET',
        `errors?deviceId=${encodeURIComponent(deviceId)}`,
        syncErrorsResponseSchema,
      );
      return response.errors;
    },
    async metadata() {
      return (await store.transaction((tx) => tx.readState())).metadata;
    },
  };
}
