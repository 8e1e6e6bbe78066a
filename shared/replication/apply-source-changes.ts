import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { AppError } from '../errors';
import { compareVersions, versionSchema } from '../model/record';
import type { SourceChange } from '../sources/port';
import type { RecordWrite, RecordWriteResult, TenantStore } from '../store/port';

/** A change to apply: a source change, possibly partial (only the changed columns, merged). */
export type ReplicationChange = SourceChange & { partial?: boolean };

export interface ApplySourceChangesOptions {
  /** Writes per `applyRecordWrites` call (one bulk operation). */
  chunkSize?: number;
  /**
   * Most bytes (UTF-8) of JSON a row's attributes may take; a larger row is not written (see
   * {@link ApplySummary.tooLarge}). Default {@link DEFAULT_MAX_ROW_BYTES}.
   */
  maxRowBytes?: number;
}

/**
 * Default per-row cap, checked before a write: 1.5 MiB of attribute JSON. Cosmos DB refuses an item
 * over 2 MB (the UTF-8 length of its JSON), and a row's item also carries its look-up keys (a copy of
 * its short text values, its numbers and dates), id, version and system properties: the half MiB
 * left over is their headroom. A row that still does not fit is refused by the store with
 * `PayloadTooLarge` (Cosmos 413) and skipped the same way.
 */
export const DEFAULT_MAX_ROW_BYTES = 1_572_864;

/** A row that could not be stored because it is too large: skipped, never retried. */
export interface TooLargeRow {
  entity: string;
  id: string;
  /** The source version that was not stored. */
  version: string | undefined;
  /** Bytes of its attribute JSON. */
  bytes: number;
  /** Who refused it: the cap checked before the write, or the store itself (Cosmos 413). */
  refusedBy: 'cap' | 'store';
}

/** What applying did, per change. */
export interface ApplySummary {
  /** Changes that became the stored state. */
  applied: number;
  /** Changes older than (or as old as) what is stored: left out, as idempotence requires. */
  stale: number;
  /** Deletes without a version of rows that are not stored or already deleted: nothing to do. */
  skipped: number;
  /**
   * Upserts not written because the row is larger than a row may be (the cap, or the store's own
   * limit): what was stored before stays. Absent when there were none.
   */
  tooLarge?: TooLargeRow[];
}

const DEFAULT_CHUNK_SIZE = 500;
/** A versionless delete that keeps meeting a concurrent writer is retried this often, then the run fails. */
const MAX_CAS_ATTEMPTS = 3;

interface Known {
  version: string;
  deleted: boolean;
}

const keyOf = (entity: string, id: string): string => `${entity}\u0000${id}`;

/** `version + 1` on the decimal strings versions are kept as (beyond 2^53 too). */
export function nextVersion(version: string): string {
  return (BigInt(version) + 1n).toString();
}

/** Bytes (UTF-8) of a row's attributes as JSON. */
export function rowBytes(attributes: Readonly<Record<string, unknown>>): number {
  return Buffer.byteLength(JSON.stringify(attributes), 'utf8');
}

/**
 * An upper bound of {@link rowBytes} that costs a walk and no serialization (a sixth of the time):
 * every character may take 6 bytes (`\u0000`), a number at most 24. Rows far under the cap — nearly
 * all — are measured exactly only when the bound passes it.
 */
function rowBytesAtMost(value: unknown): number {
  if (typeof value === 'string') return value.length * 6 + 2;
  if (value === null || typeof value !== 'object') return 24;
  let bytes = 2;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) bytes += rowBytesAtMost(item) + 1;
    return bytes;
  }
  for (const key of Object.keys(value)) {
    bytes += key.length * 6 + 4 + rowBytesAtMost((value as Record<string, unknown>)[key]);
  }
  return bytes;
}

/**
 * Applies source changes to a tenant store, idempotently: each write is upsert-if-newer, so a
 * duplicate, a replay or an older version arriving after a newer one leaves the same end state, and a
 * delete leaves a tombstone that an older update cannot bring back. Partial changes merge onto the
 * stored row. Changes are written in order, `chunkSize` per `applyRecordWrites` call, yielding to the
 * event loop between calls.
 *
 * **Rows too large to store** (over `maxRowBytes`, or refused by the store with `PayloadTooLarge`)
 * are left out and listed in `tooLarge`, so the caller can warn about them by name; the rest of the
 * chunk is written. Such a row fails the same way every time, so it never fails the call: retrying
 * could not help. When the store refuses a bulk write for size, its writes are made again one by one
 * (upsert-if-newer: those that had landed come back stale) to find the row(s) it refused.
 *
 * **Deletes without a version** (Dataverse's `$deletedEntity` rows, webhook deletes) still win over
 * what is stored: the tombstone gets the stored version + 1, written compare-and-set on that stored
 * version (so a concurrent newer write is read again and beaten too). A row not stored, or already a
 * tombstone, is left alone, so a replay changes nothing. Dataverse versions are one counter for the
 * whole organization, so a later real change of a row is always above its stored version + 1; what
 * this cannot order is an *update* delivered late (a webhook) whose version lies between the stored
 * version + 1 and the unknown version of the delete: it would bring the row back until the next full
 * read. Sources that know the delete's version should send it.
 */
export async function applySourceChanges(
  store: TenantStore,
  changes: readonly ReplicationChange[],
  options: ApplySourceChangesOptions = {},
): Promise<ApplySummary> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const maxRowBytes = options.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES;
  const summary: ApplySummary = { applied: 0, stale: 0, skipped: 0 };
  const tooLarge: TooLargeRow[] = [];
  for (let start = 0; start < changes.length; start += chunkSize) {
    const chunk = changes.slice(start, start + chunkSize).filter((change) => {
      if (change.op !== 'upsert' || rowBytesAtMost(change.attributes) <= maxRowBytes) return true;
      const bytes = rowBytes(change.attributes);
      if (bytes <= maxRowBytes) return true;
      tooLarge.push({
        entity: change.entity,
        id: change.id,
        version: change.version,
        bytes,
        refusedBy: 'cap',
      });
      return false;
    });
    await applyChunk(store, chunk, summary, tooLarge);
    // A synchronous store (SQLite) holds the event loop for a whole chunk: let requests in between.
    if (start + chunkSize < changes.length) await yieldToEventLoop();
  }
  return tooLarge.length === 0 ? summary : { ...summary, tooLarge };
}

const isTooLarge = (error: unknown): boolean => error instanceof AppError && error.code === 'PayloadTooLarge';

/**
 * Writes a chunk in one bulk call; when the store refuses it for size, one write at a time, leaving
 * out (and listing) each write the store refuses.
 */
async function writeSkippingTooLarge(
  store: TenantStore,
  writes: readonly RecordWrite[],
  tooLarge: TooLargeRow[],
): Promise<(RecordWriteResult | undefined)[]> {
  if (writes.length === 0) return [];
  try {
    return await store.applyRecordWrites(writes);
  } catch (error) {
    if (!isTooLarge(error)) throw error;
  }
  const results: (RecordWriteResult | undefined)[] = [];
  for (const write of writes) {
    try {
      const [result] = await store.applyRecordWrites([write]);
      results.push(result);
    } catch (error) {
      if (!isTooLarge(error)) throw error;
      tooLarge.push({
        entity: write.entity,
        id: write.id,
        version: write.version,
        bytes: rowBytes(write.attributes),
        refusedBy: 'store',
      });
      results.push(undefined);
    }
  }
  return results;
}

async function applyChunk(
  store: TenantStore,
  chunk: readonly ReplicationChange[],
  summary: ApplySummary,
  tooLarge: TooLargeRow[],
): Promise<void> {
  let pending: readonly ReplicationChange[] = chunk;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > MAX_CAS_ATTEMPTS) {
      throw new AppError('Unavailable', 'Rows kept changing while their deletes were applied; retry later.', {
        retryAfterSeconds: 1,
        details: { rows: pending.map((c) => `${c.entity}/${c.id}`).slice(0, 20) },
      });
    }
    const { known, tracked } = await readStoredStateOfVersionlessDeletes(store, pending);
    const writes: RecordWrite[] = [];
    const sources: ReplicationChange[] = [];
    for (const change of pending) {
      const write = toRecordWrite(change, known, tracked);
      if (write === undefined) {
        summary.skipped += 1;
        continue;
      }
      writes.push(write);
      sources.push(change);
    }
    const results = await writeSkippingTooLarge(store, writes, tooLarge);
    const conflicted: ReplicationChange[] = [];
    results.forEach((result, i) => {
      // undefined: refused as too large (listed in tooLarge).
      if (result === undefined) return;
      if (result.outcome === 'conflict') conflicted.push(sources[i]!);
      else summary[result.outcome] += 1;
    });
    // Only versionless deletes are compare-and-set: read those rows again and try once more.
    pending = conflicted;
  }
}

/** The stored state of every row that a versionless delete in the chunk targets. */
async function readStoredStateOfVersionlessDeletes(
  store: TenantStore,
  changes: readonly ReplicationChange[],
): Promise<{ known: Map<string, Known>; tracked: Set<string> }> {
  const idsByEntity = new Map<string, string[]>();
  const tracked = new Set<string>();
  for (const change of changes) {
    if (change.op !== 'delete' || change.version !== undefined) continue;
    tracked.add(keyOf(change.entity, change.id));
    const ids = idsByEntity.get(change.entity) ?? [];
    ids.push(change.id);
    idsByEntity.set(change.entity, ids);
  }
  const known = new Map<string, Known>();
  for (const [entity, ids] of idsByEntity) {
    for (const record of await store.getRecords(entity, ids)) {
      known.set(keyOf(entity, record.id), { version: record.version, deleted: record.deleted });
    }
  }
  return { known, tracked };
}

/**
 * The write for one change, or undefined when there is nothing to write. `known` holds the stored
 * state of rows with versionless deletes and is advanced by each earlier write of the same chunk, so a
 * versionless delete after an upsert in the same chunk tombstones above that upsert.
 */
function toRecordWrite(
  change: ReplicationChange,
  known: Map<string, Known>,
  tracked: ReadonlySet<string>,
): RecordWrite | undefined {
  const key = keyOf(change.entity, change.id);
  if (change.version === undefined) {
    if (change.op === 'upsert') {
      throw new AppError('ValidationFailed', `The upsert of ${change.entity}/${change.id} has no version.`, {
        details: [{ path: 'version', message: 'an upsert needs a version' }],
      });
    }
    const stored = known.get(key);
    if (stored === undefined || stored.deleted) return undefined;
    const version = nextVersion(stored.version);
    known.set(key, { version, deleted: true });
    return {
      entity: change.entity,
      id: change.id,
      version,
      deleted: true,
      attributes: {},
      expectedVersion: stored.version,
    };
  }
  const parsed = versionSchema.safeParse(change.version);
  if (!parsed.success) {
    throw new AppError('ValidationFailed', `The version of ${change.entity}/${change.id} is not a version.`, {
      details: [{ path: 'version', message: `expected digits, got ${JSON.stringify(change.version)}` }],
    });
  }
  const version = parsed.data;
  const deleted = change.op === 'delete';
  // Tracked only for rows that a versionless delete of the chunk targets.
  const before = known.get(key);
  if (tracked.has(key) && (before === undefined || compareVersions(version, before.version) > 0)) {
    known.set(key, { version, deleted });
  }
  return {
    entity: change.entity,
    id: change.id,
    version,
    deleted,
    attributes: deleted ? {} : change.attributes,
    ...(change.partial === true && !deleted ? { mode: 'merge' as const } : {}),
  };
}
