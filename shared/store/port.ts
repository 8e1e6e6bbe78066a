import { AppError } from '../errors';
import type { Attributes, StoredRecord } from '../model/record';

/**
 * The Store port. One {@link Store} per process serves the control store (tenant registry,
 * provisioning status) and one {@link TenantStore} per tenant, each in its own database. Adapters
 * (`sqlite`, `cosmos`) translate their SDK's failures into {@link AppError}s (`NotFound`,
 * `Conflict`, `PreconditionFailed`, `Throttled`, `Unavailable`, `TenantNotProvisioned`); the core
 * never sees an SDK error. Both adapters pass `test/contract/store-contract.ts`.
 */

/** A JSON document of some kind (configuration, directory item, device state, status …). */
export interface StoredDoc<T = unknown> {
  kind: string;
  id: string;
  value: T;
  /** Opaque; changes on every write. Pass it back as `ifMatch` for optimistic concurrency. */
  etag: string;
}

export interface PutDocOptions {
  /** Write only if the stored document still has this etag, else `PreconditionFailed`. */
  ifMatch?: string;
  /** `'*'`: write only if no document exists, else `Conflict`. */
  ifNoneMatch?: '*';
}

/**
 * The condition of a read-modify-write: the document must still have the etag that was read, or,
 * when none was read (`undefined`), must still not exist.
 */
export function unchangedSince(etag: string | undefined): PutDocOptions {
  return etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag };
}

/** Whether a write failed only because another writer changed the document first ({@link unchangedSince}). */
export function lostWriteRace(error: unknown): boolean {
  return error instanceof AppError && (error.code === 'PreconditionFailed' || error.code === 'Conflict');
}

/**
 * The one retry of a read-modify-write: `attempt` reads, computes and writes under
 * {@link unchangedSince}; when its write loses to another writer it runs again (it must be pure
 * but for its reads and that write), `attempts` times in all; any other failure, or the last lost
 * race, is thrown.
 */
export async function retryOnWriteRace<T>(attempts: number, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!lostWriteRace(error) || n >= attempts) throw error;
    }
  }
}

/** Documents keyed by (kind, id). Values are JSON; callers validate them with zod when reading. */
export interface DocStore {
  getDoc<T = unknown>(kind: string, id: string): Promise<StoredDoc<T> | undefined>;
  /**
   * The document unless it still has `etag`: then `'unchanged'`, its value neither transferred nor
   * parsed (Cosmos: a read with If-None-Match, answered 304). For a caller that keeps what it parsed
   * by etag; undefined when there is no such document.
   */
  getDocIfChanged<T = unknown>(
    kind: string,
    id: string,
    etag: string,
  ): Promise<StoredDoc<T> | 'unchanged' | undefined>;
  putDoc<T>(kind: string, id: string, value: T, options?: PutDocOptions): Promise<StoredDoc<T>>;
  /** Returns whether a document was deleted. With `ifMatch`, a mismatch is `PreconditionFailed`. */
  deleteDoc(kind: string, id: string, options?: { ifMatch?: string }): Promise<boolean>;
  /** Every document of a kind, ordered by id; `prefix` keeps ids that start with it. */
  listDocs<T = unknown>(kind: string, options?: { prefix?: string }): Promise<StoredDoc<T>[]>;
  /**
   * The id and etag of every document of a kind, ordered by id, without their values: lets a caller
   * that keeps parsed documents by etag tell which changed without reading them all.
   */
  listDocEtags(kind: string, options?: { prefix?: string }): Promise<DocEtag[]>;
}

/** A document's id and its current etag. */
export interface DocEtag {
  id: string;
  etag: string;
}

/** One change to a row, from the source (replication) or a device (upload). */
export interface RecordWrite {
  entity: string;
  id: string;
  /** The source version of this change. Applied only if newer than the stored version. */
  version: string;
  deleted: boolean;
  attributes: Attributes;
  /** `replace` (default) stores `attributes` as the row; `merge` overlays them on the stored row. */
  mode?: 'replace' | 'merge';
  /**
   * Compare-and-set: apply only if the stored row's version equals this (`null`: only if no row,
   * live or tombstone, exists). A mismatch is the outcome `conflict`, not an error.
   */
  expectedVersion?: string | null;
}

export interface RecordWriteResult {
  entity: string;
  id: string;
  /** `applied`; `stale` (stored version is the same or newer); `conflict` (expectedVersion mismatch). */
  outcome: 'applied' | 'stale' | 'conflict';
  /** The row as stored after the operation (undefined when none exists). */
  record: StoredRecord | undefined;
}

/**
 * Which live rows of an entity a look-up asks for (SPEC §12: rows are found through what the rules
 * name, never by scanning a tenant). Values compare as the sync engine compares them
 * (shared/store/record-keys.ts; `probeMatches` is the exact rule): `text` values lower-cased.
 */
export type RecordProbe =
  /** Every live row of the entity. */
  | { kind: 'all' }
  /**
   * Rows whose attribute (null: the row id) holds one of `values` as case-insensitive text; with
   * `within`, only those whose `within.attribute`, read as an instant, also lies in its range (an
   * owner's rows of one day: a composite look-up, prepared with a spec naming `within`).
   */
  | { kind: 'text'; attribute: string | null; values: readonly string[]; within?: TimeRange }
  /** Rows whose attribute, read as a number, equals one of `values`. */
  | { kind: 'number'; attribute: string; values: readonly number[] }
  /** Rows whose attribute, read as an instant (epoch ms), lies in [from, to) (null: unbounded). */
  | { kind: 'time'; attribute: string; from: number | null; to: number | null };

/** A date attribute's range: epoch ms in [from, to) (null: unbounded). */
export interface TimeRange {
  attribute: string;
  from: number | null;
  to: number | null;
}

/** What a probe's attributes need indexed: adapters build what serves probes of this kind. */
export interface LookupSpec {
  /** null: the row id (text probes only). */
  attribute: string | null;
  kind: 'text' | 'number' | 'time';
  /** Text probes with a `within` range on this date attribute (a composite index). */
  within?: string;
}

/** A page of rows a probe found. */
export interface ProbePage {
  records: StoredRecord[];
  /** Where the next page starts (opaque, adapter-specific); undefined when there is no more. */
  next: string | undefined;
}

/** A page of the ids of the rows a probe finds (`findRecordIds`). */
export interface ProbeIdPage {
  ids: string[];
  /** Where the next page starts, as {@link ProbePage}'s `next`; undefined when there is no more. */
  next: string | undefined;
}

/**
 * Which changes a reader wants: every change to rows of `entity`, or, with `ownershipKeys`, only
 * those whose row was or became owned by or within one of them (`o:<ownerid>`, `b:<owningbusinessunit>`,
 * see record-keys.ts `ownershipKeys`): a change carries the keys of the row before and after it.
 */
export interface ChangeScope {
  entity: string;
  ownershipKeys?: readonly string[];
}

/**
 * What reads cost, counted by the adapter (deterministic, machine-independent): record rows read
 * from storage (those an adapter filtered out after reading included), documents read, change
 * entries (SQLite rows of the change log, Cosmos markers) read, and the request charge (RU) the
 * service reported (Cosmos only; 0 where unknown).
 */
export interface ReadMeter {
  rows: number;
  docs: number;
  changes: number;
  /** Index entries read without their rows (`findRecordIds`): an id each, no attributes. */
  keys: number;
  requestCharge: number;
}

/** A meter at zero. */
export function newReadMeter(): ReadMeter {
  return { rows: 0, docs: 0, changes: 0, keys: 0, requestCharge: 0 };
}

/** A page of the tenant's change sequence. */
export interface ChangePage {
  /** The latest state of each row changed after the cursor, in change order, each row at most once. */
  records: StoredRecord[];
  /** Where the next read starts. Never passes a change that was not yet visible. */
  cursor: string;
  /** True when more changes were committed after `cursor` at the time of the read. */
  more: boolean;
}

/** A tenant's rows: latest state per (entity, id), tombstones for deletes, a change sequence. */
export interface RecordStore {
  /** Applies writes in order; each is upsert-if-newer (and compare-and-set when asked). */
  applyRecordWrites(writes: readonly RecordWrite[]): Promise<RecordWriteResult[]>;
  getRecord(entity: string, id: string): Promise<StoredRecord | undefined>;
  /** The rows that exist (tombstones included) among `ids`, in no particular order. */
  getRecords(entity: string, ids: readonly string[]): Promise<StoredRecord[]>;
  /** Rows of an entity ordered by id, after `afterId`; tombstones only when asked. */
  scanRecords(
    entity: string,
    options: { afterId?: string; limit: number; includeDeleted?: boolean },
  ): Promise<StoredRecord[]>;
  /**
   * Live (not deleted) rows of an entity; with a probe, only those it finds (an index count where
   * one serves). With `upTo`, counting stops there (the answer is at most `upTo`): what a caller
   * comparing look-ups needs, at the cost of the smaller one.
   */
  countRecords(entity: string, probe?: RecordProbe, options?: { upTo?: number }): Promise<number>;
  /**
   * Live rows of an entity a probe finds, a page at a time, in an order the adapter chooses that is
   * the same on every call with the same probe; `after` (a page's `next`) continues right after the
   * page. Rows written between pages may be missed or seen twice: the change sequence tells those.
   * Served by an index (the adapter's own) wherever one can serve the probe.
   */
  findRecords(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
  ): Promise<ProbePage>;
  /**
   * The ids of the rows `findRecords` finds, in its order and pages (`after` and `next` are the
   * same positions), read from the index alone where one serves the probe (counted as `keys`): for
   * a caller that reads only the rows it does not know yet.
   */
  findRecordIds(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
  ): Promise<ProbeIdPage>;
  /**
   * Builds what serves these look-ups (SQLite: expression indexes). May take long on a large tenant,
   * so it is called when configuration is published, not in a device request; look-ups work without
   * it (an adapter may build a missing index on first use).
   */
  prepareLookups(specs: readonly LookupSpec[]): Promise<void>;
  /**
   * Rows changed after `cursor` (undefined: from the beginning), within `scopes` (undefined: every
   * change). The cursor is opaque and adapter-specific. A change committed concurrently with the read
   * is returned by this read or a later one: no change is ever skipped. Reads never walk or repair the
   * sequence (no fencing, no waiting): they read up to the settled head that writers advance.
   * Changes older than the store's change retention may be gone; callers holding an older cursor
   * start over from the rows themselves.
   */
  readChanges(
    cursor: string | undefined,
    limit: number,
    scopes?: readonly ChangeScope[],
  ): Promise<ChangePage>;
  /**
   * A cursor at the current settled end of the change sequence (reading from it returns later
   * changes). One cheap read: the head is kept by the writers.
   */
  headCursor(): Promise<string>;
  /**
   * Moves the settled head over changes whose writes have landed (Cosmos: the watermark, voiding
   * claims stalled past the gap timeout; SQLite: nothing to do, commits are ordered). Writers call it
   * (`applyRecordWrites` does before it returns); recurring work calls it so a stalled claim with no
   * later write cannot hold readers back.
   */
  settleChanges(): Promise<void>;
}

export interface TenantStore extends DocStore, RecordStore {
  readonly org: string;
  /** A view of the same tenant whose reads are added to `meter` (one per request that measures itself). */
  metered(meter: ReadMeter): TenantStore;
}

export interface Store {
  readonly kind: 'sqlite' | 'cosmos';
  /** The control store: tenant registry, provisioning status, anything not of one tenant. */
  readonly control: DocStore;
  /** The handle of a tenant's database. Operations fail with `TenantNotProvisioned` if it does not exist. */
  tenant(org: string): TenantStore;
  /** Creates the tenant's database; does nothing if it exists. */
  createTenantDatabase(org: string): Promise<void>;
  /** Deletes the tenant's database and everything in it; does nothing if it does not exist. */
  dropTenantDatabase(org: string): Promise<void>;
  tenantDatabaseExists(org: string): Promise<boolean>;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}
