import { toComparable } from '../filters/evaluate-comparable';
import type { Attributes, StoredRecord } from '../model/record';
import { OWNER_ATTRIBUTE, OWNING_BUSINESS_UNIT_ATTRIBUTE } from '../model/record';
import type { RecordProbe } from './port';

/**
 * The keys rows are looked up by, shared by both adapters and the sync engine so that an index
 * answers exactly what the engine would decide row by row (shared/filters/evaluate-comparable):
 *
 * - text key: the value as case-insensitive text (`toComparable('text', v)`: strings lower-cased
 *   with JavaScript's full Unicode folding, numbers and booleans as their text);
 * - number key: the value as a number (`toComparable('number', v)`: numeric strings and booleans
 *   convert);
 * - time key: the value as an instant in epoch milliseconds (`toComparable('datetime', v)`: ISO
 *   8601 strings, those without an offset read as UTC).
 *
 * A value that has no key of a kind (null, missing, not convertible) is never found by a probe of
 * that kind, just as it matches no condition of that kind.
 */

/** Attribute names that may be written into a query or index definition as they are. */
const PLAIN_ATTRIBUTE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Whether an attribute name can be inlined in SQL or a Cosmos query (else adapters scan). */
export function isPlainAttributeName(attribute: string): boolean {
  return PLAIN_ATTRIBUTE.test(attribute);
}

/** Text values longer than this are not kept in Cosmos key fields (a probe for one is answered by a scan). */
export const MAX_TEXT_KEY_LENGTH = 256;

export function textKey(value: unknown): string | undefined {
  const key = toComparable('text', value);
  return typeof key === 'string' ? key : undefined;
}

export function numberKey(value: unknown): number | undefined {
  const key = toComparable('number', value);
  return typeof key === 'number' ? key : undefined;
}

export function timeKey(value: unknown): number | undefined {
  const key = toComparable('datetime', value);
  return typeof key === 'number' ? key : undefined;
}

/** Whether a time key lies in a time probe's range (`from` inclusive, `to` exclusive; null: open). */
export function timeKeyInRange(key: number, probe: { from: number | null; to: number | null }): boolean {
  return (probe.from === null || key >= probe.from) && (probe.to === null || key < probe.to);
}

/** The value a probe reads from a row: the attribute, or the row id for a text probe without one. */
function probedValue(probe: Exclude<RecordProbe, { kind: 'all' }>, record: StoredRecord): unknown {
  if (probe.kind === 'text' && probe.attribute === null) return record.id;
  return record.attributes[probe.attribute as string];
}

/**
 * Whether a live row is one a probe asks for: the exact semantics every adapter answers (an index
 * may narrow the candidates; this decides). Tombstones never match.
 */
export function probeMatches(probe: RecordProbe, record: StoredRecord): boolean {
  if (record.deleted) return false;
  if (probe.kind === 'all') return true;
  const value = probedValue(probe, record);
  switch (probe.kind) {
    case 'text': {
      const key = textKey(value);
      if (key === undefined || !probe.values.includes(key)) return false;
      if (probe.within === undefined) return true;
      const time = timeKey(record.attributes[probe.within.attribute]);
      return time !== undefined && timeKeyInRange(time, probe.within);
    }
    case 'number': {
      const key = numberKey(value);
      return key !== undefined && probe.values.includes(key);
    }
    case 'time': {
      const key = timeKey(value);
      return key !== undefined && timeKeyInRange(key, probe);
    }
  }
}

/** A probe with its values de-duplicated (text values lower-cased), for adapters to query with. */
export function normalizeProbe<P extends RecordProbe>(probe: P): P {
  switch (probe.kind) {
    case 'text':
      return { ...probe, values: [...new Set(probe.values.map((v) => v.toLowerCase()))].sort() };
    case 'number':
      return { ...probe, values: [...new Set(probe.values)].sort((a, b) => a - b) };
    default:
      return probe;
  }
}

/** True when a probe can match no row at all (an empty value list or an empty range). */
export function probeIsEmpty(probe: RecordProbe): boolean {
  const emptyRange = (range: { from: number | null; to: number | null }): boolean =>
    range.from !== null && range.to !== null && range.from >= range.to;
  if (probe.kind === 'text')
    return probe.values.length === 0 || (probe.within !== undefined && emptyRange(probe.within));
  if (probe.kind === 'number') return probe.values.length === 0;
  if (probe.kind === 'time') return emptyRange(probe);
  return false;
}

/** Ownership key of an owner id (`ownerid`). */
export function ownerKey(ownerId: string): string {
  return `o:${ownerId.toLowerCase()}`;
}

/** Ownership key of an owning business unit id (`owningbusinessunit`). */
export function businessUnitKey(businessUnitId: string): string {
  return `b:${businessUnitId.toLowerCase()}`;
}

/**
 * The ownership keys of a row state: who owns it (`o:<ownerid>`) and where (`b:<owningbusinessunit>`),
 * lower-cased. A change carries the keys of the state before it and after it, so a reader that asks
 * for the changes of some owners and business units sees every row that joined or left them.
 */
export function ownershipKeys(attributes: Attributes | undefined): string[] {
  if (attributes === undefined) return [];
  const keys: string[] = [];
  const owner = attributes[OWNER_ATTRIBUTE];
  if (typeof owner === 'string' && owner !== '') keys.push(ownerKey(owner));
  const businessUnit = attributes[OWNING_BUSINESS_UNIT_ATTRIBUTE];
  if (typeof businessUnit === 'string' && businessUnit !== '') keys.push(businessUnitKey(businessUnit));
  return keys;
}

/** The ownership keys of one change: those of the row before (undefined: none) and after it. */
export function changeKeys(before: StoredRecord | undefined, after: StoredRecord): string[] {
  const keys = new Set([
    ...ownershipKeys(before?.deleted === false ? before.attributes : undefined),
    ...ownershipKeys(after.deleted ? undefined : after.attributes),
  ]);
  return [...keys].sort();
}
