import { z } from 'zod';
import type { EntityMetadata } from '../../model/entity';
import type { EntitySetCatalog } from './entity-set-catalog';
import type { DataverseHttpClient } from './web-api-client';
import { webApiFailure } from './web-api-client';

/**
 * Counts an entity's rows for progress and ETA. `RetrieveTotalRecordCount` answers the platform's
 * periodically refreshed snapshot (cheap, approximate); when the function is not available (older
 * environments, or a privilege the account lacks) `<set>/$count` is used, which Dataverse caps at
 * 5,000. Either is an estimate, as the port allows.
 */

const totalRecordCountSchema = z.object({
  EntityRecordCountCollection: z.object({ Keys: z.array(z.string()), Values: z.array(z.number()) }).loose(),
});

export async function countEntityRows(
  client: DataverseHttpClient,
  catalog: EntitySetCatalog,
  entity: EntityMetadata,
): Promise<number> {
  const names = encodeURIComponent(JSON.stringify([entity.logicalName]));
  try {
    const response = await client.send({ path: `RetrieveTotalRecordCount(EntityNames=@p1)?@p1=${names}` });
    const parsed = totalRecordCountSchema.safeParse(response.body);
    if (parsed.success) {
      const index = parsed.data.EntityRecordCountCollection.Keys.indexOf(entity.logicalName);
      const count = index >= 0 ? parsed.data.EntityRecordCountCollection.Values[index] : undefined;
      if (count !== undefined && count >= 0) return count;
    }
  } catch (error) {
    const status = webApiFailure(error)?.status;
    if (status === undefined || status < 400 || status >= 500 || status === 401) throw error;
  }
  const entitySet = await catalog.entitySetName(entity.logicalName);
  const response = await client.send({ path: `${entitySet}/$count` });
  const count = Number(response.body);
  return Number.isFinite(count) && count >= 0 ? count : 0;
}
