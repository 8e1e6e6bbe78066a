import { Agent } from 'node:https';
import { CosmosClient } from '@azure/cosmos';
import type { CosmosClientOptions } from '@azure/cosmos';
import { CosmosDBManagementClient } from '@azure/arm-cosmosdb';
import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';
import { systemClock } from '../../clock';
import type { Clock } from '../../clock';
import { ConfigError } from '../../config';
import { AppError } from '../../errors';
import type { Settings } from '../../config';
import type { DocStore, Store, TenantStore } from '../port';
import { CosmosDocStore } from './cosmos-doc-store';
import { CosmosTenantStore } from './cosmos-tenant-store';
import { DatabaseAccess } from './database-access';
import { createDatabaseAdmin } from './database-admin';
import type { DatabaseAdmin, ManagementTarget, SqlResourcesOperations } from './database-admin';
import { CONTROL_CONTAINERS, DOCS_CONTAINER, TENANT_CONTAINERS, tenantDatabaseName } from './layout';

export type { DatabaseAdmin, ManagementTarget, SqlResourcesOperations } from './database-admin';
export { CosmosTenantStore } from './cosmos-tenant-store';

/** How to reach Cosmos DB and where the product's databases are. */
export interface CosmosStoreOptions {
  /** `https://<account>.documents.azure.com:443/`, or an emulator's address. */
  endpoint: string;
  /** Account key: emulators only. Without it `credential` (Microsoft Entra ID) is used. */
  key?: string;
  credential?: TokenCredential;
  /** Accept a self-signed certificate (a local emulator). Never in Azure. */
  allowInsecureTls?: boolean;
  /** The database of the tenant registry and provisioning status. */
  controlDatabase: string;
  /** Tenant databases are named `<databasePrefix><org>`. */
  databasePrefix: string;
  /** The account in Azure Resource Manager: databases are created there when running with a credential. */
  management?: ManagementTarget;
  /** The management-plane operations; by default those of a `CosmosDBManagementClient` (tests pass a fake). */
  sqlResources?: SqlResourcesOperations;
  clock?: Clock;
  /** How long a gap or stalled claim in the change sequence may hold settling up before a settler closes it (default 60 s). */
  gapTimeoutMs?: number;
  /**
   * Days the change sequence keeps each change (markers' `ttl`, default 14; CHANGE_RETENTION_DAYS).
   * A cursor older than that is `ChangeCursorExpired`.
   */
  changeRetentionDays?: number;
}

/** The Cosmos store, with the database admin it chose (data plane or management plane). */
export interface CosmosStore extends Store {
  readonly kind: 'cosmos';
  readonly databaseAdmin: DatabaseAdmin;
}

const DEFAULT_GAP_TIMEOUT_MS = 60_000;
const DEFAULT_CHANGE_RETENTION_DAYS = 14;

/** The Store on Azure Cosmos DB: one database per tenant plus the control database. */
export function createCosmosStore(options: CosmosStoreOptions): CosmosStore {
  const changeRetentionDays = options.changeRetentionDays ?? DEFAULT_CHANGE_RETENTION_DAYS;
  // Cursors stay valid for the retention minus two hours (change-cursor.ts): at least a day.
  if (!Number.isInteger(changeRetentionDays) || changeRetentionDays < 1)
    throw new ConfigError(['CHANGE_RETENTION_DAYS: a whole number of days, at least 1']);
  const clientOptions: CosmosClientOptions = { endpoint: options.endpoint };
  if (options.key !== undefined) clientOptions.key = options.key;
  else if (options.credential !== undefined) clientOptions.aadCredentials = options.credential;
  else throw new ConfigError(['COSMOS_KEY: a key or a credential is required to reach Cosmos DB']);
  // Only for an emulator's self-signed certificate; the default agent verifies certificates.
  if (options.allowInsecureTls === true)
    clientOptions.agent = new Agent({ rejectUnauthorized: false, keepAlive: true });
  const client = new CosmosClient(clientOptions);
  const databaseAdmin = chooseDatabaseAdmin(client, options);
  const clock = options.clock ?? systemClock;
  const gapTimeoutMs = options.gapTimeoutMs ?? DEFAULT_GAP_TIMEOUT_MS;

  let closed = false;
  const isClosed = (): boolean => closed;
  const controlDatabase = client.database(options.controlDatabase);
  const controlAccess = new DatabaseAccess(() => controlDatabase, isClosed, databaseAdmin, {
    kind: 'control',
    containers: CONTROL_CONTAINERS,
  });
  const control: DocStore = new CosmosDocStore({
    container: () => controlAccess.container(DOCS_CONTAINER),
    fail: (error, what) => controlAccess.fail(error, what),
    confirmsMissingItem: (response) => controlAccess.confirmsMissingItem(response),
  });
  // One handle per tenant, so the "database exists" check is made once per process and tenant.
  const tenants = new Map<string, { store: CosmosTenantStore; access: DatabaseAccess }>();
  const handle = (org: string): { store: CosmosTenantStore; access: DatabaseAccess } => {
    let entry = tenants.get(org);
    if (entry === undefined) {
      const access = new DatabaseAccess(
        () => client.database(tenantDatabaseName(options.databasePrefix, org)),
        isClosed,
        databaseAdmin,
        {
          kind: 'tenant',
          org,
        },
      );
      entry = {
        store: new CosmosTenantStore(org, access, { clock, gapTimeoutMs, changeRetentionDays }),
        access,
      };
      tenants.set(org, entry);
    }
    return entry;
  };

  const assertOpen = (): void => {
    if (closed) throw new AppError('Unavailable', 'The store is closed');
  };

  return {
    kind: 'cosmos',
    databaseAdmin,
    control,
    tenant(org: string): TenantStore {
      return handle(org).store;
    },
    async createTenantDatabase(org: string): Promise<void> {
      assertOpen();
      await databaseAdmin.ensureDatabase(tenantDatabaseName(options.databasePrefix, org), TENANT_CONTAINERS);
      handle(org).access.forget();
    },
    async dropTenantDatabase(org: string): Promise<void> {
      assertOpen();
      const name = tenantDatabaseName(options.databasePrefix, org);
      if (await databaseAdmin.databaseExists(name)) await databaseAdmin.deleteDatabase(name);
      handle(org).access.forget();
    },
    async tenantDatabaseExists(org: string): Promise<boolean> {
      assertOpen();
      return databaseAdmin.databaseExists(tenantDatabaseName(options.databasePrefix, org));
    },
    close(): Promise<void> {
      if (!closed) client.dispose();
      closed = true;
      return Promise.resolve();
    },
  };
}

/**
 * The switch between the planes (see database-admin.ts): with a key, the data plane; with a
 * credential, the management plane of `management`'s account.
 */
export function chooseDatabaseAdmin(
  client: CosmosClient,
  options: Pick<CosmosStoreOptions, 'key' | 'credential' | 'management' | 'sqlResources'>,
): DatabaseAdmin {
  if (options.key !== undefined) return createDatabaseAdmin({ client });
  const target = options.management;
  if (target === undefined) {
    throw new ConfigError([
      'AZURE_SUBSCRIPTION_ID, COSMOS_RESOURCE_GROUP, COSMOS_ACCOUNT_NAME: required to create tenant databases when running without COSMOS_KEY',
    ]);
  }
  const sqlResources =
    options.sqlResources ??
    new CosmosDBManagementClient(requiredCredential(options.credential), target.subscriptionId).sqlResources;
  return createDatabaseAdmin({ client, management: { target, sqlResources } });
}

function requiredCredential(credential: TokenCredential | undefined): TokenCredential {
  if (credential === undefined)
    throw new ConfigError(['COSMOS_KEY: a key or a credential is required to reach Cosmos DB']);
  return credential;
}

/** Builds the store's options from settings: the key when set (emulators), else the managed identity. */
export function cosmosStoreOptionsFromSettings(settings: Settings, clock?: Clock): CosmosStoreOptions {
  if (settings.COSMOS_ENDPOINT === undefined)
    throw new ConfigError(['COSMOS_ENDPOINT: required when STORE_KIND is cosmos']);
  const base = {
    endpoint: settings.COSMOS_ENDPOINT,
    allowInsecureTls: settings.COSMOS_ALLOW_INSECURE_TLS,
    controlDatabase: settings.COSMOS_CONTROL_DATABASE,
    databasePrefix: settings.COSMOS_DATABASE_PREFIX,
    changeRetentionDays: settings.CHANGE_RETENTION_DAYS,
    ...(clock === undefined ? {} : { clock }),
  };
  if (settings.COSMOS_KEY !== undefined) return { ...base, key: settings.COSMOS_KEY };
  const missing = (
    [
      ['AZURE_SUBSCRIPTION_ID', settings.AZURE_SUBSCRIPTION_ID],
      ['COSMOS_RESOURCE_GROUP', settings.COSMOS_RESOURCE_GROUP],
      ['COSMOS_ACCOUNT_NAME', settings.COSMOS_ACCOUNT_NAME],
    ] as const
  ).filter(([, value]) => value === undefined);
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map(([name]) => `${name}: required when STORE_KIND is cosmos and COSMOS_KEY is not set`),
    );
  }
  return {
    ...base,
    // One credential per process; AZURE_CLIENT_ID selects the user-assigned managed identity.
    credential: new DefaultAzureCredential(
      settings.AZURE_CLIENT_ID === undefined ? {} : { managedIdentityClientId: settings.AZURE_CLIENT_ID },
    ),
    management: {
      subscriptionId: settings.AZURE_SUBSCRIPTION_ID as string,
      resourceGroup: settings.COSMOS_RESOURCE_GROUP as string,
      accountName: settings.COSMOS_ACCOUNT_NAME as string,
    },
  };
}
