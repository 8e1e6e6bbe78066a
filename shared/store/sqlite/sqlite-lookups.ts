import type Database from 'better-sqlite3';
import { AppError } from '../../errors';
import type { Attributes, StoredRecord } from '../../model/record';
import type { LookupSpec, ProbeIdPage, ProbePage, ReadMeter, RecordProbe } from '../port';
import { normalizeProbe, numberKey, probeIsEmpty, probeMatches, textKey, timeKey } from '../record-keys';
import {
  isIndexable,
  keyExpression,
  lookupIndex,
  valueKeyExpression,
  withinExpression,
} from './sqlite-record-keys';
import {
  RAW_ATTRIBUTES,
  RAW_ID,
  RECORD_COLUMNS,
  rawToRecords,
  type RawRecordRow,
} from './sqlite-record-rows';

/**
 * Probes (`findRecords`, `countRecords`) over a tenant's SQLite database. A keyed probe reads its
 * key index (sqlite-record-keys.ts) in (key, id) order: a page seeks straight to where the last one
 * stopped, first the rest of the last page's key (`key = ? AND id > ?`), then the keys after it.
 * (A row-value `(key, id) > (?, ?)` would be simpler, but SQLite does not seek an expression index
 * with it: each page would walk every entry before the cursor.) `all`, and attributes whose names
 * cannot be written into SQL, page the entity by id; the latter filter in JavaScript.
 */

type Key = string | number;

/** Where a page continues: after (key, id) on a key index, after id on a scan. */
type After = { key: Key; id: string } | { id: string } | undefined;

/**
 * The statements of one key index: of `rows`, raw (a {@link RawRecordRow} per row); of `ids`, `{ id }`
 * objects. Each takes first the live rows' parameters — the entity, and for a
 * text probe `within` a date range, its bounds (see {@link liveParameters}) — then those listed here.
 */
interface KeyedStatements {
  /** Rows of one key after an id: key, id, limit. */
  restOfKey: Database.Statement<unknown[], unknown>;
  /** Text and number: rows whose key is one of the JSON-listed values (of those after a key). */
  ofValues?: Database.Statement<unknown[], unknown>;
  ofValuesAfter?: Database.Statement<unknown[], unknown>;
  countOfValues?: Database.Statement<unknown[], { count: number }>;
  /** Time: rows whose key lies in [from, to), and in (key, to) to continue after a key. */
  inRange?: Database.Statement<unknown[], unknown>;
  afterInRange?: Database.Statement<unknown[], unknown>;
  countInRange?: Database.Statement<unknown[], { count: number }>;
}

/** The parameters every statement of a key index starts with: the entity, and a `within` range's bounds. */
function liveParameters(entity: string, probe: RecordProbe): unknown[] {
  if (probe.kind !== 'text' || probe.within === undefined) return [entity];
  return [entity, probe.within.from ?? Number.NEGATIVE_INFINITY, probe.within.to ?? Number.POSITIVE_INFINITY];
}

/**
 * The SQL of a key index's statements: exported so a test can ask SQLite how it runs them. With
 * `ids`, they select the id alone, which the index holds: SQLite answers from it without the rows.
 */
export function keyedStatementSql(
  spec: LookupSpec,
  columns: 'rows' | 'ids' = 'rows',
): { [name in keyof KeyedStatements]?: string } {
  const key = keyExpression(spec);
  // A composite index is named: without statistics SQLite would rather walk the key's index in
  // order, reading every row of the key to test its date.
  const live =
    spec.within === undefined
      ? 'FROM records WHERE entity = ? AND deleted = 0'
      : `FROM records INDEXED BY ${lookupIndex(spec).name} WHERE entity = ? AND deleted = 0 AND ${withinExpression(spec.within)} >= ? AND ${withinExpression(spec.within)} < ?`;
  // Not the key itself: computing it in SQL for every row cost a third of a page's read; the page's
  // position needs the last row's only (`keyOfRow`).
  const select = `SELECT ${columns === 'rows' ? RECORD_COLUMNS : 'id'} ${live}`;
  const order = `ORDER BY ${key}, id LIMIT ?`;
  const restOfKey = `${select} AND ${key} = ? AND id > ? ORDER BY id LIMIT ?`;
  if (spec.kind === 'time') {
    return {
      restOfKey,
      inRange: `${select} AND ${key} >= ? AND ${key} < ? ${order}`,
      afterInRange: `${select} AND ${key} > ? AND ${key} < ? ${order}`,
      countInRange: `SELECT count(*) AS count FROM (SELECT 1 ${live} AND ${key} >= ? AND ${key} < ? LIMIT ?)`,
    };
  }
  // The values' keys, by the rows' own function. SQLite walks an IN list in order, so the rows come
  // in (key, id) order from the index without a sort, and LIMIT stops the walk.
  const values = `SELECT ${valueKeyExpression(spec.kind)} AS k FROM json_each(?)`;
  return {
    restOfKey,
    ofValues: `${select} AND ${key} IN (${values}) ${order}`,
    ofValuesAfter: `${select} AND ${key} IN (SELECT k FROM (${values}) WHERE k > ?) ${order}`,
    countOfValues: `SELECT count(*) AS count FROM (SELECT 1 ${live} AND ${key} IN (${values}) LIMIT ?)`,
  };
}

function invalidAfter(): AppError {
  return new AppError('ValidationFailed', 'The page position is not valid.', {
    details: [{ path: 'after', message: 'expected the next of a page of this probe' }],
  });
}

function encodeAfter(after: Exclude<After, undefined>): string {
  const value = 'key' in after ? [after.key, after.id] : [after.id];
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Reads a page's `next`; what it held must fit the probe (a key of its kind, or an id alone). */
function decodeAfter(after: string | undefined, keyKind: 'string' | 'number' | undefined): After {
  if (after === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
  } catch {
    throw invalidAfter();
  }
  if (!Array.isArray(value)) throw invalidAfter();
  if (keyKind === undefined) {
    const [id] = value as unknown[];
    if (value.length !== 1 || typeof id !== 'string') throw invalidAfter();
    return { id };
  }
  const [key, id] = value as unknown[];
  const keyFits = keyKind === 'string' ? typeof key === 'string' : Number.isFinite(key);
  if (value.length !== 2 || !keyFits || typeof id !== 'string') throw invalidAfter();
  return { key: key as Key, id };
}

/**
 * The key a found row has in its probe's index: the same function of the same value as the index's
 * expression (`keyExpression`: the attribute's JSON fragment, or the id, through record-keys.ts).
 */
function keyOfRow(probe: Exclude<RecordProbe, { kind: 'all' }>, row: RawRecordRow): Key {
  const value =
    probe.attribute === null ? row[RAW_ID] : (JSON.parse(row[RAW_ATTRIBUTES]) as Attributes)[probe.attribute];
  const key =
    probe.kind === 'text' ? textKey(value) : probe.kind === 'number' ? numberKey(value) : timeKey(value);
  // A row an index found by its key has one.
  if (key === undefined) throw new AppError('Internal', `A row found by its ${probe.kind} key has none.`);
  return key;
}

function specOf(probe: Exclude<RecordProbe, { kind: 'all' }>): LookupSpec {
  return probe.kind === 'text' && probe.within !== undefined
    ? { attribute: probe.attribute, kind: probe.kind, within: probe.within.attribute }
    : { attribute: probe.attribute, kind: probe.kind };
}

function specKey(spec: LookupSpec): string {
  return `${spec.kind}\u0000${spec.attribute ?? ''}\u0000${spec.within ?? ''}`;
}

/** Values travel to `json_each` as JSON strings (see valueKeyExpression). */
function valuesJson(probe: RecordProbe): string {
  return probe.kind === 'text' || probe.kind === 'number' ? JSON.stringify(probe.values.map(String)) : '[]';
}

/** The probes of one connection: its key indexes' statements, made (and the index built) on first use. */
export class SqliteLookups {
  private readonly keyed = new Map<string, KeyedStatements>();
  private readonly liveAfter: Database.Statement<[string, string, number], RawRecordRow>;
  private readonly countLive: Database.Statement<[string, number], { count: number }>;
  private readonly liveOfEntity: Database.Statement<[string], RawRecordRow>;
  private readonly liveRow: Database.Statement<[string, string], RawRecordRow>;

  /** `inSnapshot` runs a read in one snapshot of the connection (the record store's). */
  constructor(
    private readonly db: Database.Database,
    private readonly inSnapshot: <R>(read: () => R) => R,
  ) {
    this.liveAfter = db
      .prepare<[string, string, number], RawRecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE entity = ? AND id > ? AND deleted = 0 ORDER BY id LIMIT ?`,
      )
      .raw();
    this.countLive = db.prepare(
      'SELECT count(*) AS count FROM (SELECT 1 FROM records WHERE entity = ? AND deleted = 0 LIMIT ?)',
    );
    this.liveOfEntity = db
      .prepare<[string], RawRecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE entity = ? AND deleted = 0`,
      )
      .raw();
    this.liveRow = db
      .prepare<[string, string], RawRecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE entity = ? AND id = ? AND deleted = 0`,
      )
      .raw();
  }

  /**
   * Builds the indexes of `specs` (idempotent). Specs an index cannot serve (odd attribute names)
   * are answered by scans and need nothing.
   *
   * @throws AppError `ValidationFailed` for an id look-up that is not of text.
   */
  prepare(specs: readonly LookupSpec[]): void {
    for (const spec of specs) {
      if (spec.attribute === null && spec.kind !== 'text') {
        throw new AppError('ValidationFailed', 'Rows are looked up by id as text only.', {
          details: [{ path: 'kind', message: `got ${spec.kind} for the id` }],
        });
      }
      if (isIndexable(spec)) this.statementsOf(spec);
    }
  }

  /** A page of the live rows a probe finds (see `RecordStore.findRecords`). */
  find(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
    meter: ReadMeter | undefined,
  ): ProbePage {
    const { limit } = options;
    if (probe.kind === 'all' || !isIndexable(specOf(probe))) {
      const after = decodeAfter(options.after, undefined);
      if (probeIsEmpty(probe)) return { records: [], next: undefined };
      const rows = this.liveAfter.all(entity, after?.id ?? '', limit + 1);
      return this.page(rows, limit, meter, normalizeProbe(probe), (last) => ({ id: last[RAW_ID] }));
    }
    const keyed = this.keyedRows<RawRecordRow>(entity, probe, options, 'rows');
    if (keyed === undefined) return { records: [], next: undefined };
    return this.page(keyed.rows, limit, meter, keyed.probe, (last) => ({
      key: keyOfRow(keyed.probe, last),
      id: last[RAW_ID],
    }));
  }

  /**
   * The ids of a page of {@link find}, from the key index alone (counted as `keys`); the page's
   * position needs the last row's key, read from that row (one row). Probes no index serves read
   * their rows (counted as rows) and give their ids.
   */
  findIds(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
    meter: ReadMeter | undefined,
  ): ProbeIdPage {
    if (probe.kind === 'all' || !isIndexable(specOf(probe))) {
      const page = this.find(entity, probe, options, meter);
      return { ids: page.records.map((record) => record.id), next: page.next };
    }
    // One snapshot: the last id's row is the one the index found (another process may write between).
    return this.inSnapshot(() => {
      const keyed = this.keyedRows<{ id: string }>(entity, probe, options, 'ids');
      if (keyed === undefined) return { ids: [], next: undefined };
      const { rows } = keyed;
      if (meter !== undefined) meter.keys += rows.length;
      const more = rows.length > options.limit;
      if (more) rows.length = options.limit;
      const ids = rows.map((row) => row.id);
      if (!more) return { ids, next: undefined };
      const last = this.liveRow.get(entity, ids[ids.length - 1]!);
      if (last === undefined)
        throw new AppError('Internal', 'A row its index found in this snapshot is gone.');
      if (meter !== undefined) meter.rows += 1;
      return { ids, next: encodeAfter({ key: keyOfRow(keyed.probe, last), id: last[RAW_ID] }) };
    });
  }

  /** The rows (or ids) a keyed probe's page reads: the rest of the last page's key, then the keys after it. */
  private keyedRows<R>(
    entity: string,
    probe: Exclude<RecordProbe, { kind: 'all' }>,
    options: { after?: string; limit: number },
    columns: 'rows' | 'ids',
  ): { rows: R[]; probe: Exclude<RecordProbe, { kind: 'all' }> } | undefined {
    const after = decodeAfter(options.after, probe.kind === 'text' ? 'string' : 'number');
    if (probeIsEmpty(probe)) return undefined;
    const normalized = normalizeProbe(probe);
    const statements = this.statementsOf(specOf(probe), columns);
    const live = liveParameters(entity, normalized);
    // One more row than the page: tells whether there is a next page without an empty last one.
    const wanted = options.limit + 1;
    const from = after !== undefined && 'key' in after ? after.key : undefined;
    // The statements of `columns` select raw rows or ids alone.
    const all = (statement: Database.Statement<unknown[], unknown>, ...parameters: unknown[]): R[] =>
      statement.all(...parameters) as R[];
    let rows: R[] = from === undefined ? [] : all(statements.restOfKey, ...live, from, after!.id, wanted);
    if (rows.length < wanted) {
      const rest = wanted - rows.length;
      let following: R[];
      if (normalized.kind === 'time') {
        const upper = normalized.to ?? Number.POSITIVE_INFINITY;
        following =
          from === undefined
            ? all(statements.inRange!, ...live, normalized.from ?? Number.NEGATIVE_INFINITY, upper, rest)
            : all(statements.afterInRange!, ...live, from, upper, rest);
      } else {
        const values = valuesJson(normalized);
        following =
          from === undefined
            ? all(statements.ofValues!, ...live, values, rest)
            : all(statements.ofValuesAfter!, ...live, values, from, rest);
      }
      // concat, not push(...): a page of many thousand rows would overflow the argument stack.
      rows = rows.length === 0 ? following : rows.concat(following);
    }
    return { rows, probe: normalized };
  }

  /** How many live rows a probe finds (at most `upTo`, -1: all): from its index alone where one serves. */
  count(entity: string, probe: RecordProbe | undefined, meter: ReadMeter | undefined, upTo = -1): number {
    if (probe === undefined || probe.kind === 'all') return this.countLive.get(entity, upTo)!.count;
    if (probeIsEmpty(probe)) return 0;
    const normalized = normalizeProbe(probe);
    if (!isIndexable(specOf(probe))) {
      let count = 0;
      for (const record of this.scanEntity(entity, meter)) if (probeMatches(normalized, record)) count += 1;
      return upTo < 0 ? count : Math.min(count, upTo);
    }
    const statements = this.statementsOf(specOf(probe));
    const live = liveParameters(entity, normalized);
    if (normalized.kind === 'time') {
      const lower = normalized.from ?? Number.NEGATIVE_INFINITY;
      const upper = normalized.to ?? Number.POSITIVE_INFINITY;
      return statements.countInRange!.get(...live, lower, upper, upTo)!.count;
    }
    return statements.countOfValues!.get(...live, valuesJson(normalized), upTo)!.count;
  }

  private scanEntity(entity: string, meter: ReadMeter | undefined): StoredRecord[] {
    const rows = this.liveOfEntity.all(entity);
    if (meter !== undefined) meter.rows += rows.length;
    return rawToRecords(rows);
  }

  /** Cuts the extra row off, parses the page and keeps exactly what the probe matches. */
  private page(
    rows: RawRecordRow[],
    limit: number,
    meter: ReadMeter | undefined,
    probe: RecordProbe,
    position: (last: RawRecordRow) => Exclude<After, undefined>,
  ): ProbePage {
    if (meter !== undefined) meter.rows += rows.length;
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const next = more ? encodeAfter(position(rows[rows.length - 1]!)) : undefined;
    // The index decides already; the filter keeps this adapter's answer exactly record-keys.ts's.
    const records = rawToRecords(rows).filter((record) => probeMatches(probe, record));
    return { records, next };
  }

  private statementsOf(spec: LookupSpec, columns: 'rows' | 'ids' = 'rows'): KeyedStatements {
    const cacheKey = `${specKey(spec)}\u0000${columns}`;
    let statements = this.keyed.get(cacheKey);
    if (statements !== undefined) return statements;
    // Normally built by prepareLookups when configuration is published; this is the fallback.
    this.db.exec(lookupIndex(spec).ddl);
    const sql = keyedStatementSql(spec, columns);
    const prepare = <P extends unknown[], R>(
      text: string | undefined,
    ): Database.Statement<P, R> | undefined => (text === undefined ? undefined : this.db.prepare<P, R>(text));
    // Statements that read rows (not counts), raw when they select whole rows.
    const rowsOf = (text: string | undefined): Database.Statement<unknown[], unknown> | undefined => {
      const statement = prepare<unknown[], unknown>(text);
      return columns === 'rows' ? statement?.raw() : statement;
    };
    statements = {
      restOfKey: rowsOf(sql.restOfKey)!,
      ofValues: rowsOf(sql.ofValues),
      ofValuesAfter: rowsOf(sql.ofValuesAfter),
      countOfValues: prepare(sql.countOfValues),
      inRange: rowsOf(sql.inRange),
      afterInRange: rowsOf(sql.afterInRange),
      countInRange: prepare(sql.countInRange),
    };
    this.keyed.set(cacheKey, statements);
    return statements;
  }
}
