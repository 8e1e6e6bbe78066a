import { ADMIN_ROLE, INGEST_ROLE } from '../../shared/auth/principal';
import type { ProvisioningStatus } from '../../shared/provisioning/provisioning-status';
import { createSourceFor, type SourceFactory } from '../../shared/sources/create-source';
import { createDataverseSource } from '../../shared/sources/dataverse';
import { startDataverseTestServer, type DataverseTestServer } from '../support/dataverse-test-server';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';
import { entityDefinitions, ids, seedDirectory } from '../shared/sources/dataverse/dataverse-fixture';

/**
 * A `dataverse` tenant end to end over the local host (issue 5, "Done when"): registered against a
 * Web API stand-in, provisioned over HTTP (metadata, directory and rows replicated), configured by an
 * admin, synced by a directory user's device; then a change and a delete made at the source reach
 * that device's next download once replication has run (started by a Dataverse webhook whose
 * context carries no version, which queues a `syncEntity`).
 */

const ORG = 'fabrikam';
const TID = '8f3e2d1c-0b9a-4876-a543-210fedcba987';
const APP = 'field-service';
const account = (n: number): string => `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** The systemuser entity, as EntityDefinitions returns it (step 1 reads it to reach the source). */
const systemuserDefinition = {
  LogicalName: 'systemuser',
  EntitySetName: 'systemusers',
  PrimaryIdAttribute: 'systemuserid',
  PrimaryNameAttribute: 'fullname',
  OwnershipType: 'BusinessOwned',
  IsIntersect: false,
  ChangeTrackingEnabled: true,
  Attributes: [
    ['UniqueIdentifierAttributeMetadata', 'systemuserid', 'Uniqueidentifier'],
    ['StringAttributeMetadata', 'fullname', 'String'],
    ['LookupAttributeMetadata', 'businessunitid', 'Lookup'],
  ].map(([type, name, attributeType]) => ({
    '@odata.type': `#Microsoft.Dynamics.CRM.${type!}`,
    LogicalName: name,
    AttributeType: attributeType,
    AttributeOf: null,
    IsSecured: false,
    RequiredLevel: { Value: 'None' },
    MetadataId: `${name!}-metadata`,
    ...(type === 'StringAttributeMetadata' ? { MaxLength: 200 } : {}),
  })),
  OneToManyRelationships: [],
  ManyToOneRelationships: [],
  ManyToManyRelationships: [],
};

describe('a dataverse tenant over the local host', () => {
  let server: DataverseTestServer;
  let f: HostFixture;
  let admin: string;
  let device: string;

  beforeAll(async () => {
    server = await startDataverseTestServer();
    server.entityDefinitions.push(...entityDefinitions(), systemuserDefinition);
    server.tables.define('accounts', 'accountid');
    server.tables.define('contacts', 'contactid');
    server.tables.define('transactioncurrencies', 'transactioncurrencyid');
    seedDirectory(server);
    const now = new Date().toISOString();
    for (let n = 1; n <= 5; n++) {
      server.tables.upsert('accounts', {
        accountid: account(n),
        name: `Account ${n}`,
        _ownerid_value: ids.bob,
        _owninguser_value: ids.bob,
        _owningbusinessunit_value: ids.salesUnit,
        modifiedon: now,
      });
    }
    server.totalRecordCounts.set('account', 5);
    // The tenant's source is the test server, with its token; every other tenant as in production.
    const sourceFor: SourceFactory = (tenant, deps) =>
      tenant.source.kind === 'dataverse'
        ? createDataverseSource({
            url: tenant.source.url,
            getToken: async () => server.token,
            clock: deps.clock,
          })
        : createSourceFor(tenant, deps);
    f = await startHostFixture({ DEMO_TENANT: 'false' }, { host: { sourceFor } });
    admin = await f.token({ oid: ids.aliceOid, tid: TID, roles: [ADMIN_ROLE] });
    device = await f.token({ oid: ids.bobOid, tid: TID });
  });
  afterAll(async () => {
    await f.close();
    await server.close();
  });

  async function status(): Promise<ProvisioningStatus> {
    const res = await f.request('GET', `/api/admin/${ORG}/provisioning`, { token: admin });
    expect(res.status).toBe(200);
    return res.body as ProvisioningStatus;
  }

  it('provisions from the source: metadata, directory and rows replicated', async () => {
    const registered = await f.request('PUT', `/api/admin/tenants/${ORG}`, {
      token: await f.operatorToken(),
      body: { displayName: 'Fabrikam', entraTenantId: TID, source: { kind: 'dataverse', url: server.url } },
    });
    expect(registered.status).toBe(201);
    const accepted = await f.request('POST', `/api/admin/${ORG}/provisioning`, {
      token: admin,
      body: { action: 'provision' },
    });
    expect(accepted.status).toBe(202);

    let current = await status();
    for (let i = 0; i < 500 && current.state === 'provisioning'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      current = await status();
    }
    // On failure the messages show why.
    expect({ state: current.state, messages: current.messages }).toEqual({
      state: 'provisioned',
      messages: expect.not.arrayContaining([expect.objectContaining({ level: 'error' })]),
    });
    expect(current.steps.map((s) => s.status)).toEqual(Array(7).fill('succeeded'));

    const entities = await f.request('GET', `/api/admin/${ORG}/entities`, { token: admin });
    expect(entities.status).toBe(200);
    const names = (entities.body.entities as { metadata: { logicalName: string } }[]).map(
      (e) => e.metadata.logicalName,
    );
    expect(names).toEqual(expect.arrayContaining(['account', 'contact', 'systemuser']));

    const store = f.host.runtime.services.store.tenant(ORG);
    expect(await store.countRecords('account')).toBe(5);
    expect((await store.getRecord('account', account(1)))!.attributes).toMatchObject({
      name: 'Account 1',
      ownerid: ids.bob,
      owneridtype: 'systemuser',
    });
    // Calls carried the bearer token the environment accepts (the server refuses any other).
    expect(server.requests.some((r) => r.url.includes('/systemusers'))).toBe(true);
  });

  it("serves a directory user's device, then brings a source change and delete to its next download", async () => {
    const created = await f.request('POST', `/api/admin/${ORG}/profiles`, {
      token: admin,
      body: { id: 'service', name: 'Service', description: 'all accounts' },
    });
    expect(created.status).toBe(201);
    const put = await f.request('PUT', `/api/admin/${ORG}/profiles/service`, {
      token: admin,
      body: {
        name: 'Service',
        description: 'all accounts',
        users: [ids.bob],
        items: [
          { entity: 'account', rule: 'all', mine: false, team: false, businessUnit: false, associations: [] },
        ],
      },
    });
    expect(put.status).toBe(200);
    const published = await f.request('POST', `/api/admin/${ORG}/profiles/service/publish`, { token: admin });
    expect(published.status).toBe(200);
    const app = await f.request('PUT', `/api/admin/${ORG}/apps/${APP}`, {
      token: admin,
      body: { name: 'Field Service', offlineEnabled: true, profiles: ['service'] },
    });
    expect([200, 201]).toContain(app.status);

    // The first download: every account, in full.
    const held = new Map<string, Record<string, unknown>>();
    let checkpoint: string | undefined;
    const download = async (): Promise<
      { entity: string; id: string; op: string; row?: Record<string, unknown> }[]
    > => {
      const changes = [];
      for (let page = 0; page < 20; page++) {
        const res = await f.request('POST', `/api/sync/${ORG}/download`, {
          token: device,
          body: { app: APP, deviceId: 'bob-tablet', ...(checkpoint ? { checkpoint } : {}) },
        });
        expect(res.status).toBe(200);
        checkpoint = res.body.checkpoint as string;
        for (const change of res.body.changes as {
          entity: string;
          id: string;
          op: string;
          row?: Record<string, unknown>;
        }[]) {
          changes.push(change);
          if (change.op === 'upsert') held.set(change.id, change.row!);
          else held.delete(change.id);
        }
        if (!res.body.more) break;
      }
      return changes;
    };
    await download();
    expect([...held.keys()].sort()).toEqual([1, 2, 3, 4, 5].map(account));
    expect(held.get(account(2))!.name).toBe('Account 2');

    // At the source: one account renamed, one deleted.
    server.tables.upsert('accounts', {
      accountid: account(2),
      name: 'Renamed at the source',
      modifiedon: new Date().toISOString(),
    });
    server.tables.remove('accounts', account(3));

    // A webhook that carries no version makes replication re-read the entity (a syncEntity run).
    const ingest = await f.token({
      oid: '99999999-9999-4999-8999-999999999999',
      tid: TID,
      roles: [INGEST_ROLE],
    });
    const webhook = await f.request('POST', `/api/ingest/${ORG}/dataverse`, {
      token: ingest,
      body: {
        MessageName: 'Update',
        PrimaryEntityName: 'account',
        PrimaryEntityId: account(2),
        Depth: 1,
        Mode: 1,
        Stage: 40,
        InputParameters: [
          {
            key: 'Target',
            value: {
              __type: 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts',
              LogicalName: 'account',
              Id: account(2),
              Attributes: [{ key: 'name', value: 'Renamed at the source' }],
            },
          },
        ],
        PreEntityImages: [],
        PostEntityImages: [],
      },
    });
    expect(webhook.status).toBe(202);

    // The device's next downloads, until replication has applied both (bounded).
    for (
      let i = 0;
      i < 200 && (held.has(account(3)) || held.get(account(2))!.name !== 'Renamed at the source');
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      await download();
    }
    expect(held.get(account(2))!.name).toBe('Renamed at the source');
    expect(held.has(account(3))).toBe(false);
    expect([...held.keys()].sort()).toEqual([1, 2, 4, 5].map(account));
    const stored = await f.host.runtime.services.store.tenant(ORG).getRecord('account', account(3));
    expect(stored!.deleted).toBe(true);
  });
});
