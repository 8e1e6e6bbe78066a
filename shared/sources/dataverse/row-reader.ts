import type { EntityMetadata } from '../../model/entity';
import type { SourceChange } from '../port';
import { metadataColumns, readWithSelect, toSourceChange } from './change-reader';
import type { EntitySetCatalog } from './entity-set-catalog';
import type { DataverseHttpClient } from './web-api-client';
import { webApiFailure } from './web-api-client';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads rows by id as the service holds them now (`GET <set>(<id>)?$select=<columns>`, the columns
 * of change-tracking reads), for a webhook change too large for a queue message: the message carries
 * the ids, the handler reads the rows back. A row the service does not have (deleted since: its
 * delete reaches replication by change tracking) or an id that is not a GUID is left out. One
 * request per row: a webhook names one row, rarely a few.
 */
export async function readRowsById(
  client: DataverseHttpClient,
  catalog: EntitySetCatalog,
  entity: EntityMetadata,
  ids: readonly string[],
): Promise<SourceChange[]> {
  const entitySet = await catalog.entitySetName(entity.logicalName);
  const changes: SourceChange[] = [];
  for (const id of ids) {
    if (!GUID.test(id)) continue;
    let read: Awaited<ReturnType<typeof readWithSelect>>;
    try {
      read = await readWithSelect(client, `${entitySet}(${id})`, entity, {});
    } catch (error) {
      if (webApiFailure(error)?.status === 404) continue;
      throw error;
    }
    const row = (typeof read.body === 'object' && read.body !== null ? read.body : {}) as Record<
      string,
      unknown
    >;
    changes.push(toSourceChange(entity, row, read.selected ? undefined : metadataColumns(entity)));
  }
  return changes;
}
