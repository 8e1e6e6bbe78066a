import { AppError } from '../errors';
import { compareVersions, versionSchema } from '../model/record';
import type { SourceChange } from '../sources/port';
import type { RecordWrite, RecordWriteResult, TenantStore } from '../store/port';

/** A change to apply: a source change, possibly partial (only the changed columns, merged). */
export type ReplicationChange = SourceChange & { partial?: boolean };

export interface ApplySourceChangesOptions {
  /** Writes per `applyRecordWrites` call (one bulk operation). */
  chunkSize?: number;
}

/** What applying did, per change. */
export interface ApplySummary {
  /** Changes that became the stored state. */
  applied: number;
  /** Changes older than (or as old as) what is stored: left out, as idempotence requires. */
  stale: number;
  /** Deletes without a version of rows that are not stored or already deleted: nothing to do. */
  skipped: number;
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

/**
 * Applies source changes to a tenant store, idempotently: each write is upsert-if-newer, so a
 * duplicate, a replay or an older version arriving after a newer one leaves the same end state, and a
 * delete leaves a tombstone that an older update cannot bring back. Partial changes merge onto the
 * stored row. Changes are written in order, `chunkSize` per `applyRecordWrites` call.
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
  const summary: ApplySummary = { applied: 0, stale: 0, skipped: 0 };
  for (let start = 0; start < changes.length; start += chunkSize) {
    await applyChunk(store, changes.slice(start, start + chunkSize), summary);
  }
  return summary;
}

async function applyChunk(
  store: TenantStore,
  chunk: readonly ReplicationChange[],
  summary: ApplySummary,
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
    const results: RecordWriteResult[] = writes.length === 0 ? [] : await store.applyRecordWrites(writes);
    const conflicted: ReplicationChange[] = [];
    results.forEach((result, i) => {
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
