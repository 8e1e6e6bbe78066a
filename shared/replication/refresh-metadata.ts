import type { AppServices } from '../app-services';
import { declareEntityMetadata, loadEntityDrafts } from '../admin/entity-config';
import { replaceDirectory } from '../admin/directory-store';
import { defaultOfflineEntities } from '../model/entity';
import type { Tenant } from '../model/tenant';

/** What a `metadataRefresh` message did. */
export type MetadataRefreshOutcome =
  | { outcome: 'metadataRefreshed'; entitiesRead: number; entitiesChanged: number; directoryVersion: number }
  | { outcome: 'skipped'; reason: string };

/**
 * A `metadataRefresh` (SPEC §7): re-reads the metadata of the tenant's declared entities (the SPEC §3
 * default entities when none is declared yet) and the directory from the source. Changed metadata is
 * declared as a draft through the admin area (it takes effect at the next publish, as any metadata
 * change); the directory is replaced at once, since sync-time security must follow the source. A
 * `local` tenant's store is its source: nothing to refresh.
 */
export async function refreshMetadata(
  services: AppServices,
  tenant: Tenant,
): Promise<MetadataRefreshOutcome> {
  if (tenant.source.kind === 'local') {
    return { outcome: 'skipped', reason: 'A local tenant declares its metadata through the admin API.' };
  }
  const store = services.store.tenant(tenant.org);
  const source = services.sourceFor(tenant);
  const drafts = await loadEntityDrafts(store);
  const names = drafts.length > 0 ? drafts.map((d) => d.metadata.logicalName) : [...defaultOfflineEntities];
  const metadata = await source.readMetadata(names);
  const declared = new Map(drafts.map((d) => [d.metadata.logicalName, JSON.stringify(d.metadata)]));
  let entitiesChanged = 0;
  for (const entity of metadata) {
    // Unchanged metadata is not written again, so a refresh does not mark entities as changed since publish.
    if (declared.get(entity.logicalName) === JSON.stringify(entity)) continue;
    await declareEntityMetadata(store, services.clock, entity);
    entitiesChanged += 1;
  }
  const directory = await replaceDirectory(store, await source.readDirectory(), services.clock);
  return {
    outcome: 'metadataRefreshed',
    entitiesRead: metadata.length,
    entitiesChanged,
    directoryVersion: directory.version,
  };
}
