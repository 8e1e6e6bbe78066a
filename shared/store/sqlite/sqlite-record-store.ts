import type Database from 'better-sqlite3';
import type { Clock } from '../../clock';
import { AppError } from '../../errors';
import type { Attributes, StoredRecord } from '../../model/record';
import { compareVersions, OWNER_ATTRIBUTE, OWNING_BUSINESS_UNIT_ATTRIBUTE } from '../../model/record';
import type {
  ChangePage,
  ChangeScope,
  LookupSpec,
  ProbeIdPage,
  ProbePage,
  ReadMeter,
  RecordProbe,
  RecordStore,
  RecordWrite,
  RecordWriteResult,
} from '../port';
import { deepFreeze } from '../parsed-doc-cache';
import { changeKeys } from '../record-keys';
import {
  changeCursorExpired,
  formatChangeCursor,
  parseChangeCursor,
  SqliteChangeLog,
} from './sqlite-change-log';
import { perConnection, translateSqliteError } from './sqlite-connection';
import { SqliteLookups } from './sqlite-lookups';
import {
  RECORD_COLUMNS,
  rawToRecords,
  toRecord,
  toRecords,
  type RawRecordRow,
  type RecordRow,
} from './sqlite-record-rows';

interface ChangeRow extends RecordRow {
  seq: number;
}

/** A stored row as a write reads it: the row, and its ownership attributes as JSON fragments. */
interface StoredForWrite extends RecordRow {
  owner: string | null;
  business_unit: string | null;
}

type UpsertParams = [string, string, string, number, string, string, number];

/** What one `applyRecordWrites` call needs besides its writes: the store clock's reading, the retention. */
interface WriteContext {
  nowIso: string;
  nowMs: number;
  retentionDays: number;
}

/** A scoped read may step over this many entries per row it may return before it stops a page. */
const ENTRIES_PER_ROW = 20;
/** Scoped change pages a connection keeps for the head they were read at (see {@link ScopedPageCache}). */
const SCOPED_PAGES_KEPT = 32;

/** A scoped change page as read, its cursor's seq kept (the cursor is formatted with each answer's clock). */
interface ScopedPage {
  records: readonly StoredRecord[];
  seq: number;
  more: boolean;
}

/**
 * Scoped change pages of one connection read at its current head, by (after, limit, scopes): when 50
 * devices of a few users sync after the same write, each user's page is read once, not 50 times. A
 * page is a function of the database at its head, and every write moves the head (rows are never
 * changed or deleted but by a write that gives them the next seq), so a page read at the head the
 * snapshot sees is the page a read would return. A new head empties the cache; at most
 * {@link SCOPED_PAGES_KEPT} pages are kept, the oldest out. The records are frozen: every reader shares them.
 */
class ScopedPageCache {
  private head = -1;
  private readonly pages = new Map<string, ScopedPage>();

  get(head: number, key: string): ScopedPage | undefined {
    return head === this.head ? this.pages.get(key) : undefined;
  }

  set(head: number, key: string, page: ScopedPage): void {
    if (head !== this.head) {
      this.pages.clear();
      this.head = head;
    }
    if (this.pages.size >= SCOPED_PAGES_KEPT) this.pages.delete(this.pages.keys().next().value!);
    for (const record of page.records) deepFreeze(record);
    this.pages.set(key, page);
  }
}

/** The prepared statements of one connection, prepared once and reused for every call. */
class RecordStatements {
  readonly get: Database.Statement<[string, string], RecordRow>;
  readonly getForWrite: Database.Statement<[string, string], StoredForWrite>;
  readonly getMany: Database.Statement<[string, string], RawRecordRow>;
  readonly upsert: Database.Statement<UpsertParams>;
  readonly maxSeq: Database.Statement<[], { seq: number }>;
  readonly scanLive: Database.Statement<[string, string, number], RawRecordRow>;
  readonly scanAll: Database.Statement<[string, string, number], RawRecordRow>;
  readonly changesAfter: Database.Statement<[number, number], ChangeRow>;
  readonly changeLog: SqliteChangeLog;
  readonly lookups: SqliteLookups;
  readonly scopedPages = new ScopedPageCache();
  /** Applies one call's writes; run with `.immediate()` so seq allocation holds the write lock. */
  readonly applyWrites: Database.Transaction<
    (writes: readonly RecordWrite[], context: WriteContext) => RecordWriteResult[]
  >;
  /** Runs a read in one snapshot (`BEGIN DEFERRED`): a head and the rows read with it agree. */
  readonly inSnapshot: <R>(read: () => R) => R;

  constructor(db: Database.Database) {
    this.get = db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE entity = ? AND id = ?`);
    // A write needs the stored row's ownership only: two fragments, not the whole row parsed.
    this.getForWrite = db.prepare(
      `SELECT ${RECORD_COLUMNS}, attributes -> '$.${OWNER_ATTRIBUTE}' AS owner,
         attributes -> '$.${OWNING_BUSINESS_UNIT_ATTRIBUTE}' AS business_unit
       FROM records WHERE entity = ? AND id = ?`,
    );
    // The ids travel as one JSON array: one statement per call, whatever the count (no parameter limit).
    // Raw (rows as arrays, sqlite-record-rows.ts): the bulk reads.
    this.getMany = db
      .prepare<[string, string], RawRecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE entity = ? AND id IN (SELECT value FROM json_each(?))`,
      )
      .raw();
    this.upsert = db.prepare(
      `INSERT INTO records (${RECORD_COLUMNS}, seq) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (entity, id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
         attributes = excluded.attributes, updated_at = excluded.updated_at, seq = excluded.seq`,
    );
    this.maxSeq = db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM records');
    this.scanLive = db
      .prepare<[string, string, number], RawRecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE entity = ? AND id > ? AND deleted = 0 ORDER BY id LIMIT ?`,
      )
      .raw();
    this.scanAll = db
      .prepare<[string, string, number], RawRecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE entity = ? AND id > ? ORDER BY id LIMIT ?`,
      )
      .raw();
    this.changesAfter = db.prepare(
      `SELECT ${RECORD_COLUMNS}, seq FROM records WHERE seq > ? ORDER BY seq LIMIT ?`,
    );
    this.changeLog = new SqliteChangeLog(db);
    const snapshot = db.transaction((read: () => unknown) => read());
    this.inSnapshot = <R>(read: () => R): R => snapshot.deferred(read) as R;
    this.lookups = new SqliteLookups(db, this.inSnapshot);
    this.applyWrites = db.transaction((writes: readonly RecordWrite[], context: WriteContext) => {
      // The write lock is held from BEGIN IMMEDIATE to COMMIT, so no other connection can allocate
      // seqs in between: commit order equals seq order, and a reader that sees seq n sees all below.
      let seq = this.maxSeq.get()!.seq;
      const results = writes.map((write) => {
        const stored = this.getForWrite.get(write.entity, write.id);
        if (write.expectedVersion !== undefined && !matchesExpected(stored, write.expectedVersion)) {
          return result(write, 'conflict', stored && toRecord(stored));
        }
        if (stored !== undefined && compareVersions(write.version, stored.version) <= 0) {
          return result(write, 'stale', toRecord(stored));
        }
        const attributes = JSON.stringify(attributesToStore(write, stored));
        seq += 1;
        const { nowIso } = context;
        this.upsert.run(
          write.entity,
          write.id,
          write.version,
          write.deleted ? 1 : 0,
          attributes,
          nowIso,
          seq,
        );
        const record: StoredRecord = {
          entity: write.entity,
          id: write.id,
          version: write.version,
          deleted: write.deleted,
          attributes: JSON.parse(attributes) as Attributes,
          updatedAt: nowIso,
        };
        this.changeLog.append(
          seq,
          write.entity,
          write.id,
          changeKeys(ownershipOf(stored), record),
          context.nowMs,
        );
        return result(write, 'applied', record);
      });
      this.changeLog.compactIfDue(context.nowMs, context.retentionDays);
      return results;
    });
  }
}

/** Reads a JSON fragment of a stored row (SQL NULL: the attribute is missing). */
function fragment(json: string | null): unknown {
  return json === null ? undefined : JSON.parse(json);
}

/** The stored row as far as its ownership keys go (record-keys.ts `changeKeys` reads no more). */
function ownershipOf(stored: StoredForWrite | undefined): StoredRecord | undefined {
  if (stored === undefined) return undefined;
  return {
    entity: stored.entity,
    id: stored.id,
    version: stored.version,
    deleted: stored.deleted !== 0,
    attributes: {
      [OWNER_ATTRIBUTE]: fragment(stored.owner),
      [OWNING_BUSINESS_UNIT_ATTRIBUTE]: fragment(stored.business_unit),
    },
    updatedAt: stored.updated_at,
  };
}

function matchesExpected(stored: RecordRow | undefined, expected: string | null): boolean {
  if (expected === null) return stored === undefined;
  return stored !== undefined && compareVersions(stored.version, expected) === 0;
}

/**
 * A tombstone keeps no attributes: a deleted row's data is gone, only its version remains so that
 * an older write cannot bring it back. A merge overlays the write on the live stored row.
 */
function attributesToStore(write: RecordWrite, stored: RecordRow | undefined): Attributes {
  if (write.deleted) return {};
  if (write.mode === 'merge' && stored !== undefined && stored.deleted === 0) {
    return { ...(JSON.parse(stored.attributes) as Attributes), ...write.attributes };
  }
  return write.attributes;
}

function result(
  write: RecordWrite,
  outcome: RecordWriteResult['outcome'],
  record: StoredRecord | undefined,
): RecordWriteResult {
  return { entity: write.entity, id: write.id, outcome, record };
}

/** The prepared statements of a connection, made on its first use. */
const statementsOf = perConnection((db) => new RecordStatements(db));

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new AppError('ValidationFailed', 'The page limit must be a positive whole number.', {
      details: [{ path: 'limit', message: `got ${limit}` }],
    });
  }
}

/** What a record store is configured with. */
export interface SqliteRecordStoreOptions {
  /** Days the change log keeps an entry (`CHANGE_RETENTION_DAYS`). */
  changeRetentionDays: number;
}

/**
 * The {@link RecordStore} of one tenant's SQLite database. Each row carries `seq`, its position in
 * the tenant's change sequence: every applied write moves the row to `max(seq) + 1`, allocated inside
 * the write transaction, and logs the change under its entity and ownership keys (sqlite-change-log.ts)
 * in the same transaction. Cursors are `s2:<seq>:<epochHour>`; an unscoped read follows `records.seq`,
 * a scoped one the log, which compaction bounds to the retention. Reads add what they read to `meter`
 * when one is given (record rows as SQL returns them, before any filtering).
 */
export class SqliteRecordStore implements RecordStore {
  constructor(
    private readonly connect: () => Database.Database,
    private readonly clock: Clock,
    private readonly options: SqliteRecordStoreOptions,
    private readonly meter: ReadMeter | undefined,
  ) {}

  private run<R>(operation: (statements: RecordStatements) => R): Promise<R> {
    try {
      return Promise.resolve(operation(statementsOf(this.connect())));
    } catch (error) {
      return Promise.reject(translateSqliteError(error));
    }
  }

  /** Counts record rows read from SQL and passes them on. */
  private countRows<T extends readonly unknown[]>(rows: T): T {
    if (this.meter !== undefined) this.meter.rows += rows.length;
    return rows;
  }

  applyRecordWrites(writes: readonly RecordWrite[]): Promise<RecordWriteResult[]> {
    return this.run((s) => {
      if (writes.length === 0) return [];
      const now = this.clock.now();
      return s.applyWrites.immediate(writes, {
        nowIso: now.toISOString(),
        nowMs: now.getTime(),
        retentionDays: this.options.changeRetentionDays,
      });
    });
  }

  getRecord(entity: string, id: string): Promise<StoredRecord | undefined> {
    return this.run((s) => {
      const row = s.get.get(entity, id);
      if (row === undefined) return undefined;
      if (this.meter !== undefined) this.meter.rows += 1;
      return toRecord(row);
    });
  }

  getRecords(entity: string, ids: readonly string[]): Promise<StoredRecord[]> {
    return this.run((s) => {
      if (ids.length === 0) return [];
      // One statement for the whole list: about twice as fast as a point read per id on a page of
      // thousands, and `IN` answers each row once however often its id is listed.
      return rawToRecords(this.countRows(s.getMany.all(entity, JSON.stringify(ids))));
    });
  }

  scanRecords(
    entity: string,
    options: { afterId?: string; limit: number; includeDeleted?: boolean },
  ): Promise<StoredRecord[]> {
    return this.run((s) => {
      assertLimit(options.limit);
      const statement = options.includeDeleted === true ? s.scanAll : s.scanLive;
      // '' sorts before every id, so it means "from the first row".
      return rawToRecords(this.countRows(statement.all(entity, options.afterId ?? '', options.limit)));
    });
  }

  countRecords(entity: string, probe?: RecordProbe, options: { upTo?: number } = {}): Promise<number> {
    return this.run((s) => s.lookups.count(entity, probe, this.meter, options.upTo ?? -1));
  }

  findRecords(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
  ): Promise<ProbePage> {
    return this.run((s) => {
      assertLimit(options.limit);
      return s.lookups.find(entity, probe, options, this.meter);
    });
  }

  findRecordIds(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
  ): Promise<ProbeIdPage> {
    return this.run((s) => {
      assertLimit(options.limit);
      return s.lookups.findIds(entity, probe, options, this.meter);
    });
  }

  prepareLookups(specs: readonly LookupSpec[]): Promise<void> {
    return this.run((s) => s.lookups.prepare(specs));
  }

  readChanges(
    cursor: string | undefined,
    limit: number,
    scopes?: readonly ChangeScope[],
  ): Promise<ChangePage> {
    return this.run((s) => {
      assertLimit(limit);
      const nowMs = this.clock.now().getTime();
      const after = parseChangeCursor(cursor, nowMs, this.options.changeRetentionDays);
      return s.inSnapshot(() => {
        const head = s.maxSeq.get()!.seq;
        // A seq past the head was issued by another database (this tenant's, dropped and created again).
        if (after.seq > head) throw changeCursorExpired('ahead of this database');
        return scopes === undefined
          ? this.readAllChanges(s, after.seq, limit, nowMs)
          : this.readScopedChanges(s, after.seq, head, limit, scopes, nowMs);
      });
    });
  }

  /**
   * Every change: the rows themselves in seq order (each row is at the seq of its last write), so
   * this read never needs the log and no compaction limits it.
   */
  private readAllChanges(s: RecordStatements, after: number, limit: number, nowMs: number): ChangePage {
    // The extra row tells whether more changes follow.
    const rows = this.countRows(s.changesAfter.all(after, limit + 1));
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const last = rows[rows.length - 1];
    return { records: toRecords(rows), cursor: formatChangeCursor(last?.seq ?? after, nowMs), more };
  }

  /** The changes of `scopes` from the log, each changed row read at its latest state. */
  private readScopedChanges(
    s: RecordStatements,
    after: number,
    head: number,
    limit: number,
    scopes: readonly ChangeScope[],
    nowMs: number,
  ): ChangePage {
    if (after < s.changeLog.horizon()) throw changeCursorExpired('its changes were compacted');
    // Nothing written since: no scope's entries are read (an idle device's sync, most syncs).
    if (after === head) return { records: [], cursor: formatChangeCursor(head, nowMs), more: false };
    const key = `${after}\u0000${limit}\u0000${JSON.stringify(scopes)}`;
    let page = s.scopedPages.get(head, key);
    if (page === undefined) {
      page = this.readScopedPage(s, after, head, limit, scopes);
      s.scopedPages.set(head, key, page);
    }
    // A copy of the list: a caller may cut its page; the records themselves are frozen.
    return { records: [...page.records], cursor: formatChangeCursor(page.seq, nowMs), more: page.more };
  }

  private readScopedPage(
    s: RecordStatements,
    after: number,
    head: number,
    limit: number,
    scopes: readonly ChangeScope[],
  ): ScopedPage {
    const changed = s.changeLog.readScoped(scopes, after, head, limit, limit * ENTRIES_PER_ROW, this.meter);
    const idsByEntity = new Map<string, string[]>();
    for (const row of changed.rows) {
      const ids = idsByEntity.get(row.entity);
      if (ids === undefined) idsByEntity.set(row.entity, [row.id]);
      else ids.push(row.id);
    }
    const stored = new Map<string, StoredRecord>();
    for (const [entity, ids] of idsByEntity) {
      for (const record of rawToRecords(this.countRows(s.getMany.all(entity, JSON.stringify(ids))))) {
        stored.set(`${record.entity}\u0000${record.id}`, record);
      }
    }
    // In change order: by the seq of each row's last change read (readScoped's order).
    const records: StoredRecord[] = [];
    for (const row of changed.rows) {
      const record = stored.get(`${row.entity}\u0000${row.id}`);
      if (record !== undefined) records.push(record);
    }
    return { records, seq: changed.seq, more: changed.more };
  }

  headCursor(): Promise<string> {
    return this.run((s) => formatChangeCursor(s.maxSeq.get()!.seq, this.clock.now().getTime()));
  }

  settleChanges(): Promise<void> {
    // Commits are ordered (one write lock): the head a reader sees is always settled.
    return Promise.resolve();
  }
}
