import type { EntityMetadata } from '../../../../shared/model/entity';
import { replicatedMetadata, columnPolicyOf } from '../../../../shared/replication/replicated-columns';
import type { SourceChange, SourceChangePage } from '../../../../shared/sources/port';
import type { DataverseFixture } from './dataverse-fixture';
import { accountId, ids, startDataverseFixture } from './dataverse-fixture';

/**
 * Reads select the metadata's columns (issue 14): file and image columns are not in the metadata,
 * so a full read never asks for them; a `$select` the service refuses is repaired; rows can be read
 * back by id (a webhook too large for a queue message).
 */

let fx: DataverseFixture;
let account: EntityMetadata;

const PHOTO = 'iVBORw0KGgo'.repeat(50_000);

beforeEach(async () => {
  fx = await startDataverseFixture({ maxPageSize: 10 });
  [account] = (await fx.source.readMetadata(['account'])) as [EntityMetadata];
  for (let n = 1; n <= 3; n++) {
    fx.server.tables.upsert('accounts', {
      accountid: accountId(n),
      name: `Account ${n}`,
      // An image column's contents: the service returns it only when a read asks for every column.
      entityimage: PHOTO,
      _ownerid_value: ids.bob,
      _owninguser_value: ids.bob,
      _owningteam_value: null,
    });
  }
  fx.server.requests.length = 0;
});
afterEach(async () => {
  await fx.server.close();
});

async function readAll(metadata: EntityMetadata, token?: string): Promise<SourceChangePage[]> {
  const pages: SourceChangePage[] = [];
  for await (const page of fx.source.readChanges(metadata, token)) pages.push(page);
  return pages;
}
const changesOf = (pages: SourceChangePage[]): SourceChange[] => pages.flatMap((p) => p.changes);

describe('Dataverse reads select columns', () => {
  it('never reads a column the metadata leaves out, in the full read nor in the delta reads after it', async () => {
    expect(account.attributes.some((a) => a.name === 'entityimage')).toBe(false);
    const full = await readAll(account);
    const rows = changesOf(full);
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => !('entityimage' in r.attributes))).toBe(true);
    expect(rows[0]!.attributes).toMatchObject({
      name: 'Account 1',
      ownerid: ids.bob,
      owneridtype: 'systemuser',
    });

    fx.server.tables.upsert('accounts', { accountid: accountId(2), name: 'Renamed' });
    const delta = await readAll(account, full.at(-1)!.deltaToken);
    expect(changesOf(delta).map((c) => [c.id, c.attributes.name, 'entityimage' in c.attributes])).toEqual([
      [accountId(2), 'Renamed', false],
    ]);
  });

  it('reads only the columns of the metadata it is given (replication leaves file contents out)', async () => {
    const withoutDescription = {
      ...account,
      attributes: account.attributes.filter((a) => a.name !== 'description'),
    };
    await readAll(withoutDescription);
    const select = new URL(fx.server.requests[0]!.url, fx.server.url).searchParams.get('$select')!;
    expect(select.split(',')).not.toContain('description');
    expect(select.split(',')).toContain('accountid');
  });

  it('drops a column the service refuses from the $select and reads on', async () => {
    fx.server.failNext(
      {
        kind: 'error',
        status: 400,
        code: '0x80060888',
        message: "Could not find a property named 'secretnote' on type 'Microsoft.Dynamics.CRM.account'.",
      },
      (r) => r.url.includes('$select='),
    );
    const rows = changesOf(await readAll(account));
    expect(rows).toHaveLength(3);
    const [refused, repaired] = fx.server.requests.map((r) => r.url);
    expect(refused).toContain(',secretnote,');
    expect(repaired).toContain('$select=accountid,');
    expect(repaired).not.toContain('secretnote');
  });

  it('reads without $select when the service refuses it without naming a column, keeping the metadata columns', async () => {
    fx.server.failNext({ kind: 'error', status: 414, message: 'URI too long' }, (r) =>
      r.url.includes('$select='),
    );
    const rows = changesOf(await readAll(account));
    expect(fx.server.requests[1]!.url).toBe('/api/data/v9.2/accounts');
    expect(rows).toHaveLength(3);
    // The image came back (every column), and was left out as a $select would have.
    expect(rows.every((r) => !('entityimage' in r.attributes))).toBe(true);
    expect(rows[0]!.attributes).toMatchObject({ name: 'Account 1', owneridtype: 'systemuser' });
  });

  it('reads rows back by id with the same columns, leaving out rows it does not have', async () => {
    const rows = await fx.source.readRows!(account, [accountId(2), accountId(99), 'not-a-guid']);
    expect(rows).toEqual([
      {
        entity: 'account',
        id: accountId(2),
        op: 'upsert',
        version: fx.server.tables.etag('accounts', accountId(2))!.replace(/\D/g, ''),
        attributes: expect.objectContaining({ name: 'Account 2', ownerid: ids.bob }) as unknown,
      },
    ]);
    expect('entityimage' in rows[0]!.attributes).toBe(false);
    expect(fx.server.requests.map((r) => r.url.split('?')[0])).toEqual([
      `/api/data/v9.2/accounts(${accountId(2)})`,
      `/api/data/v9.2/accounts(${accountId(99)})`,
    ]);
    expect(fx.server.requests[0]!.url).toContain('?$select=accountid,');
  });

  it('leaves out of the metadata the columns no read returns (IsValidForRead false)', async () => {
    const definition = fx.server.entityDefinitions.find((d) => d.LogicalName === 'account')!;
    (definition.Attributes as Record<string, unknown>[]).push({
      '@odata.type': '#Microsoft.Dynamics.CRM.StringAttributeMetadata',
      LogicalName: 'writeonlycolumn',
      AttributeType: 'String',
      AttributeOf: null,
      IsSecured: false,
      IsValidForRead: false,
      RequiredLevel: { Value: 'None' },
    });
    const [again] = (await fx.source.readMetadata(['account'])) as [EntityMetadata];
    expect(again.attributes.map((a) => a.name)).not.toContain('writeonlycolumn');
    expect(again.attributes.map((a) => a.name)).toContain('name');
  });

  it("leaves out annotation.documentbody and activitymimeattachment.body unless they're included", () => {
    const annotation: EntityMetadata = {
      logicalName: 'annotation',
      primaryIdAttribute: 'annotationid',
      primaryNameAttribute: 'subject',
      ownership: 'user',
      attributes: [
        { name: 'annotationid', type: 'uniqueidentifier', required: true, secured: false },
        { name: 'subject', type: 'string', required: false, secured: false },
        { name: 'documentbody', type: 'memo', required: false, secured: false },
        { name: 'filename', type: 'string', required: false, secured: false },
      ],
      relationships: [],
    };
    const names = (settings: Parameters<typeof columnPolicyOf>[0]) =>
      replicatedMetadata(annotation, columnPolicyOf(settings)).attributes.map((a) => a.name);
    const defaults = { REPLICATION_INCLUDE_FILE_COLUMNS: false, REPLICATION_EXCLUDED_COLUMNS: [] };
    expect(names(defaults)).toEqual(['annotationid', 'subject', 'filename']);
    expect(names({ ...defaults, REPLICATION_INCLUDE_FILE_COLUMNS: true })).toEqual([
      'annotationid',
      'subject',
      'documentbody',
      'filename',
    ]);
    // More columns can be named; the primary id never goes.
    expect(
      names({
        ...defaults,
        REPLICATION_EXCLUDED_COLUMNS: ['annotation.filename', 'annotation.annotationid'],
      }),
    ).toEqual(['annotationid', 'subject']);
  });
});
