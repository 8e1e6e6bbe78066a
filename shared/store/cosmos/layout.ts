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
 *   conditional replaces hit exactly one partition. Look-ups (`findRecords`), scans and counts are
 *   cross-partition queries, and that is cheap here: a cross-partition query fans out to physical
 *   partitions, not logical ones, and a tenant of 3 million rows of about 1 KB (with their keys) is
 *   a few GB, i.e. one or a few physical partitions (one holds up to 50 GB). Each item carries the
 *   keys it is looked up by (`k`, see record-item.ts), computed when it is written, and only the
 *   fields queries filter or order on are indexed ({@link RECORDS_INDEXING}): the row's attributes
 *   themselves are not, so writes pay for the index terms of the keys, not of every attribute.
 * - `changes`: the change sequence (see change-sequence.ts). Markers are partitioned by `/block` =
 *   `floor(seq / SEQ_BLOCK_SIZE)`, so one block partition holds a bounded number of small markers and
 *   the writes of one moment go to one partition; the seq counter and the watermark live alone in
 *   block `counter`. A total order needs one point of allocation; the counter takes one patch per
 *   batch chunk. Markers expire by their own `ttl` (the change retention), so the container holds
 *   only the retained changes (small items: tens of MB for a busy tenant) and a reader's query over
 *   a seq range fans out to its one or few physical partitions.
 * - `docs`: documents keyed by (kind, id), partition key `/pk` = `<kind>|<id>`, so device state (one
 *   document per device and more) spreads over many partitions; `listDocs` is a query on `kind`.
 *
 * Control database: only `docs`.
 *
 * Both ways of creating a database (data plane with a key, Azure Resource Manager with an identity:
 * database-admin.ts) create containers from these specs, with their indexing policies. A container
 * created before a policy changed keeps its old one on the data plane (`createIfNotExists` does not
 * update); ARM's create-or-update applies the new one. Rows written before the keys existed have no
 * `k` and are not found by keyed look-ups: there are no deployed tenants to migrate.
 */

/** A composite index: paths in order, each ascending or descending. */
export type CompositeIndex = { path: string; order: 'ascending' | 'descending' }[];

/**
 * An indexing policy in the shape both the data plane (`@azure/cosmos`) and Azure Resource Manager
 * (`@azure/arm-cosmosdb`) accept. Paths ending in `/?` index one scalar, `/*` everything below,
 * `/[]/?` every element of an array.
 */
export interface IndexingPolicySpec {
  indexingMode: 'consistent';
  automatic: true;
  includedPaths: { path: string }[];
  excludedPaths: { path: string }[];
  compositeIndexes: CompositeIndex[];
}

/** A container of the layout: its id, partition key path and indexing policy. */
export interface ContainerSpec {
  id: string;
  partitionKeyPath: string;
  /** -1: items expire only when they carry their own `ttl` (markers and gap watches do). */
  defaultTtl?: number;
  /** Undefined: the service's default (every path indexed). */
  indexingPolicy?: IndexingPolicySpec;
}

const ascending = (...paths: string[]): CompositeIndex => paths.map((path) => ({ path, order: 'ascending' }));

/**
 * What the queries on `records` filter and order on, and nothing else: the entity, the row id
 * (keyset paging and id order), `deleted` (live rows), `seq`, `fence` (a fence item of the change
 * sequence is no row) and the look-up keys under `k`. The row's `attributes` (named here although
 * `/*` already excludes them, to say that they are never queried) and everything else are not
 * indexed. Look-ups, scans and counts filter on one entity and order by id: `ORDER BY c.entity,
 * c.recordId` with the composite (entity, recordId) serves the filter and the order from one index
 * (putting the equality-filtered field first in the ORDER BY leaves the order by id unchanged).
 */
export const RECORDS_INDEXING: IndexingPolicySpec = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: ['/entity/?', '/recordId/?', '/deleted/?', '/seq/?', '/fence/?', '/k/*'].map((path) => ({
    path,
  })),
  excludedPaths: [{ path: '/attributes/*' }, { path: '/*' }],
  compositeIndexes: [ascending('/entity', '/recordId')],
};

/**
 * What the queries on `changes` use: the settling walk reads every marker of a seq range (`type`,
 * `seq`); readers read the claimed markers (`state`) of a seq range, of some entities (`entity`),
 * perhaps with one of some ownership keys (`keys`, an array). Each orders by seq with its
 * equality-filtered field first (`ORDER BY c.type, c.seq` / `ORDER BY c.state, c.seq`), served by
 * the composites (type, seq) and (state, seq); the order is that of seq because the first field is
 * fixed by the filter.
 */
export const CHANGES_INDEXING: IndexingPolicySpec = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: ['/type/?', '/state/?', '/entity/?', '/seq/?', '/keys/[]/?'].map((path) => ({ path })),
  excludedPaths: [{ path: '/*' }],
  compositeIndexes: [ascending('/type', '/seq'), ascending('/state', '/seq')],
};

export const RECORDS_CONTAINER: ContainerSpec = {
  id: 'records',
  partitionKeyPath: '/pk',
  indexingPolicy: RECORDS_INDEXING,
};
export const CHANGES_CONTAINER: ContainerSpec = {
  id: 'changes',
  partitionKeyPath: '/block',
  defaultTtl: -1,
  indexingPolicy: CHANGES_INDEXING,
};
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
