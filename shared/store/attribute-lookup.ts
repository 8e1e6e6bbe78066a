import type { StoredRecord } from '../model/record';

/**
 * The shared semantics of `RecordStore.findRecordsByAttribute` for both adapters: which values are
 * asked for, and whether a row matches. Adapters narrow the candidates with an index on the
 * ASCII-lower-cased value (SQLite's `lower()` folds ASCII only), then keep exactly the rows whose
 * value equals a wanted one under JavaScript's full lower-casing, which is how the sync engine
 * compares ids.
 */
export interface AttributeLookup {
  /** Distinct wanted values, lower-cased. */
  wanted: ReadonlySet<string>;
  /** True when a wanted value has non-ASCII characters: an ASCII-folding index could miss its rows. */
  needsScan: boolean;
  /** Keeps a row only when it is live and its value equals a wanted one ignoring case. */
  matches: (record: StoredRecord) => boolean;
}

/** Attribute names that may be written into a query or index definition as they are. */
const PLAIN_ATTRIBUTE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Whether an attribute name can be inlined in SQL or a Cosmos query (else adapters scan). */
export function isPlainAttributeName(attribute: string): boolean {
  return PLAIN_ATTRIBUTE.test(attribute);
}

/** Prepares a lookup of `values` in `attribute` (null: the row id). */
export function attributeLookup(attribute: string | null, values: readonly string[]): AttributeLookup {
  const wanted = new Set(values.map((v) => v.toLowerCase()));
  // eslint-disable-next-line no-control-regex
  const needsScan = [...wanted].some((v) => /[^\x00-\x7f]/.test(v));
  const matches = (record: StoredRecord): boolean => {
    if (record.deleted) return false;
    const value = attribute === null ? record.id : record.attributes[attribute];
    return typeof value === 'string' && wanted.has(value.toLowerCase());
  };
  return { wanted, needsScan, matches };
}
