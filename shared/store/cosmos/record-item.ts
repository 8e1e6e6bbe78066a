import type { ItemDefinition } from '@azure/cosmos';
import type { Attributes, StoredRecord } from '../../model/record';
import { isPlainAttributeName } from '../record-keys';
import { MAX_TEXT_KEY_LENGTH, numberKey, textKey, timeKey } from '../record-keys';
import { itemKey } from './layout';

/**
 * The keys a live row is looked up by, computed when it is written with the functions both adapters
 * share (record-keys.ts), so that a query comparing them answers exactly what `probeMatches` decides:
 *
 *   k.id        the row id as text key (lower-cased)
 *   k.t.<attr>  text key of the attribute (only if at most MAX_TEXT_KEY_LENGTH long)
 *   k.n.<attr>  number key of the attribute
 *   k.d.<attr>  time key (epoch ms) of the attribute
 *
 * for each top-level attribute with a plain name (`isPlainAttributeName`: other names are never
 * written into a query, their probes read the entity). A value gets every key it has (`"42"` has a
 * text and a number key), so a probe of any kind finds it without knowing the attribute's type.
 * Tombstones and fences have no keys: look-ups only ever ask for live rows.
 */
export interface RecordKeys {
  id?: string;
  t: Record<string, string>;
  n: Record<string, number>;
  d: Record<string, number>;
}

/** How a row is stored in the `records` container (partition key `/pk`, see layout.ts). */
export interface RecordItem extends ItemDefinition {
  id: string;
  pk: string;
  entity: string;
  recordId: string;
  version: string;
  deleted: boolean;
  attributes: Attributes;
  updatedAt: string;
  /** The seq of the row's latest change (change-sequence.ts). */
  seq: number;
  /** Look-up keys of a live row; absent on tombstones, fences and rows written before keys existed. */
  k?: RecordKeys;
  /** A settler's fence where no row existed (change-sequence.ts): invisible, as if absent. */
  fence?: true;
  _etag?: string;
}

/** The fields a query returns for a row it gives back whole (no keys, no system fields). */
export const RECORD_PROJECTION = 'c.entity, c.recordId, c.version, c.deleted, c.attributes, c.updatedAt';

/** A row as {@link RECORD_PROJECTION} returns it. */
export type ProjectedRecord = Pick<
  RecordItem,
  'entity' | 'recordId' | 'version' | 'deleted' | 'attributes' | 'updatedAt'
>;

/** The keys of a row state (undefined for a tombstone). */
export function recordKeysOf(record: StoredRecord): RecordKeys | undefined {
  if (record.deleted) return undefined;
  const keys: RecordKeys = { t: {}, n: {}, d: {} };
  const id = textKey(record.id);
  if (id !== undefined && id.length <= MAX_TEXT_KEY_LENGTH) keys.id = id;
  for (const [name, value] of Object.entries(record.attributes)) {
    if (!isPlainAttributeName(name)) continue;
    const text = textKey(value);
    if (text !== undefined && text.length <= MAX_TEXT_KEY_LENGTH) keys.t[name] = text;
    const number = numberKey(value);
    // -0 would be stored as 0, which is the same key.
    if (number !== undefined) keys.n[name] = number;
    const time = timeKey(value);
    if (time !== undefined) keys.d[name] = time;
  }
  return keys;
}

/** How a row's state is stored at seq. */
export function toRecordItem(record: StoredRecord, seq: number): RecordItem {
  const key = itemKey(record.entity, record.id);
  const keys = recordKeysOf(record);
  return {
    id: key,
    pk: key,
    entity: record.entity,
    recordId: record.id,
    version: record.version,
    deleted: record.deleted,
    attributes: record.attributes,
    updatedAt: record.updatedAt,
    seq,
    ...(keys === undefined ? {} : { k: keys }),
  };
}

export function toStoredRecord(item: ProjectedRecord): StoredRecord {
  return {
    entity: item.entity,
    id: item.recordId,
    version: item.version,
    deleted: item.deleted,
    attributes: item.attributes,
    updatedAt: item.updatedAt,
  };
}

/** The item without the properties Cosmos adds (`_rid`, `_self`, `_ts`, `_attachments`, `_etag`). */
export function withoutSystemFields(item: RecordItem): RecordItem {
  const { _rid, _self, _ts, _attachments, _etag, ...content } = item as RecordItem & Record<string, unknown>;
  void [_rid, _self, _ts, _attachments, _etag];
  return content;
}
