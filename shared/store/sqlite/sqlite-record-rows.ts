import type { Attributes, StoredRecord } from '../../model/record';

/** A row of `records` as statements select it ({@link RECORD_COLUMNS}). */
export interface RecordRow {
  entity: string;
  id: string;
  version: string;
  deleted: number;
  attributes: string;
  updated_at: string;
}

/**
 * A row of `records` as a raw statement returns it (`Statement.raw()`): {@link RECORD_COLUMNS} in
 * order. The bulk reads (probes, `getRecords`, scans) use raw statements: better-sqlite3 builds an
 * array per row faster than an object with six named properties (about 1 µs a row less on a first
 * download's pages of 5,000).
 */
export type RawRecordRow = [
  entity: string,
  id: string,
  version: string,
  deleted: number,
  attributes: string,
  updatedAt: string,
];

/** Where {@link RawRecordRow} holds the columns read apart from the record. */
export const RAW_ID = 1;
export const RAW_ATTRIBUTES = 4;

/** The columns every record read selects, in {@link RecordRow}'s shape. */
export const RECORD_COLUMNS = 'entity, id, version, deleted, attributes, updated_at';

/** A row as the port's record (its attributes parsed). */
export function toRecord(row: RecordRow): StoredRecord {
  return {
    entity: row.entity,
    id: row.id,
    version: row.version,
    deleted: row.deleted !== 0,
    attributes: JSON.parse(row.attributes) as Attributes,
    updatedAt: row.updated_at,
  };
}

/**
 * Converts a statement's rows to records in place: each row's attributes text becomes garbage as soon
 * as it is parsed, instead of every row's text staying alive until the whole page is parsed (on a
 * page of thousands of rows that kept megabytes alive long enough to reach V8's old space).
 */
export function toRecords(rows: RecordRow[]): StoredRecord[] {
  const records = rows as unknown as StoredRecord[];
  for (let i = 0; i < rows.length; i++) records[i] = toRecord(rows[i]!);
  return records;
}

/** Raw rows to records in place, as {@link toRecords} does for rows read as objects. */
export function rawToRecords(rows: RawRecordRow[]): StoredRecord[] {
  const records = rows as unknown as StoredRecord[];
  for (let i = 0; i < rows.length; i++) {
    const [entity, id, version, deleted, attributes, updatedAt] = rows[i]!;
    records[i] = {
      entity,
      id,
      version,
      deleted: deleted !== 0,
      attributes: JSON.parse(attributes) as Attributes,
      updatedAt,
    };
  }
  return records;
}
