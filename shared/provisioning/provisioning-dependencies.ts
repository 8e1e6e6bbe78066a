import { z } from 'zod';
import { declareEntityMetadata, loadEntities, publishCustomizations } from '../admin/entity-config';
import { loadDirectory, replaceDirectory } from '../admin/directory-store';
import { checkProfile, listPublishedProfiles } from '../admin/profile-service';
import type { Clock } from '../clock';
import type { Directory } from '../model/directory';
import type { EntityMetadata } from '../model/entity';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import { syncEntityMessage as replicationSyncEntityMessage } from '../replication/messages';
import type { RecordWrite, TenantStore } from '../store/port';
import type { SourceChangePage } from '../sources/port';

/**
 * The functions of other areas (admin configuration, replication) that the provisioning steps call,
 * behind one small seam each. Those marked "stand-in" were written before the owning area's function
 * landed: point them at it without touching the steps.
 */

/** An offline-enabled entity: its metadata and offline settings (the admin area's `ConfiguredEntity`). */
export type OfflineEntity = ConfiguredEntity;

/** Doc kind of delta tokens in the tenant store (stand-in until shared/replication owns them). */
const DELTA_TOKEN_KIND = 'delta-token';

/** Every published entity with its offline settings (the admin area's `loadEntities`). */
export function loadEntityConfigurations(store: TenantStore): Promise<OfflineEntity[]> {
  return loadEntities(store);
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
 * Stand-in for the replication area's `applySourceChanges`: writes one page of source changes into
 * the tenant store, upsert-if-newer, so applying a page again changes nothing. Returns the rows read.
 */
export async function applySourcePage(
  store: TenantStore,
  entity: EntityMetadata,
  page: SourceChangePage,
): Promise<number> {
  const writes: RecordWrite[] = [];
  for (const change of page.changes) {
    if (change.op === 'upsert' && change.version !== undefined) {
      writes.push({
        entity: entity.logicalName,
        id: change.id,
        version: change.version,
        deleted: false,
        attributes: change.attributes,
      });
    } else if (change.op === 'delete') {
      // A delete without a version must still beat the stored row: one above it.
      const stored = await store.getRecord(entity.logicalName, change.id);
      if (stored && !stored.deleted) {
        const version = change.version ?? (BigInt(stored.version) + 1n).toString();
        writes.push({ entity: entity.logicalName, id: change.id, version, deleted: true, attributes: {} });
      }
    }
  }
  if (writes.length > 0) await store.applyRecordWrites(writes);
  return page.changes.length;
}

/** Stand-in for the replication area's delta token store: where the next `syncEntity` reads from. */
export async function saveDeltaToken(store: TenantStore, entity: string, deltaToken: string): Promise<void> {
  await store.putDoc(DELTA_TOKEN_KIND, entity, { deltaToken });
}

/** The stored delta token of an entity (tests read it; replication owns its layout). */
export async function readDeltaToken(store: TenantStore, entity: string): Promise<string | undefined> {
  const doc = await store.getDoc(DELTA_TOKEN_KIND, entity);
  return doc ? z.object({ deltaToken: z.string() }).parse(doc.value).deltaToken : undefined;
}

/** The replication area's recurring `syncEntity` work item for an entity. */
export function syncEntityMessage(org: string, entity: string): unknown {
  return replicationSyncEntityMessage(org, entity);
}
