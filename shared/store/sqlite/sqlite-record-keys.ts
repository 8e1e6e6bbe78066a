import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { isPlainAttributeName } from '../record-keys';
import type { LookupSpec } from '../port';
import { numberKey, textKey, timeKey } from '../record-keys';

/**
 * The look-up keys of shared/store/record-keys.ts as SQL: deterministic functions registered on every
 * tenant connection, the key expression of each (attribute, kind), and the partial index that keeps
 * it. An index and a query agree only when their expressions are the very same text, so every
 * statement takes its expression from {@link keyExpression}.
 */

/** The SQL function computing each kind of key from a JSON fragment (`attributes -> '$.name'`). */
const KEY_FUNCTIONS = {
  text: 'record_text_key',
  number: 'record_number_key',
  time: 'record_time_key',
} as const satisfies Record<LookupSpec['kind'], string>;

/** Reads a JSON fragment; SQL NULL (a missing attribute) is no value. */
function fromJson(fragment: unknown): unknown {
  if (typeof fragment !== 'string') return undefined;
  try {
    return JSON.parse(fragment);
  } catch {
    // `->` yields valid JSON; anything else has no key rather than failing the write that indexes it.
    return undefined;
  }
}

/**
 * Registers the key functions on a tenant connection. They must exist on every connection before
 * it touches `records`: its expression indexes call them on every write.
 */
export function registerRecordKeyFunctions(db: Database.Database): void {
  // Deterministic: SQLite refuses other functions in an index, and may reuse a computed value.
  const options = { deterministic: true, varargs: false };
  db.function(KEY_FUNCTIONS.text, options, (fragment: unknown) => textKey(fromJson(fragment)) ?? null);
  db.function(KEY_FUNCTIONS.number, options, (fragment: unknown) => numberKey(fromJson(fragment)) ?? null);
  db.function(KEY_FUNCTIONS.time, options, (fragment: unknown) => timeKey(fromJson(fragment)) ?? null);
}

/** Whether a look-up can be served by an index (odd attribute names cannot be written into SQL). */
export function isIndexable(spec: LookupSpec): boolean {
  if (spec.within !== undefined && (spec.kind !== 'text' || !isPlainAttributeName(spec.within))) return false;
  if (spec.attribute === null) return spec.kind === 'text';
  return isPlainAttributeName(spec.attribute);
}

/** The time key of a composite look-up's date attribute, as SQL over `records`. */
export function withinExpression(attribute: string): string {
  return keyExpression({ attribute, kind: 'time' });
}

/**
 * The key of a row for a look-up, as SQL over `records`: the attribute's JSON fragment (only that
 * value is handed to JavaScript, never the whole row) through the key function; the id as a JSON
 * string for the id look-up. Only for {@link isIndexable} specs.
 */
export function keyExpression(spec: LookupSpec): string {
  const operand = spec.attribute === null ? 'json_quote(id)' : `attributes -> '$.${spec.attribute}'`;
  return `${KEY_FUNCTIONS[spec.kind]}(${operand})`;
}

/**
 * The key of a probe value as SQL over `json_each(?).value` (values travel as JSON strings): the
 * same function as the rows' keys, so a value and a row compare exactly as record-keys.ts says
 * (numbers as `String(n)`, which `Number` reads back exactly).
 */
export function valueKeyExpression(kind: 'text' | 'number'): string {
  return `${KEY_FUNCTIONS[kind]}(json_quote(value))`;
}

/**
 * The index of a look-up. Names hash the attribute: SQLite names are case-insensitive and
 * attribute names are not. `deleted` is a column of the index although it is always 0 there: with
 * it SQLite answers counts from the index alone (it does not infer it from the partial condition).
 */
export function lookupIndex(spec: LookupSpec): { name: string; ddl: string } {
  if (spec.within !== undefined) {
    // (key, date, id): a key's rows of a date range are one stretch of the index.
    const digest = createHash('sha256')
      .update(`${spec.kind}\u0000${spec.attribute ?? ''}\u0000${spec.within}`)
      .digest('hex')
      .slice(0, 16);
    const name = `records_${spec.kind}_within_key_${digest}`;
    return {
      name,
      ddl: `CREATE INDEX IF NOT EXISTS ${name} ON records (entity, ${keyExpression(spec)}, ${withinExpression(spec.within)}, id, deleted) WHERE deleted = 0`,
    };
  }
  const digest = createHash('sha256')
    .update(`${spec.kind}\u0000${spec.attribute ?? ''}`)
    .digest('hex')
    .slice(0, 16);
  const name = `records_${spec.kind}_key_${digest}`;
  return {
    name,
    ddl: `CREATE INDEX IF NOT EXISTS ${name} ON records (entity, ${keyExpression(spec)}, id, deleted) WHERE deleted = 0`,
  };
}
