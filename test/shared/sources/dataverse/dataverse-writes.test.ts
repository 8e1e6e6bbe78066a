import type { EntityMetadata } from '../../../../shared/model/entity';
import type { DataverseFixture } from './dataverse-fixture';
import { accountId, ids, startDataverseFixture } from './dataverse-fixture';

let fx: DataverseFixture;
let account: EntityMetadata;
let contact: EntityMetadata;

beforeEach(async () => {
  fx = await startDataverseFixture();
  [account, contact] = (await fx.source.readMetadata(['account', 'contact'])) as [
    EntityMetadata,
    EntityMetadata,
  ];
  fx.server.tables.upsert('accounts', {
    accountid: accountId(1),
    name: 'Fabrikam',
    _ownerid_value: ids.bob,
    _owninguser_value: ids.bob,
  });
  fx.server.requests.length = 0;
});
afterEach(async () => {
  await fx.server.close();
});

const currentVersion = () => fx.server.tables.etag('accounts', accountId(1))!.replace(/\D/g, '');

describe('Dataverse writes', () => {
  it('creates with the row id, on behalf of the user, and returns the new version and row', async () => {
    const result = await fx.source.writeChange(
      {
        entity: 'account',
        id: accountId(2),
        op: 'create',
        attributes: { name: 'Contoso', ownerid: ids.salesTeam, owneridtype: 'team', primarycontactid: null },
        callerObjectId: ids.bobOid,
      },
      account,
    );
    const post = fx.server.requests.find((r) => r.method === 'POST')!;
    expect(post.url).toBe('/api/data/v9.2/accounts');
    expect(post.headers).toMatchObject({ callerobjectid: ids.bobOid, prefer: 'return=representation' });
    expect(post.body).toEqual({
      name: 'Contoso',
      accountid: accountId(2),
      'ownerid@odata.bind': `/teams(${ids.salesTeam})`,
      'primarycontactid@odata.bind': null,
    });
    expect(result.version).toBe(fx.server.tables.etag('accounts', accountId(2))!.replace(/\D/g, ''));
    expect(result.attributes).toMatchObject({
      accountid: accountId(2),
      name: 'Contoso',
      ownerid: ids.salesTeam,
      owneridtype: 'team',
    });
  });

  it('binds a polymorphic lookup through the navigation property of its declared type', async () => {
    await fx.source.writeChange(
      {
        entity: 'contact',
        id: 'a1000000-0000-4000-8000-000000000001',
        op: 'create',
        attributes: { fullname: 'Ann', parentcustomerid: accountId(1), parentcustomeridtype: 'account' },
        callerObjectId: ids.bobOid,
      },
      contact,
    );
    const post = fx.server.requests.find((r) => r.method === 'POST')!;
    expect(post.body).toEqual({
      fullname: 'Ann',
      contactid: 'a1000000-0000-4000-8000-000000000001',
      'parentcustomerid_account@odata.bind': `/accounts(${accountId(1)})`,
    });
  });

  it('updates only the changed columns with If-Match on the base version', async () => {
    const base = currentVersion();
    const result = await fx.source.writeChange(
      {
        entity: 'account',
        id: accountId(1),
        op: 'update',
        attributes: { name: 'New name' },
        baseVersion: base,
        callerObjectId: ids.bobOid,
      },
      account,
    );
    const patch = fx.server.requests.find((r) => r.method === 'PATCH')!;
    expect(patch.url).toBe(`/api/data/v9.2/accounts(${accountId(1)})`);
    expect(patch.headers['if-match']).toBe(`W/"${base}"`);
    expect(patch.body).toEqual({ name: 'New name' });
    expect(result.version).toBe(currentVersion());
    expect(result.version).not.toBe(base);
    expect(result.attributes).toMatchObject({ name: 'New name', ownerid: ids.bob });
  });

  it('maps a stale If-Match (412) to PreconditionFailed and changes nothing', async () => {
    const stale = currentVersion();
    fx.server.tables.upsert('accounts', { accountid: accountId(1), name: 'Changed at the source' });
    await expect(
      fx.source.writeChange(
        {
          entity: 'account',
          id: accountId(1),
          op: 'update',
          attributes: { name: 'Device' },
          baseVersion: stale,
          callerObjectId: ids.bobOid,
        },
        account,
      ),
    ).rejects.toMatchObject({
      code: 'PreconditionFailed',
      details: expect.objectContaining({ status: 412 }) as unknown,
    });
    expect(fx.server.tables.table('accounts').rows.get(accountId(1))!.row.name).toBe('Changed at the source');
    await expect(
      fx.source.writeChange(
        {
          entity: 'account',
          id: accountId(1),
          op: 'delete',
          attributes: {},
          baseVersion: stale,
          callerObjectId: ids.bobOid,
        },
        account,
      ),
    ).rejects.toMatchObject({ code: 'PreconditionFailed' });
    expect(fx.server.tables.table('accounts').rows.has(accountId(1))).toBe(true);
  });

  it('updates without a base version with If-Match: * so a missing row is NotFound, not created', async () => {
    await expect(
      fx.source.writeChange(
        {
          entity: 'account',
          id: accountId(7),
          op: 'update',
          attributes: { name: 'x' },
          callerObjectId: ids.bobOid,
        },
        account,
      ),
    ).rejects.toMatchObject({ code: 'NotFound' });
    expect(fx.server.requests.find((r) => r.method === 'PATCH')!.headers['if-match']).toBe('*');
    expect(fx.server.tables.table('accounts').rows.has(accountId(7))).toBe(false);
  });

  it('deletes, and maps 403 and 400 to PrivilegeDenied and ValidationFailed with the Dataverse error', async () => {
    fx.server.failNext({
      kind: 'error',
      status: 403,
      code: '0x80040220',
      message: 'Principal user is missing prvDeleteAccount privilege.',
    });
    const denied = fx.source.writeChange(
      { entity: 'account', id: accountId(1), op: 'delete', attributes: {}, callerObjectId: ids.bobOid },
      account,
    );
    await expect(denied).rejects.toMatchObject({
      code: 'PrivilegeDenied',
      details: expect.objectContaining({ dataverseCode: '0x80040220' }) as unknown,
    });
    fx.server.failNext({ kind: 'error', status: 400, code: '0x80040203', message: 'Invalid property' });
    await expect(
      fx.source.writeChange(
        {
          entity: 'account',
          id: accountId(1),
          op: 'update',
          attributes: { nosuch: 1 },
          callerObjectId: ids.bobOid,
        },
        account,
      ),
    ).rejects.toMatchObject({ code: 'ValidationFailed', message: 'Dataverse: Invalid property' });

    const result = await fx.source.writeChange(
      {
        entity: 'account',
        id: accountId(1),
        op: 'delete',
        attributes: {},
        baseVersion: currentVersion(),
        callerObjectId: ids.bobOid,
      },
      account,
    );
    expect(result).toEqual({ version: undefined, attributes: {} });
    expect(fx.server.tables.table('accounts').rows.has(accountId(1))).toBe(false);
  });

  it('does not repeat a write that failed with a 5xx (it may have been applied), but does after a 429', async () => {
    fx.server.failNext({ kind: 'server-error', status: 500 });
    await expect(
      fx.source.writeChange(
        {
          entity: 'account',
          id: accountId(1),
          op: 'update',
          attributes: { name: 'x' },
          callerObjectId: ids.bobOid,
        },
        account,
      ),
    ).rejects.toMatchObject({ code: 'SourceUnavailable' });
    expect(fx.server.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);

    fx.server.failNext({ kind: 'throttle', retryAfterSeconds: 2 });
    await fx.source.writeChange(
      {
        entity: 'account',
        id: accountId(1),
        op: 'update',
        attributes: { name: 'y' },
        callerObjectId: ids.bobOid,
      },
      account,
    );
    expect(fx.sleeps).toEqual([2000]);
    expect(fx.server.tables.table('accounts').rows.get(accountId(1))!.row.name).toBe('y');
  });
});
