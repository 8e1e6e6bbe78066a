import * as z from 'zod';

/**
 * A source version: a non-negative whole number (Dataverse's row version, or a counter). Stored as
 * its decimal string so that versions beyond 2^53 keep their order. Compare with {@link compareVersions}.
 */
export const versionSchema = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d{1,30}$/)])
  .transform((v) => String(v).replace(/^0+(?=\d)/, ''));
export type Version = z.infer<typeof versionSchema>;

/** Orders two normalized versions numerically. */
export function compareVersions(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Well-known ownership columns of user- and business-owned rows (as in Dataverse). */
export const OWNER_ATTRIBUTE = 'ownerid';
/** `systemuser` or `team`. */
export const OWNER_TYPE_ATTRIBUTE = 'owneridtype';
export const OWNING_BUSINESS_UNIT_ATTRIBUTE = 'owningbusinessunit';
export const MODIFIED_ON_ATTRIBUTE = 'modifiedon';

/**
 * Dates the source stamps when it writes a row (as Dataverse does): a stored row is never dated after
 * its write, so a date window over one of them gains no stored rows when the day changes (a row
 * dated in the new day is written in it, and arrives as a change).
 */
export function isWriteStamp(attribute: string): boolean {
  return attribute === MODIFIED_ON_ATTRIBUTE || attribute === 'createdon';
}

export type Attributes = Record<string, unknown>;

/** A row as the tenant store holds it: latest state, its source version, and a tombstone flag. */
export interface StoredRecord {
  entity: string;
  id: string;
  version: string;
  deleted: boolean;
  attributes: Attributes;
  /** When the store last changed the row (ISO 8601). */
  updatedAt: string;
}
