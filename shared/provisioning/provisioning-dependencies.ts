import { z } from 'zod';
import { directorySchema, type Directory } from '../model/directory';
import {
  defaultOfflineEntities,
  entityMetadataSchema,
  entityOfflineSettingsSchema,
  type EntityMetadata,
  type EntityOfflineSettings,
} from '../model/entity';
import type { RecordWrite, TenantStore } from '../store/port';
import type { SourceChangePage } from '../sources/port';

/**
 * The functions of other areas (admin configuration, replication) that the provisioning steps call,
 * behind one small seam each. They were written before those areas landed: each says what it stands
 * in for, so the composition can point it at the owning area's function without touching the steps.
 */

/** An offline-enabled entity: its metadata and offline settings. */
export interface OfflineEntity {
  metadata: EntityMetadata;
  settings: EntityOfflineSettings;
}

/** Doc kinds of entity configuration in the tenant store (stand-in until shared/admin owns them). */
const ENTITY_METADATA_KIND = 'entity-metadata';
const ENTITY_OFFLINE_KIND = 'entity-offline';
const DIRECTORY_KIND = 'directory';
const DIRECTORY_ID = 'current';
const DELTA_TOKEN_KIND = 'delta-token';

/** Stand-in for the admin area's entity list: every entity with metadata, with its offline settings. */
export async function loadEntityConfigurations(store: TenantStore): Promise<OfflineEntity[]> {
  const [metadataDocs, offlineDocs] = await Promise.all([
    store.listDocs(ENTITY_METADATA_KIND),
    store.listDocs(ENTITY_OFFLINE_KIND),
  ]);
  const offline = new Map(offlineDocs.map((doc) => [doc.id, entityOfflineSettingsSchema.parse(doc.value)]));
  return metadataDocs.map((doc) => {
    const metadata = entityMetadataSchema.parse(doc.value);
    // Entities enabled by default (SPEC §3) start with `modifiedon last-x-days 10` as org filter.
    const settings = offline.get(metadata.logicalName) ?? {
      enabled: defaultOfflineEntities.includes(metadata.logicalName),
      orgFilter: [],
      required: false,
    };
    return { metadata, settings };
  });
}

/** The offline-enabled entities, the ones step 5 downloads and step 6 replicates. */
export async function loadOfflineEntities(store: TenantStore): Promise<OfflineEntity[]> {
  return (await loadEntityConfigurations(store)).filter((entity) => entity.settings.enabled);
}

/** Stand-in for the admin area's save of source metadata (Dataverse tenants, step 3). */
export async function saveEntityMetadata(
  store: TenantStore,
  entities: readonly EntityMetadata[],
): Promise<void> {
  for (const entity of entities) {
    await store.putDoc(ENTITY_METADATA_KIND, entity.logicalName, entityMetadataSchema.parse(entity));
  }
}

/** Stand-in for the admin area's offline settings write (tests and tools set up tenants with it). */
export async function saveOfflineSettings(
  store: TenantStore,
  entity: string,
  settings: EntityOfflineSettings,
): Promise<void> {
  await store.putDoc(ENTITY_OFFLINE_KIND, entity, entityOfflineSettingsSchema.parse(settings));
}

/** Stand-in for the admin area's `replaceDirectory`. */
export async function replaceDirectory(store: TenantStore, directory: Directory): Promise<void> {
  await store.putDoc(DIRECTORY_KIND, DIRECTORY_ID, directorySchema.parse(directory));
}

/** Whether the tenant store holds a directory (a `local` tenant must declare one before step 3). */
export async function hasDirectory(store: TenantStore): Promise<boolean> {
  return (await store.getDoc(DIRECTORY_KIND, DIRECTORY_ID)) !== undefined;
}

/** What step 4 reports. */
export interface SyncConfigurationCheck {
  publishedProfiles: number;
  warnings: string[];
}

/**
 * Stand-in for the admin area's compile-and-validate of published profiles (step 4): until it lands,
 * counts the published profile documents and warns when there are none.
 */
export async function checkPublishedProfiles(store: TenantStore): Promise<SyncConfigurationCheck> {
  const published = await store.listDocs('profile-published');
  return {
    publishedProfiles: published.length,
    warnings:
      published.length === 0
        ? ['No offline profile is published yet: devices cannot sync until one is.']
        : [],
  };
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

/** Stand-in for the replication area's `syncEntity` queue message. */
export function syncEntityMessage(org: string, entity: string): unknown {
  return { type: 'syncEntity', org, entity };
}
