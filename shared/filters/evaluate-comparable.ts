import type { AttributeType } from '../model/entity';

/**
 * How values of an attribute compare: `text` and `id` case-insensitively as strings (ids are GUIDs),
 * `number` numerically, `datetime` as instants, `boolean` as false < true.
 */
export type ValueKind = 'text' | 'id' | 'number' | 'boolean' | 'datetime';

const kindByType: Readonly<Record<AttributeType, ValueKind>> = {
  string: 'text',
  memo: 'text',
  integer: 'number',
  bigint: 'number',
  decimal: 'number',
  double: 'number',
  money: 'number',
  picklist: 'number',
  language: 'number',
  boolean: 'boolean',
  datetime: 'datetime',
  uniqueidentifier: 'id',
  lookup: 'id',
  owner: 'id',
};

/**
 * The kind of an attribute's values. An attribute missing from the metadata (a filter kept across a
 * metadata change) is compared by the kind of the condition's value: numbers as numbers, booleans as
 * booleans, anything else as case-insensitive text.
 */
export function valueKindOf(type: AttributeType | undefined, conditionValue: unknown): ValueKind {
  if (type !== undefined) return kindByType[type];
  if (typeof conditionValue === 'number') return 'number';
  if (typeof conditionValue === 'boolean') return 'boolean';
  return 'text';
}

/** A value in the form it is compared in: lower-cased strings, numbers, epoch milliseconds, booleans. */
export type Comparable = string | number | boolean;

// ISO date-times without an offset are UTC (Dataverse's); JavaScript would read them as local time.
const isoWithoutOffset = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
const isoDate = /^\d{4}-\d{2}-\d{2}/;

/**
 * Converts a row or condition value to its comparable form; undefined for null or missing values and
 * for values that are not of the kind (a column that does not hold a number, a malformed date): such
 * a value matches no comparison, as a failed conversion matches no row in SQL.
 */
export function toComparable(kind: ValueKind, value: unknown): Comparable | undefined {
  if (value === null || value === undefined) return undefined;
  switch (kind) {
    case 'text':
    case 'id':
      return typeof value === 'string'
        ? value.toLowerCase()
        : typeof value === 'number' || typeof value === 'boolean'
          ? String(value).toLowerCase()
          : undefined;
    case 'number': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && value.trim() !== ''
            ? Number(value)
            : typeof value === 'boolean'
              ? Number(value)
              : NaN;
      return Number.isFinite(n) ? n : undefined;
    }
    case 'datetime': {
      // Only ISO 8601 text is a date: Date.parse would read "5" or "May 1" as one too.
      const ms =
        typeof value === 'string'
          ? isoDate.test(value)
            ? Date.parse(isoWithoutOffset.test(value) ? `${value}Z` : value)
            : NaN
          : typeof value === 'number'
            ? value
            : value instanceof Date
              ? value.getTime()
              : NaN;
      return Number.isFinite(ms) ? ms : undefined;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 1 || value === 0) return value === 1;
      if (typeof value === 'string') {
        const s = value.trim().toLowerCase();
        if (s === 'true' || s === '1') return true;
        if (s === 'false' || s === '0') return false;
      }
      return undefined;
  }
}

/** A row value as text for pattern operators (`like`, `begins-with`, …); undefined when null. */
export function toText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
