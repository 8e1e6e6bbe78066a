import { z } from 'zod';
import { AppError } from '../../errors';
import type { DataverseHttpClient } from './web-api-client';

/**
 * What the Web API needs beyond our EntityMetadata: each entity's entity set name (`account` →
 * `accounts`), and the navigation property that binds each lookup (`parentcustomerid` pointing at an
 * account binds as `parentcustomerid_account@odata.bind`). Read lazily from `EntityDefinitions` and
 * kept for the life of the source, so the replication worker needs no prior metadata read.
 */

const entitySetSchema = z.object({ LogicalName: z.string(), EntitySetName: z.string().nullable() }).loose();

const manyToOneSchema = z.object({
  value: z.array(
    z
      .object({
        ReferencedEntity: z.string(),
        ReferencingAttribute: z.string(),
        ReferencingEntityNavigationPropertyName: z.string().nullable().optional(),
      })
      .loose(),
  ),
});

/** Entity set names and lookup bindings, cached. */
export interface EntitySetCatalog {
  entitySetName(logicalName: string): Promise<string>;
  /** Navigation property of `attribute` on `logicalName` when it points at `target`. */
  navigationProperty(logicalName: string, attribute: string, target: string): Promise<string>;
  /** Records names learned elsewhere (the metadata reader reads them anyway). */
  remember(logicalName: string, entitySetName: string): void;
}

/** Well-known sets, so the directory reader and owner bindings need no metadata request. */
const WELL_KNOWN_SETS: Record<string, string> = {
  systemuser: 'systemusers',
  team: 'teams',
  businessunit: 'businessunits',
  role: 'roles',
};

export function createEntitySetCatalog(client: DataverseHttpClient): EntitySetCatalog {
  const sets = new Map<string, Promise<string>>(
    Object.entries(WELL_KNOWN_SETS).map(([k, v]) => [k, Promise.resolve(v)]),
  );
  const navigation = new Map<string, Promise<Map<string, string>>>();

  async function fetchSetName(logicalName: string): Promise<string> {
    const response = await client.send({
      path: `EntityDefinitions(LogicalName='${logicalName}')?$select=LogicalName,EntitySetName`,
    });
    const parsed = entitySetSchema.safeParse(response.body);
    if (!parsed.success || !parsed.data.EntitySetName) {
      throw new AppError('SourceUnavailable', `Dataverse gave no entity set name for ${logicalName}.`);
    }
    return parsed.data.EntitySetName;
  }

  async function fetchNavigation(logicalName: string): Promise<Map<string, string>> {
    const response = await client.send({
      path: `EntityDefinitions(LogicalName='${logicalName}')/ManyToOneRelationships?$select=ReferencedEntity,ReferencingAttribute,ReferencingEntityNavigationPropertyName`,
    });
    const parsed = manyToOneSchema.safeParse(response.body);
    if (!parsed.success)
      throw new AppError('SourceUnavailable', `Dataverse relationships of ${logicalName} are not valid.`);
    const map = new Map<string, string>();
    for (const r of parsed.data.value) {
      if (r.ReferencingEntityNavigationPropertyName) {
        map.set(`${r.ReferencingAttribute}|${r.ReferencedEntity}`, r.ReferencingEntityNavigationPropertyName);
      }
    }
    return map;
  }

  function cached<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let value = cache.get(key);
    if (!value) {
      value = load();
      cache.set(key, value);
      // A failed load is not cached: the next call tries again.
      value.catch(() => cache.delete(key));
    }
    return value;
  }

  return {
    entitySetName: (logicalName) => cached(sets, logicalName, () => fetchSetName(logicalName)),
    async navigationProperty(logicalName, attribute, target) {
      // The owner binds through its own single-valued navigation property, as documented.
      if (attribute === 'ownerid') return 'ownerid';
      const map = await cached(navigation, logicalName, () => fetchNavigation(logicalName));
      const name = map.get(`${attribute}|${target}`);
      if (name === undefined) {
        throw new AppError('ValidationFailed', `${logicalName}.${attribute} cannot point at ${target}.`, {
          details: [
            { path: attribute, message: `no relationship from ${logicalName}.${attribute} to ${target}` },
          ],
        });
      }
      return name;
    },
    remember(logicalName, entitySetName) {
      sets.set(logicalName, Promise.resolve(entitySetName));
    },
  };
}
