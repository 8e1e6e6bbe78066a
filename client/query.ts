import * as z from 'zod';
import type { RowData } from './local-store';

/**
 * Queries of the local store: `client.table('account').where({ name: { gte: 'M' } }).orderBy('name')
 * .limit(20)`. One meaning, two evaluations: {@link evaluateQuery} here (any store) and the SQLite
 * store's SQL (`queryRows`), which the conformance suite holds to the same results.
 *
 * Comparisons only match values of the operand's type (a string is never "greater" than a number);
 * `eq: null` matches null and absent columns; `ne` matches whatever `eq` does not. Sorting puts absent
 * and null first, then booleans and numbers, then strings (by UTF-16 code unit, as SQLite's BINARY
 * collation), and always ends with the row id, so a limit is stable.
 */
export type Scalar = string | number | boolean | null;

/** The operators of one column's condition; several in one object must all hold. */
export interface ColumnOperators<V> {
  eq?: V | null;
  ne?: V | null;
  gt?: V;
  gte?: V;
  lt?: V;
  lte?: V;
  in?: readonly V[];
}

/** A condition per column (all must hold): a value means `eq`. */
export type Where<Row> = { [C in keyof Row]?: ScalarOf<Row[C]> | null | ColumnOperators<ScalarOf<Row[C]>> };
type ScalarOf<V> =
  Extract<NonNullable<V>, string | number | boolean> extends never
    ? Scalar
    : Extract<NonNullable<V>, string | number | boolean>;

export interface OrderBy<Row> {
  column: keyof Row & string;
  direction?: 'asc' | 'desc';
}

/** A query of one entity's rows, as `table()` builds it and a store answers it. */
export interface RowQuery<Row = RowData> {
  entity: string;
  where?: Where<Row>;
  orderBy?: readonly OrderBy<Row>[];
  limit?: number;
  offset?: number;
}

/** Column names a query may name: they become JSON paths (`$.name`) in the SQLite store's SQL. */
const columnSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'a column name (letters, digits, _)');
const comparableSchema = z.union([z.string(), z.number().finite(), z.boolean()]);
const scalarSchema = z.union([comparableSchema, z.null()]);
const operatorsSchema = z
  .object({
    eq: scalarSchema,
    ne: scalarSchema,
    gt: comparableSchema,
    gte: comparableSchema,
    lt: comparableSchema,
    lte: comparableSchema,
    in: z.array(scalarSchema).max(1000),
  })
  .partial()
  .strict();

/** The query as the SDK accepts it from the app: checked before it reaches a store. */
export const rowQuerySchema = z
  .object({
    entity: z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, 'an entity logical name'),
    where: z.record(columnSchema, z.union([scalarSchema, operatorsSchema])).optional(),
    orderBy: z
      .array(z.object({ column: columnSchema, direction: z.enum(['asc', 'desc']).optional() }).strict())
      .max(8)
      .optional(),
    limit: z.number().int().nonnegative().optional(),
    offset: z.number().int().nonnegative().optional(),
  })
  .strict();
/** A checked query: what a store's `queryRows` receives. */
export type CheckedRowQuery = z.infer<typeof rowQuerySchema>;
export type ColumnCondition = z.infer<typeof operatorsSchema>;

/** A column's condition in operator form (`'x'` → `{ eq: 'x' }`). */
export function operatorsOf(condition: Scalar | ColumnCondition): ColumnCondition {
  return condition !== null && typeof condition === 'object' ? condition : { eq: condition };
}

/** Type class of a JSON value for comparisons and order: absent/null 0, boolean/number 1, string 2, other 3. */
function classOf(value: unknown): 0 | 1 | 2 | 3 {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return 2;
  return 3;
}

/** Comparable form: booleans as 1 / 0 (SQLite's json_extract gives integers), objects as JSON text. */
function comparable(value: unknown): number | string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Whether `value` and `operand` are of one kind for comparison (booleans only with booleans). */
function sameKind(value: unknown, operand: Scalar): boolean {
  if (operand === null) return value === null || value === undefined;
  if (typeof operand === 'boolean') return typeof value === 'boolean';
  if (typeof operand === 'number') return typeof value === 'number';
  return typeof value === 'string';
}

function equals(value: unknown, operand: Scalar | undefined): boolean {
  if (operand === undefined) return false;
  return sameKind(value, operand) && (operand === null || value === operand);
}

function compare(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether one column's value meets its condition. */
export function matchesCondition(value: unknown, condition: Scalar | ColumnCondition): boolean {
  const ops = operatorsOf(condition);
  if ('eq' in ops && !equals(value, ops.eq)) return false;
  if ('ne' in ops && equals(value, ops.ne)) return false;
  for (const [op, test] of [
    ['gt', (c: number) => c > 0],
    ['gte', (c: number) => c >= 0],
    ['lt', (c: number) => c < 0],
    ['lte', (c: number) => c <= 0],
  ] as const) {
    const operand = ops[op];
    if (operand === undefined) continue;
    if (!sameKind(value, operand)) return false;
    if (!test(compare(comparable(value)!, comparable(operand)!))) return false;
  }
  if (ops.in !== undefined && !ops.in.some((operand) => equals(value, operand))) return false;
  return true;
}

/** Orders two rows by the query's columns, then by id. */
export function compareRows(
  a: { id: string; row: RowData },
  b: { id: string; row: RowData },
  orderBy: CheckedRowQuery['orderBy'] = [],
): number {
  for (const { column, direction } of orderBy) {
    const x = a.row[column];
    const y = b.row[column];
    let c = classOf(x) - classOf(y);
    if (c === 0 && classOf(x) !== 0) c = compare(comparable(x)!, comparable(y)!);
    if (c !== 0) return direction === 'desc' ? -c : c;
  }
  return compare(a.id, b.id);
}

/** The query over rows already read (any store): filter, order, offset, limit. */
export function evaluateQuery(
  rows: readonly { id: string; row: RowData | null }[],
  query: CheckedRowQuery,
): RowData[] {
  const where = Object.entries(query.where ?? {});
  const kept = rows.filter(
    (r): r is { id: string; row: RowData } =>
      r.row !== null && where.every(([column, condition]) => matchesCondition(r.row![column], condition)),
  );
  kept.sort((a, b) => compareRows(a, b, query.orderBy));
  const start = query.offset ?? 0;
  const end = query.limit === undefined ? undefined : start + query.limit;
  return kept.slice(start, end).map((r) => r.row);
}
