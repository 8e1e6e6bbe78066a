import { ADMIN_ROLE, INGEST_ROLE } from '../../shared/auth/principal';
import { DEMO_ENTRA_TENANT_ID } from '../../local/demo/demo-directory';
import type { StoredRecord } from '../../shared/model/record';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

const ACCOUNT_ID = '6d81597f-0f9f-e711-8122-000d3aa2331c';

describe('ingest routes over the local host', () => {
  let f: HostFixture;
  let ingestToken: string;
  let adminToken: string;

  beforeAll(async () => {
    f = await startHostFixture();
    ingestToken = await f.token({
      oid: '22222222-2222-4222-8222-222222222222',
      tid: DEMO_ENTRA_TENANT_ID,
      roles: [INGEST_ROLE],
    });
    adminToken = await f.token({
      oid: '22222222-2222-4222-8222-222222222222',
      tid: DEMO_ENTRA_TENANT_ID,
      roles: [ADMIN_ROLE],
    });
  });
  afterAll(() => f.close());

  /** Waits for the embedded queue's worker to apply what the route queued. */
  async function waitForRecord(
    entity: string,
    id: string,
    predicate: (r: StoredRecord) => boolean,
  ): Promise<StoredRecord> {
    const store = f.host.runtime.services.store.tenant('contoso');
    for (let i = 0; i < 200; i++) {
      const record = await store.getRecord(entity, id);
      if (record && predicate(record)) return record;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${entity}/${id} never reached the expected state`);
  }

  it('queues changes (202) and the worker applies them, newest version winning', async () => {
    const res = await f.request('POST', '/api/ingest/contoso/changes', {
      token: ingestToken,
      body: [
        {
          entity: 'account',
          id: 'ing-1',
          op: 'upsert',
          attributes: {
            name: 'Ingested v2',
            ownerid: 'user-004',
            owneridtype: 'systemuser',
            owningbusinessunit: 'bu-east',
          },
          version: 20,
        },
        {
          entity: 'account',
          id: 'ing-1',
          op: 'upsert',
          attributes: { name: 'Ingested v1 (late)' },
          version: 10,
        },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 2, queued: 2 });
    const record = await waitForRecord('account', 'ing-1', (r) => r.version === '20');
    // The late, older version never replaces the newer one, whatever order the worker saw them in.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(
      (await f.host.runtime.services.store.tenant('contoso').getRecord('account', 'ing-1'))!.attributes.name,
    ).toBe('Ingested v2');
    expect(record.deleted).toBe(false);

    const deleted = await f.request('POST', '/api/ingest/contoso/changes', {
      token: ingestToken,
      body: [{ entity: 'account', id: 'ing-1', op: 'delete', version: 21 }],
    });
    expect(deleted.status).toBe(202);
    await waitForRecord('account', 'ing-1', (r) => r.deleted);
  });

  it('refuses undeclared entities (422, nothing queued) and upserts without a version (400)', async () => {
    const unknown = await f.request('POST', '/api/ingest/contoso/changes', {
      token: ingestToken,
      body: [
        { entity: 'account', id: 'ok', op: 'upsert', attributes: {}, version: 1 },
        { entity: 'spaceship', id: 'x', op: 'upsert', attributes: {}, version: 1 },
      ],
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.details).toEqual([
      expect.objectContaining({ path: 'body.1.entity', code: 'UnknownEntity' }),
    ]);
    expect(await f.host.runtime.services.store.tenant('contoso').getRecord('account', 'ok')).toBeUndefined();
    const noVersion = await f.request('POST', '/api/ingest/contoso/changes', {
      token: ingestToken,
      body: [{ entity: 'account', id: 'x', op: 'upsert', attributes: {} }],
    });
    expect(noVersion.status).toBe(400);
  });

  it('refuses a device token without the ingest role', async () => {
    const device = await f.token({ oid: '22222222-2222-4222-8222-222222222222', tid: DEMO_ENTRA_TENANT_ID });
    const res = await f.request('POST', '/api/ingest/contoso/changes', {
      token: device,
      body: [{ entity: 'account', id: 'x', op: 'delete' }],
    });
    expect(res.status).toBe(403);
  });

  it('accepts the tenant ingest key instead of a token, and only the current key', async () => {
    const body = [
      { entity: 'account', id: 'key-1', op: 'upsert', attributes: { name: 'By key' }, version: 1 },
    ];
    const none = await f.request('POST', '/api/ingest/contoso/changes', {
      body,
      headers: { 'x-ingest-key': 'guess' },
    });
    expect(none.status).toBe(401);
    const first = await f.request('POST', '/api/admin/contoso/ingest-key', { token: adminToken, body: {} });
    expect(first.status).toBe(201);
    const rotated = await f.request('POST', '/api/admin/contoso/ingest-key', { token: adminToken, body: {} });
    const old = await f.request('POST', '/api/ingest/contoso/changes', {
      body,
      headers: { 'x-ingest-key': first.body.key },
    });
    expect(old.status).toBe(401);
    const ok = await f.request('POST', '/api/ingest/contoso/changes', {
      body,
      headers: { 'x-ingest-key': rotated.body.key },
    });
    expect(ok.status).toBe(202);
    await waitForRecord('account', 'key-1', (r) => r.version === '1');
  });

  it('queues a Dataverse webhook Update with its row version as a merge of the changed columns', async () => {
    await f.request('POST', '/api/ingest/contoso/changes', {
      token: ingestToken,
      body: [
        {
          entity: 'account',
          id: ACCOUNT_ID,
          op: 'upsert',
          attributes: { name: 'Fabrikam', telephone1: '555-0100' },
          version: 100,
        },
      ],
    });
    await waitForRecord('account', ACCOUNT_ID, (r) => r.version === '100');
    const context = {
      MessageName: 'Update',
      PrimaryEntityName: 'account',
      PrimaryEntityId: ACCOUNT_ID,
      Depth: 1,
      Mode: 1,
      Stage: 40,
      InputParameters: [
        {
          key: 'Target',
          value: {
            __type: 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts',
            LogicalName: 'account',
            Id: ACCOUNT_ID,
            Attributes: [
              { key: 'name', value: 'Fabrikam Renamed' },
              { key: 'versionnumber', value: 101 },
            ],
          },
        },
      ],
      PreEntityImages: [],
      PostEntityImages: [],
    };
    const res = await f.request('POST', '/api/ingest/contoso/dataverse', {
      token: ingestToken,
      body: context,
    });
    expect(res.status).toBe(202);
    const record = await waitForRecord('account', ACCOUNT_ID, (r) => r.version === '101');
    expect(record.attributes).toMatchObject({ name: 'Fabrikam Renamed', telephone1: '555-0100' });
  });

  it("takes the post image the tenant's settings name when a step has several", async () => {
    const set = await f.request('PUT', '/api/admin/contoso/settings', {
      token: adminToken,
      body: { dataversePostImageName: 'OfflineSync' },
    });
    expect(set.status).toBe(200);
    const postImage = (name: string, telephone1: string, version: string) => ({
      key: name,
      value: {
        __type: 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts',
        LogicalName: 'account',
        Id: ACCOUNT_ID,
        Attributes: [{ key: 'telephone1', value: telephone1 }],
        RowVersion: version,
      },
    });
    const res = await f.request('POST', '/api/ingest/contoso/dataverse', {
      token: ingestToken,
      body: {
        MessageName: 'Update',
        PrimaryEntityName: 'account',
        PrimaryEntityId: ACCOUNT_ID,
        InputParameters: [
          {
            key: 'Target',
            value: {
              LogicalName: 'account',
              Id: ACCOUNT_ID,
              Attributes: [
                {
                  key: 'modifiedon',
                  value: { __type: 'DateTime:#System', __value: '/Date(1527757524000)/' },
                },
              ],
            },
          },
        ],
        PostEntityImages: [postImage('Audit', 'stale', '150'), postImage('OfflineSync', '555-0199', '200')],
      },
    });
    expect(res.status).toBe(202);
    const record = await waitForRecord('account', ACCOUNT_ID, (r) => r.version === '200');
    expect(record.attributes).toMatchObject({
      telephone1: '555-0199',
      modifiedon: '2018-05-31T09:05:24.000Z',
    });
    await f.request('PUT', '/api/admin/contoso/settings', {
      token: adminToken,
      body: { dataversePostImageName: null },
    });
  });

  it('answers 400 for a body that is not a RemoteExecutionContext', async () => {
    const res = await f.request('POST', '/api/ingest/contoso/dataverse', {
      token: ingestToken,
      body: { hello: 'world' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('ValidationFailed');
  });
});
