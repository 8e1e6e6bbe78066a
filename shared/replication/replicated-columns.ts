import { createHash } from 'node:crypto';
import type { Settings } from '../config';
import type { EntityMetadata } from '../model/entity';
import type { Attributes } from '../model/record';

/**
 * Which columns replication reads from a source and stores (issue 14, oversize rows). The metadata
 * model has no file or image attribute types: the Dataverse metadata reader leaves those columns
 * (AttributeType `Virtual`: file, image, multi-select) out of the metadata, and reads select the
 * metadata's columns, so they are never read. Two default-enabled entities keep file contents in a
 * plain memo column instead (base64 text up to tens of MB, the usual cause of a row over Cosmos DB's
 * 2 MB item): those are left out too, unless `REPLICATION_INCLUDE_FILE_COLUMNS` is on, with any
 * column named in `REPLICATION_EXCLUDED_COLUMNS`. The primary id is never left out.
 */

/** Columns that hold a file's contents as text, by entity (left out by default). */
export const FILE_CONTENT_COLUMNS: ReadonlyMap<string, readonly string[]> = new Map([
  ['annotation', ['documentbody']],
  ['activitymimeattachment', ['body']],
]);

/** The columns left out of replication, as `entity.column` names. */
export interface ColumnPolicy {
  readonly excluded: ReadonlySet<string>;
}

/** The policy of the settings: file-content columns (unless included) and the ones named. */
export function columnPolicyOf(
  settings: Pick<Settings, 'REPLICATION_INCLUDE_FILE_COLUMNS' | 'REPLICATION_EXCLUDED_COLUMNS'>,
): ColumnPolicy {
  const excluded = new Set(settings.REPLICATION_EXCLUDED_COLUMNS);
  if (!settings.REPLICATION_INCLUDE_FILE_COLUMNS) {
    for (const [entity, columns] of FILE_CONTENT_COLUMNS) {
      for (const column of columns) excluded.add(`${entity}.${column}`);
    }
  }
  return { excluded };
}

function isExcluded(policy: ColumnPolicy, metadata: EntityMetadata, column: string): boolean {
  return column !== metadata.primaryIdAttribute && policy.excluded.has(`${metadata.logicalName}.${column}`);
}

/** The metadata replication reads with: the entity's attributes without the columns left out. */
export function replicatedMetadata(metadata: EntityMetadata, policy: ColumnPolicy): EntityMetadata {
  const attributes = metadata.attributes.filter((a) => !isExcluded(policy, metadata, a.name));
  return attributes.length === metadata.attributes.length ? metadata : { ...metadata, attributes };
}

/**
 * A row's attributes without the columns left out (what a webhook carries is trimmed to what a read
 * would have selected, so a row looks the same whichever way it arrived).
 */
export function replicatedAttributes(
  metadata: EntityMetadata,
  policy: ColumnPolicy,
  attributes: Attributes,
): Attributes {
  const names = Object.keys(attributes);
  if (!names.some((name) => isExcluded(policy, metadata, name))) return attributes;
  return Object.fromEntries(
    Object.entries(attributes).filter(([name]) => !isExcluded(policy, metadata, name)),
  );
}

/**
 * A short fingerprint of the columns a read selects. Stored with the delta token: a Dataverse delta
 * link keeps the `$select` of the full read that produced it, so when the columns change (a column
 * added to the metadata, a policy change) the token is not used and a full read selects them anew.
 */
export function columnsFingerprint(metadata: EntityMetadata): string {
  const names = metadata.attributes.map((a) => a.name).sort();
  return createHash('sha256').update(names.join(',')).digest('hex').slice(0, 16);
}
