import { loadEntities, loadEntityDrafts } from '../admin/entity-config';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import type { DocStore } from '../store/port';

/**
 * The configuration replication uses for an entity: the published one, else the draft (a Dataverse
 * tenant's metadata arrives as drafts and may be replicated before its first publish). Undefined
 * when the entity is not declared at all.
 */
export async function findEntityConfiguration(
  store: DocStore,
  entity: string,
): Promise<ConfiguredEntity | undefined> {
  const published = (await loadEntities(store)).find((e) => e.metadata.logicalName === entity);
  if (published !== undefined) return published;
  return (await loadEntityDrafts(store)).find((e) => e.metadata.logicalName === entity);
}
