import { createHash } from 'node:crypto';
import { AppError } from '../../errors';
import { orgSchema } from '../../model/tenant';

/**
 * Where everything lives in Cosmos DB, and why (partitioning for scale: a logical partition holds at
 * most 20 GB and serves at most 10,000 RU/s).
 *
 * Tenant database `<prefix><org>`:
 * - `records`: one item per row, partition key `/pk` = `<entity>|<id>`. Every row is its own logical
 *   partition, so no entity — however large — concentrates in one partition; point reads and
 *   conditional replaces hit exactly one partition. Scans and counts by entity are cross-partition
 *   queries on the indexed `entity` / `recordId` fields, which the service fans out in parallel.
 * - `changes`: the change sequence (see change-sequence.ts). Markers are partitioned by `/block` =
 *   `floor(seq / SEQ_BLOCK_SIZE)`, so one block partition holds a bounded number of small markers and a
 *   reader queries exactly one partition, in seq order; the seq counter lives alone in block
 *   `counter`. A total order needs one point of allocation; the counter takes one patch per batch chunk.
 * - `docs`: documents keyed by (kind, id), partition key `/pk` = `<kind>|<id>`, so device state (one
 *   document per device and more) spreads over many partitions; `listDocs` is a query on `kind`.
 *
 * Control database: only `docs`.
 */

/** A container of the layout: its id and partition key path. */
export interface ContainerSpec {
  id: string;
  partitionKeyPath: string;
  /** -1: items expire only when they carry their own `ttl` (gap watches do). */
  defaultTtl?: number;
}

export const RECORDS_CONTAINER: ContainerSpec = { id: 'records', partitionKeyPath: '/pk' };
export const CHANGES_CONTAINER: ContainerSpec = { id: 'changes', partitionKeyPath: '/block', defaultTtl: -1 };
export const DOCS_CONTAINER: ContainerSpec = { id: 'docs', partitionKeyPath: '/pk' };

export const TENANT_CONTAINERS: readonly ContainerSpec[] = [
  RECORDS_CONTAINER,
  CHANGES_CONTAINER,
  DOCS_CONTAINER,
];
export const CONTROL_CONTAINERS: readonly ContainerSpec[] = [DOCS_CONTAINER];

/** How many sequence numbers share one marker partition of the `changes` container. */
export const SEQ_BLOCK_SIZE = 10_000;

/** The database of a tenant. Org names become part of a resource name, so only safe characters pass. */
export function tenantDatabaseName(databasePrefix: string, org: string): string {
  const parsed = orgSchema.safeParse(org);
  if (!parsed.success) {
    throw new AppError('ValidationFailed', `"${org}" is not a valid tenant name.`, {
      details: parsed.error.issues.map((issue) => ({ path: 'org', message: issue.message })),
    });
  }
  return `${databasePrefix}${org}`;
}

/**
 * The item id (and partition key value) for a (kind, id) pair. Cosmos ids may not hold `/ \ ? #`
 * and are at most 255 characters: components are percent-encoded, and long keys are hashed (the
 * readable fields stored beside the id are what queries use).
 */
export function itemKey(kind: string, id: string): string {
  let key: string | undefined;
  try {
    key = `${encodeURIComponent(kind)}|${encodeURIComponent(id)}`;
  } catch {
    // A lone surrogate cannot be percent-encoded; such keys are hashed like long ones.
    key = undefined;
  }
  if (key !== undefined && key.length <= 200) return key;
  return `h|${createHash('sha256').update(kind).update('\u0000').update(id).digest('hex')}`;
}
