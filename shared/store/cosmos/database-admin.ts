import type { CosmosClient } from '@azure/cosmos';
import type { SqlResources } from '@azure/arm-cosmosdb';
import { cosmosStatusOf, toStoreError } from './cosmos-errors';
import type { ContainerSpec, IndexingPolicySpec } from './layout';

/**
 * Creates and deletes databases. This is the ONE place that decides how: with an account key (an
 * emulator) the data plane can create databases and containers; with a Microsoft Entra identity
 * (Azure) it cannot — Entra data-plane roles do not allow creating or deleting databases — so the
 * management plane (Azure Resource Manager, `@azure/arm-cosmosdb`) is used instead. Existence is read
 * on the data plane in both cases (metadata reads are allowed to data-plane roles).
 */
export interface DatabaseAdmin {
  /** `data-plane` (account key) or `management-plane` (Entra identity through ARM). */
  readonly plane: 'data-plane' | 'management-plane';
  databaseExists(name: string): Promise<boolean>;
  /** Creates the database and its containers; does nothing for what exists. */
  ensureDatabase(name: string, containers: readonly ContainerSpec[]): Promise<void>;
  /** Deletes the database; does nothing if it does not exist. */
  deleteDatabase(name: string): Promise<void>;
}

/** The management-plane operations the admin uses (a subset of `CosmosDBManagementClient.sqlResources`). */
export type SqlResourcesOperations = Pick<
  SqlResources,
  | 'beginCreateUpdateSqlDatabaseAndWait'
  | 'beginCreateUpdateSqlContainerAndWait'
  | 'beginDeleteSqlDatabaseAndWait'
>;

/** Where the account lives in Azure Resource Manager. */
export interface ManagementTarget {
  subscriptionId: string;
  resourceGroup: string;
  accountName: string;
}

/**
 * Picks the plane: the management plane when `management` is given (running with an identity), the
 * data plane otherwise (running with a key).
 */
export function createDatabaseAdmin(options: {
  client: CosmosClient;
  management?: { target: ManagementTarget; sqlResources: SqlResourcesOperations };
}): DatabaseAdmin {
  const { client, management } = options;
  const databaseExists = async (name: string): Promise<boolean> => {
    try {
      await client.database(name).read();
      return true;
    } catch (error) {
      if (cosmosStatusOf(error) === 404) return false;
      throw toStoreError(error, { what: `Reading database ${name}` });
    }
  };
  if (management === undefined) return dataPlaneAdmin(client, databaseExists);
  return managementPlaneAdmin(management.target, management.sqlResources, databaseExists);
}

/**
 * What both planes set on a container beside its id and partition key: the default TTL and the
 * indexing policy of the layout (copied, so that neither SDK can change the shared spec).
 */
function containerOptions(spec: ContainerSpec): {
  defaultTtl?: number;
  indexingPolicy?: IndexingPolicySpec;
} {
  return {
    ...(spec.defaultTtl === undefined ? {} : { defaultTtl: spec.defaultTtl }),
    ...(spec.indexingPolicy === undefined ? {} : { indexingPolicy: structuredClone(spec.indexingPolicy) }),
  };
}

function dataPlaneAdmin(
  client: CosmosClient,
  databaseExists: (name: string) => Promise<boolean>,
): DatabaseAdmin {
  return {
    plane: 'data-plane',
    databaseExists,
    async ensureDatabase(name, containers) {
      try {
        const { database } = await client.databases.createIfNotExists({ id: name });
        for (const spec of containers) {
          await database.containers.createIfNotExists({
            id: spec.id,
            partitionKey: { paths: [spec.partitionKeyPath] },
            ...containerOptions(spec),
          });
        }
      } catch (error) {
        throw toStoreError(error, { what: `Creating database ${name}` });
      }
    },
    async deleteDatabase(name) {
      try {
        await client.database(name).delete();
      } catch (error) {
        if (cosmosStatusOf(error) === 404) return;
        throw toStoreError(error, { what: `Deleting database ${name}` });
      }
    },
  };
}

function managementPlaneAdmin(
  target: ManagementTarget,
  sqlResources: SqlResourcesOperations,
  databaseExists: (name: string) => Promise<boolean>,
): DatabaseAdmin {
  const { resourceGroup, accountName } = target;
  return {
    plane: 'management-plane',
    databaseExists,
    async ensureDatabase(name, containers) {
      try {
        // Create-or-update is idempotent in ARM, so a retried provisioning step converges.
        await sqlResources.beginCreateUpdateSqlDatabaseAndWait(resourceGroup, accountName, name, {
          resource: { id: name },
          options: {},
        });
        for (const spec of containers) {
          await sqlResources.beginCreateUpdateSqlContainerAndWait(resourceGroup, accountName, name, spec.id, {
            resource: {
              id: spec.id,
              partitionKey: { paths: [spec.partitionKeyPath], kind: 'Hash', version: 2 },
              ...containerOptions(spec),
            },
            options: {},
          });
        }
      } catch (error) {
        throw toStoreError(error, { what: `Creating database ${name} through Azure Resource Manager` });
      }
    },
    async deleteDatabase(name) {
      try {
        await sqlResources.beginDeleteSqlDatabaseAndWait(resourceGroup, accountName, name);
      } catch (error) {
        if (cosmosStatusOf(error) === 404) return;
        throw toStoreError(error, { what: `Deleting database ${name} through Azure Resource Manager` });
      }
    },
  };
}
