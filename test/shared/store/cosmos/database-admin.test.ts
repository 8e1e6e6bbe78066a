import { Agent } from 'node:https';
import { CosmosClient, type ContainerDefinition } from '@azure/cosmos';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { ConfigError, settingsSchema } from '../../../../shared/config';
import {
  chooseDatabaseAdmin,
  cosmosStoreOptionsFromSettings,
  createCosmosStore,
} from '../../../../shared/store/cosmos';
import { createDatabaseAdmin } from '../../../../shared/store/cosmos/database-admin';
import type { SqlResourcesOperations } from '../../../../shared/store/cosmos/database-admin';
import {
  CHANGES_CONTAINER,
  CHANGES_INDEXING,
  DOCS_CONTAINER,
  RECORDS_CONTAINER,
  RECORDS_INDEXING,
  TENANT_CONTAINERS,
} from '../../../../shared/store/cosmos/layout';
import { cosmosTestOptions } from '../../../support/cosmos-test-options';

/** Records every management-plane call instead of calling Azure. */
function fakeSqlResources(options: { deleteFails?: Error } = {}): {
  calls: unknown[][];
  sqlResources: SqlResourcesOperations;
} {
  const calls: unknown[][] = [];
  const sqlResources = {
    beginCreateUpdateSqlDatabaseAndWait: (...args: unknown[]) => {
      calls.push(['database', ...args]);
      return Promise.resolve({});
    },
    beginCreateUpdateSqlContainerAndWait: (...args: unknown[]) => {
      calls.push(['container', ...args]);
      return Promise.resolve({});
    },
    beginDeleteSqlDatabaseAndWait: (...args: unknown[]) => {
      calls.push(['delete', ...args]);
      return options.deleteFails === undefined ? Promise.resolve({}) : Promise.reject(options.deleteFails);
    },
  } as unknown as SqlResourcesOperations;
  return { calls, sqlResources };
}

const credential: TokenCredential = {
  getToken: (): Promise<AccessToken> => Promise.reject(new Error('no token in unit tests')),
};
const target = { subscriptionId: 'sub-1', resourceGroup: 'rg-offline', accountName: 'cosmos-offline' };
// Built only to be handed around: these tests never send a data-plane request.
const client = new CosmosClient({ endpoint: 'https://127.0.0.1:1', key: 'a2V5' });
afterAll(() => client.dispose());

describe('database admin on the management plane', () => {
  it('creates the database, then each container with its partition key path, TTL and indexing policy', async () => {
    const { calls, sqlResources } = fakeSqlResources();
    const admin = createDatabaseAdmin({ client, management: { target, sqlResources } });
    expect(admin.plane).toBe('management-plane');

    await admin.ensureDatabase('tenant-contoso', [RECORDS_CONTAINER, CHANGES_CONTAINER, DOCS_CONTAINER]);
    expect(calls).toEqual([
      [
        'database',
        'rg-offline',
        'cosmos-offline',
        'tenant-contoso',
        { resource: { id: 'tenant-contoso' }, options: {} },
      ],
      [
        'container',
        'rg-offline',
        'cosmos-offline',
        'tenant-contoso',
        'records',
        {
          resource: {
            id: 'records',
            partitionKey: { paths: ['/pk'], kind: 'Hash', version: 2 },
            indexingPolicy: {
              indexingMode: 'consistent',
              automatic: true,
              includedPaths: [
                { path: '/entity/?' },
                { path: '/recordId/?' },
                { path: '/deleted/?' },
                { path: '/seq/?' },
                { path: '/fence/?' },
                { path: '/k/*' },
              ],
              excludedPaths: [{ path: '/attributes/*' }, { path: '/*' }],
              compositeIndexes: [
                [
                  { path: '/entity', order: 'ascending' },
                  { path: '/recordId', order: 'ascending' },
                ],
              ],
            },
          },
          options: {},
        },
      ],
      [
        'container',
        'rg-offline',
        'cosmos-offline',
        'tenant-contoso',
        'changes',
        {
          resource: {
            id: 'changes',
            partitionKey: { paths: ['/block'], kind: 'Hash', version: 2 },
            defaultTtl: -1,
            indexingPolicy: {
              indexingMode: 'consistent',
              automatic: true,
              includedPaths: [
                { path: '/type/?' },
                { path: '/state/?' },
                { path: '/entity/?' },
                { path: '/seq/?' },
                { path: '/keys/[]/?' },
              ],
              excludedPaths: [{ path: '/*' }],
              compositeIndexes: [
                [
                  { path: '/type', order: 'ascending' },
                  { path: '/seq', order: 'ascending' },
                ],
                [
                  { path: '/state', order: 'ascending' },
                  { path: '/seq', order: 'ascending' },
                ],
              ],
            },
          },
          options: {},
        },
      ],
      [
        'container',
        'rg-offline',
        'cosmos-offline',
        'tenant-contoso',
        'docs',
        { resource: { id: 'docs', partitionKey: { paths: ['/pk'], kind: 'Hash', version: 2 } }, options: {} },
      ],
    ]);
    // The calls carry copies: the shared specs stay as they are whatever an SDK does with them.
    const records = (calls[1]![5] as { resource: { indexingPolicy: unknown } }).resource.indexingPolicy;
    expect(records).toEqual(RECORDS_INDEXING);
    expect(records).not.toBe(RECORDS_INDEXING);
  });

  it('deletes through ARM, treats a missing database as deleted, and translates other failures', async () => {
    const ok = fakeSqlResources();
    await createDatabaseAdmin({
      client,
      management: { target, sqlResources: ok.sqlResources },
    }).deleteDatabase('tenant-a');
    expect(ok.calls).toEqual([['delete', 'rg-offline', 'cosmos-offline', 'tenant-a']]);

    const missing = fakeSqlResources({ deleteFails: Object.assign(new Error('gone'), { statusCode: 404 }) });
    await expect(
      createDatabaseAdmin({
        client,
        management: { target, sqlResources: missing.sqlResources },
      }).deleteDatabase('x'),
    ).resolves.toBeUndefined();

    const throttled = fakeSqlResources({
      deleteFails: Object.assign(new Error('busy'), { statusCode: 429 }),
    });
    await expect(
      createDatabaseAdmin({
        client,
        management: { target, sqlResources: throttled.sqlResources },
      }).deleteDatabase('x'),
    ).rejects.toMatchObject({ code: 'Throttled' });
  });
});

describe('database admin on the data plane', () => {
  it('creates each container with its TTL and indexing policy', async () => {
    const options = cosmosTestOptions();
    const dataClient = new CosmosClient({
      endpoint: options.endpoint,
      key: options.key ?? '',
      ...(options.allowInsecureTls === true ? { agent: new Agent({ rejectUnauthorized: false }) } : {}),
    });
    const name = `${options.databasePrefix}admin`;
    const admin = createDatabaseAdmin({ client: dataClient });
    try {
      await admin.ensureDatabase(name, TENANT_CONTAINERS);
      // Idempotent: a second call changes nothing and does not fail.
      await admin.ensureDatabase(name, TENANT_CONTAINERS);
      const definition = async (id: string): Promise<ContainerDefinition | undefined> =>
        (await dataClient.database(name).container(id).read()).resource;
      expect(await definition('records')).toMatchObject({
        partitionKey: { paths: ['/pk'] },
        indexingPolicy: RECORDS_INDEXING,
      });
      expect(await definition('changes')).toMatchObject({
        partitionKey: { paths: ['/block'] },
        defaultTtl: -1,
        indexingPolicy: CHANGES_INDEXING,
      });
      expect((await definition('docs'))?.partitionKey).toMatchObject({ paths: ['/pk'] });
    } finally {
      await admin.deleteDatabase(name);
      dataClient.dispose();
    }
  });

  it('names in the policies every field the queries filter or order on, and leaves attributes out', () => {
    const included = (spec: typeof RECORDS_CONTAINER): string[] =>
      spec.indexingPolicy?.includedPaths.map((p) => p.path) ?? [];
    expect(included(RECORDS_CONTAINER)).toEqual(expect.arrayContaining(['/entity/?', '/recordId/?', '/k/*']));
    expect(RECORDS_INDEXING.excludedPaths.map((p) => p.path)).toEqual(['/attributes/*', '/*']);
    expect(included(CHANGES_CONTAINER)).toEqual(expect.arrayContaining(['/state/?', '/seq/?', '/keys/[]/?']));
    expect(CHANGES_CONTAINER.defaultTtl).toBe(-1);
  });
});

describe('the switch between the planes', () => {
  it('uses the data plane with a key and the management plane with a credential', () => {
    expect(chooseDatabaseAdmin(client, { key: 'a2V5' }).plane).toBe('data-plane');
    expect(
      chooseDatabaseAdmin(client, {
        credential,
        management: target,
        sqlResources: fakeSqlResources().sqlResources,
      }).plane,
    ).toBe('management-plane');
    // Without a fake, it builds a CosmosDBManagementClient for the account's subscription.
    expect(chooseDatabaseAdmin(client, { credential, management: target }).plane).toBe('management-plane');
    expect(() => chooseDatabaseAdmin(client, { credential })).toThrow(ConfigError);
  });

  it('creates tenant databases through ARM when the store runs with a credential', async () => {
    const { calls, sqlResources } = fakeSqlResources();
    const store = createCosmosStore({
      endpoint: 'https://127.0.0.1:1',
      credential,
      management: target,
      sqlResources,
      controlDatabase: 'offline-control',
      databasePrefix: 'tenant-',
    });
    try {
      expect(store.databaseAdmin.plane).toBe('management-plane');
      await store.createTenantDatabase('contoso');
      expect(calls.map((call) => [call[0], call[3], call[4]])).toEqual([
        ['database', 'tenant-contoso', { resource: { id: 'tenant-contoso' }, options: {} }],
        ['container', 'tenant-contoso', 'records'],
        ['container', 'tenant-contoso', 'changes'],
        ['container', 'tenant-contoso', 'docs'],
      ]);
      await expect(store.createTenantDatabase('Not Valid')).rejects.toMatchObject({
        code: 'ValidationFailed',
      });
    } finally {
      await store.close();
    }
  });
});

describe('cosmosStoreOptionsFromSettings', () => {
  const base = {
    STORE_KIND: 'cosmos',
    COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
    AUTH_AUDIENCE: 'api://x',
  };

  it('uses the key of an emulator', () => {
    const options = cosmosStoreOptionsFromSettings(
      settingsSchema.parse({ ...base, COSMOS_KEY: 'k', COSMOS_ALLOW_INSECURE_TLS: 'true' }),
    );
    expect(options).toMatchObject({
      endpoint: base.COSMOS_ENDPOINT,
      key: 'k',
      allowInsecureTls: true,
      controlDatabase: 'offline-control',
      databasePrefix: 'tenant-',
      changeRetentionDays: 14,
    });
    expect(options.credential).toBeUndefined();
    expect(options.management).toBeUndefined();
  });

  it('passes the change retention', () => {
    const options = cosmosStoreOptionsFromSettings(
      settingsSchema.parse({ ...base, COSMOS_KEY: 'k', CHANGE_RETENTION_DAYS: '30' }),
    );
    expect(options.changeRetentionDays).toBe(30);
    expect(() => createCosmosStore({ ...options, changeRetentionDays: 0 })).toThrow(ConfigError);
  });

  it('uses the managed identity and the management plane without a key', () => {
    const options = cosmosStoreOptionsFromSettings(
      settingsSchema.parse({
        ...base,
        AZURE_SUBSCRIPTION_ID: 'sub',
        COSMOS_RESOURCE_GROUP: 'rg',
        COSMOS_ACCOUNT_NAME: 'acct',
        AZURE_CLIENT_ID: '11111111-1111-1111-1111-111111111111',
      }),
    );
    expect(options.key).toBeUndefined();
    expect(options.credential).toBeDefined();
    expect(options.management).toEqual({ subscriptionId: 'sub', resourceGroup: 'rg', accountName: 'acct' });
    expect(options.allowInsecureTls).toBe(false);
  });

  it('names every missing management setting', () => {
    expect(() =>
      cosmosStoreOptionsFromSettings(settingsSchema.parse({ ...base, COSMOS_ACCOUNT_NAME: 'acct' })),
    ).toThrow(
      expect.objectContaining({
        problems: [
          expect.stringContaining('AZURE_SUBSCRIPTION_ID'),
          expect.stringContaining('COSMOS_RESOURCE_GROUP'),
        ],
      }) as Error,
    );
  });
});
