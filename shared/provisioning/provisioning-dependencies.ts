import { declareEntityMetadata, loadEntities, publishCustomizations } from '../admin/entity-config';
import { loadDirectory, replaceDirectory } from '../admin/directory-store';
import { checkProfile, listPublishedProfiles } from '../admin/profile-service';
import type { Clock } from '../clock';
import type { Directory } from '../model/directory';
import type { EntityMetadata } from '../model/entity';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import { applySourceChanges, type TooLargeRow } from '../replication/apply-source-changes';
import { recordTooLargeRows } from '../replication/replication-status';
import { columnPolicyOf, columnsFingerprint, replicatedMetadata } from '../replication/replicated-columns';
import type { Settings } from '../config';
import {
  readDeltaToken as readReplicationDeltaToken,
  saveDeltaToken as saveReplicationDeltaToken,
} from '../replication/delta-token-store';
import { syncEntityMessage as replicationSyncEntityMessage } from '../replication/messages';
import type { TenantStore } from '../store/port';
import type { SourceChangePage } from '../sources/port';

/**
 * The functions of other areas (admin configuration, replication) that the provisioning steps call,
 * each behind one small seam, so the steps read as the lifecycle and not as those areas' details.
 */

/** An offline-enabled entity: its metadata and offline settings (the admin area's `ConfiguredEntity`). */
export type OfflineEntity = ConfiguredEntity;

/** Every published entity with its offline settings (the admin area's `loadEntities`). */
export async function loadEntityConfigurations(store: TenantStore): Promise<OfflineEntity[]> {
  // A copy: loadEntities shares its (frozen) array between requests.
  return [...(await loadEntities(store))];
}

/** The offline-enabled published entities: the ones step 5 downloads and step 6 replicates. */
export async function loadOfflineEntities(store: TenantStore): Promise<OfflineEntity[]> {
  return (await loadEntities(store)).filter((entity) => entity.offline.enabled);
}

/**
 * Stores metadata read from the source (Dataverse tenants, step 3) and publishes it, so the sync
 * engine and profile validation see it. Entities already declared keep their offline settings.
 */
export async function saveSourceMetadata(
  store: TenantStore,
  clock: Clock,
  entities: readonly EntityMetadata[],
): Promise<void> {
  for (const entity of entities) await declareEntityMetadata(store, clock, entity);
  await publishCustomizations(store, clock);
}

/** The admin area's directory replace (Dataverse tenants, step 3). */
export async function saveSourceDirectory(
  store: TenantStore,
  clock: Clock,
  directory: Directory,
): Promise<void> {
  await replaceDirectory(store, directory, clock);
}

/** Whether the tenant store holds a directory (a `local` tenant must declare one before step 3). */
export async function hasDirectory(store: TenantStore): Promise<boolean> {
  const directory = await loadDirectory(store);
  return directory.businessUnits.length > 0 && directory.users.length > 0;
}

/** What step 4 reports. */
export interface SyncConfigurationCheck {
  publishedProfiles: number;
  warnings: string[];
}

/**
 * Step 4's check of the published profiles against the metadata as it is now (the admin area's
 * `checkProfile`): a profile that no longer validates is reported, not fatal — devices of other
 * profiles can sync, and an admin fixes and republishes it.
 */
export async function checkPublishedProfiles(store: TenantStore): Promise<SyncConfigurationCheck> {
  const published = await listPublishedProfiles(store);
  const warnings: string[] = [];
  if (published.length === 0) {
    warnings.push('No offline profile is published yet: devices cannot sync until one is.');
  }
  for (const profile of published) {
    const violations = await checkProfile(store, profile);
    for (const v of violations) warnings.push(`Profile '${profile.name}': ${v.path}: ${v.message}`);
  }
  return { publishedProfiles: published.length, warnings };
}

/**
 * Writes one page of source changes into the tenant store with the replication area's
 * `applySourceChanges` (upsert-if-newer: applying a page again changes nothing), under the per-row
 * byte cap. Rows too large to store are skipped and recorded in the entity's replication status by
 * name; the step goes on. Returns the rows read and those skipped.
 */
export async function applySourcePage(
  store: TenantStore,
  page: SourceChangePage,
  options: { maxRowBytes: number; now: Date; chunkSize?: number },
): Promise<{ rows: number; tooLarge: readonly TooLargeRow[] }> {
  const { tooLarge = [] } = await applySourceChanges(store, page.changes, {
    maxRowBytes: options.maxRowBytes,
    ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
  });
  if (tooLarge.length > 0) await recordTooLargeRows(store, tooLarge, options.now, options.maxRowBytes);
  return { rows: page.changes.length, tooLarge };
}

/**
 * The metadata step 5 reads an entity with: replication's columns (file contents left out by
 * default), and their fingerprint, stored with the delta token so `syncEntity` continues from it.
 */
export function replicationReadOf(
  metadata: EntityMetadata,
  settings: Settings,
): { metadata: EntityMetadata; columns: string } {
  const replicated = replicatedMetadata(metadata, columnPolicyOf(settings));
  return { metadata: replicated, columns: columnsFingerprint(replicated) };
}

/** Stores an entity's delta token (with its columns' fingerprint) where replication's `syncEntity` reads it from. */
export function saveDeltaToken(
  store: TenantStore,
  entity: string,
  deltaToken: string,
  columns?: string,
): Promise<void> {
  return saveReplicationDeltaToken(store, entity, deltaToken, columns);
}

/** The stored delta token of an entity. */
export function readDeltaToken(store: TenantStore, entity: string): Promise<string | undefined> {
  return readReplicationDeltaToken(store, entity);
}

/** The replication area's recurring `syncEntity` work item for an entity. */
export function syncEntityMessage(org: string, entity: string): unknown {
  return replicationSyncEntityMessage(org, entity);
}
