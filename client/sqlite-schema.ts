/**
 * The SQL of the shipped SQLite stores, shared by the better-sqlite3 store (`/sqlite`) and the
 * browser store's worker (`/web`, SQLite in WebAssembly): one schema, one query translation, one
 * way to read rows back, so the two cannot drift apart. Imports no SQLite binding.
 */
import type { LocalRow, OutboxEntry, RowData } from './local-store';
import { operatorsOf, type CheckedRowQuery, type ColumnCondition, type Scalar } from './query';

export const ENTITY_NAME = /^[a-z][a-z0-9_]{0,99}$/;
export const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** The tables every device database has besides one `rows_<entity>` table per entity. */
export const STORE_SCHEMA_SQL = `
    CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      op_id TEXT NOT NULL UNIQUE,
      entity TEXT NOT NULL,
      record_id TEXT NOT NULL,
      op TEXT NOT NULL,
      row TEXT,
      base_version TEXT,
      after_op_id TEXT,
      created_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_by_row ON outbox (entity, record_id, seq);
    CREATE TABLE IF NOT EXISTS sync_errors (id TEXT PRIMARY KEY, time TEXT NOT NULL, body TEXT NOT NULL);
  `;

/** The table of an entity's rows; refuses a name that is not an entity logical name. */
export function rowTableOf(entity: string): string {
  if (!ENTITY_NAME.test(entity)) throw new Error(`Not an entity logical name: '${entity}'.`);
  return `rows_${entity}`;
}

/** Creates an entity's row table and the expression indexes asked for on its columns. */
export function rowTableSql(table: string, indexedColumns: readonly string[] = []): string {
  // A rowid table (rows appended in insert order, the id in its own unique index) rather than
  // WITHOUT ROWID: SQLite advises rowid tables for rows this large (over 1/20 of a page), and it
  // writes about half as much when a download's ids do not come in key order.
  const statements = [
    `CREATE TABLE IF NOT EXISTS "${table}" (
        id TEXT PRIMARY KEY,
        version TEXT,
        data TEXT,
        server_data TEXT,
        pending INTEGER NOT NULL DEFAULT 0
      )`,
  ];
  for (const column of indexedColumns) {
    if (!COLUMN_NAME.test(column)) throw new Error(`Not a column name: '${column}'.`);
    statements.push(
      `CREATE INDEX IF NOT EXISTS "${table}_by_${column}" ON "${table}" (json_extract(data, '$.${column}'))`,
    );
  }
  return statements.join(';\n');
}

/** The statements on one row table (bound in the order their placeholders show). */
export const rowSql = (table: string) => ({
  get: `SELECT id, version, data, server_data, pending FROM "${table}" WHERE id = ?`,
  /** id, version, data, server_data, pending */
  put: `INSERT INTO "${table}" (id, version, data, server_data, pending) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET version = excluded.version, data = excluded.data,
             server_data = excluded.server_data, pending = excluded.pending`,
  del: `DELETE FROM "${table}" WHERE id = ?`,
  list: `SELECT id, version, data, server_data, pending FROM "${table}" ORDER BY id`,
});

/** The statements on the other tables. */
export const STORE_SQL = {
  getState: 'SELECT value FROM sync_state WHERE key = ?',
  putState:
    'INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  deleteState: 'DELETE FROM sync_state WHERE key = ?',
  outboxAll: 'SELECT * FROM outbox ORDER BY seq LIMIT ?',
  outboxByRow: 'SELECT * FROM outbox WHERE entity = ? AND record_id = ? ORDER BY seq',
  /** op_id, entity, record_id, op, row, base_version, after_op_id, created_at */
  insertOutbox: `INSERT INTO outbox (op_id, entity, record_id, op, row, base_version, after_op_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  /** row, base_version, after_op_id, op_id */
  updateOutbox: 'UPDATE outbox SET row = ?, base_version = ?, after_op_id = ? WHERE op_id = ?',
  deleteOutbox: 'DELETE FROM outbox WHERE op_id = ?',
  putError:
    'INSERT INTO sync_errors (id, time, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET time = excluded.time, body = excluded.body',
  listErrors: 'SELECT body FROM sync_errors ORDER BY time DESC, id',
  deleteError: 'DELETE FROM sync_errors WHERE id = ?',
} as const;

/** SQL of a query, as `evaluateQuery` (query.ts) defines its meaning; values bound, names checked. */
export function querySql(
  table: string,
  query: CheckedRowQuery,
): { sql: string; params: (string | number)[] } {
  const params: (string | number)[] = [];
  const path = (column: string): string => {
    if (!COLUMN_NAME.test(column)) throw new Error(`Not a column name: '${column}'.`);
    return `'$.${column}'`;
  };
  const type = (p: string): string => `json_type(data, ${p})`;
  const value = (p: string): string => `json_extract(data, ${p})`;
  const kind = (p: string, operand: Scalar): string => {
    if (operand === null) return `(${type(p)} IS NULL OR ${type(p)} = 'null')`;
    if (typeof operand === 'boolean') return `${type(p)} IN ('true', 'false')`;
    if (typeof operand === 'number') return `${type(p)} IN ('integer', 'real')`;
    return `${type(p)} = 'text'`;
  };
  const bind = (operand: string | number | boolean): string => {
    params.push(typeof operand === 'boolean' ? (operand ? 1 : 0) : operand);
    return '?';
  };
  // Positive conditions are top-level AND terms (a NULL term excludes the row as false would), so
  // an expression index on json_extract(data, '$.column') serves them; only `ne` needs COALESCE.
  const equals = (p: string, operand: Scalar): string =>
    operand === null ? kind(p, null) : `(${kind(p, operand)} AND ${value(p)} = ${bind(operand)})`;
  const conditions: string[] = ['data IS NOT NULL'];
  for (const [column, condition] of Object.entries(query.where ?? {})) {
    const p = path(column);
    const ops: ColumnCondition = operatorsOf(condition);
    if (ops.eq !== undefined) conditions.push(equals(p, ops.eq));
    if (ops.ne !== undefined) conditions.push(`NOT COALESCE(${equals(p, ops.ne)}, 0)`);
    for (const [op, sql] of [
      ['gt', '>'],
      ['gte', '>='],
      ['lt', '<'],
      ['lte', '<='],
    ] as const) {
      const operand = ops[op];
      if (operand !== undefined) conditions.push(kind(p, operand), `${value(p)} ${sql} ${bind(operand)}`);
    }
    if (ops.in !== undefined)
      conditions.push(
        ops.in.length === 0 ? '0' : `(${ops.in.map((operand) => equals(p, operand)).join(' OR ')})`,
      );
  }
  const order: string[] = [];
  for (const { column, direction } of query.orderBy ?? []) {
    const p = path(column);
    const dir = direction === 'desc' ? 'DESC' : 'ASC';
    // Absent and null first, then booleans and numbers, then text, then JSON objects and arrays.
    order.push(
      `CASE WHEN ${type(p)} IS NULL OR ${type(p)} = 'null' THEN 0 WHEN ${type(p)} IN ('true', 'false', 'integer', 'real') THEN 1 WHEN ${type(p)} = 'text' THEN 2 ELSE 3 END ${dir}`,
      `${value(p)} ${dir}`,
    );
  }
  order.push('id');
  let sql = `SELECT data FROM "${table}" WHERE ${conditions.join(' AND ')} ORDER BY ${order.join(', ')}`;
  if (query.limit !== undefined || query.offset !== undefined) {
    sql += ` LIMIT ${bind(query.limit ?? -1)} OFFSET ${bind(query.offset ?? 0)}`;
  }
  return { sql, params };
}

/** A row of a `rows_<entity>` table as SQLite returns it. */
export interface RowRecord {
  id: string;
  version: string | null;
  data: string | null;
  server_data: string | null;
  pending: number;
}

/** A row of `outbox` as SQLite returns it. */
export interface OutboxRecord {
  seq: number;
  op_id: string;
  entity: string;
  record_id: string;
  op: string;
  row: string | null;
  base_version: string | null;
  after_op_id: string | null;
  created_at: string;
}

export function parseJson(text: string | null): RowData | null {
  return text === null ? null : (JSON.parse(text) as RowData | null);
}

export function toOutboxEntry(r: OutboxRecord): OutboxEntry {
  const row = parseJson(r.row);
  return {
    opId: r.op_id,
    seq: r.seq,
    entity: r.entity,
    id: r.record_id,
    op: r.op as OutboxEntry['op'],
    ...(row === null ? {} : { row }),
    ...(r.base_version === null ? {} : { baseVersion: r.base_version }),
    ...(r.after_op_id === null ? {} : { afterOpId: r.after_op_id }),
    createdAt: r.created_at,
  };
}

export function toLocalRow(entity: string, r: RowRecord): LocalRow {
  return {
    entity,
    id: r.id,
    row: parseJson(r.data),
    ...(r.version === null ? {} : { version: r.version }),
    ...(r.pending === 1 ? { serverRow: parseJson(r.server_data) } : {}),
    pending: r.pending === 1,
  };
}

/** The values `putRow` binds to `rowSql(table).put`. */
export function rowParams(row: LocalRow): [string, string | null, string | null, string | null, number] {
  return [
    row.id,
    row.version ?? null,
    row.row === null ? null : JSON.stringify(row.row),
    row.pending ? JSON.stringify(row.serverRow ?? null) : null,
    row.pending ? 1 : 0,
  ];
}

/** The values `addOutbox` binds to `STORE_SQL.insertOutbox`. */
export function outboxParams(entry: Omit<OutboxEntry, 'seq'>): (string | null)[] {
  return [
    entry.opId,
    entry.entity,
    entry.id,
    entry.op,
    entry.row === undefined ? null : JSON.stringify(entry.row),
    entry.baseVersion ?? null,
    entry.afterOpId ?? null,
    entry.createdAt,
  ];
}

/** The values `updateOutbox` binds to `STORE_SQL.updateOutbox`. */
export function outboxUpdateParams(entry: OutboxEntry): (string | null)[] {
  return [
    entry.row === undefined ? null : JSON.stringify(entry.row),
    entry.baseVersion ?? null,
    entry.afterOpId ?? null,
    entry.opId,
  ];
}
