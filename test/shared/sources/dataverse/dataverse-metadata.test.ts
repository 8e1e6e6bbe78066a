import { mapOwnership } from '../../../../shared/sources/dataverse/metadata-reader';
import type { DataverseFixture } from './dataverse-fixture';
import { startDataverseFixture } from './dataverse-fixture';

let fx: DataverseFixture;
beforeEach(async () => {
  fx = await startDataverseFixture();
});
afterEach(async () => {
  await fx.server.close();
});

describe('Dataverse metadata', () => {
  it('maps an entity definition: ownership, attribute types, lengths, targets, required, secured', async () => {
    const [account] = await fx.source.readMetadata(['account']);
    expect(account).toBeDefined();
    expect(account!).toMatchObject({
      logicalName: 'account',
      displayName: 'Account',
      primaryIdAttribute: 'accountid',
      primaryNameAttribute: 'name',
      ownership: 'user',
    });
    const byName = new Map(account!.attributes.map((a) => [a.name, a]));
    expect(byName.get('name')).toEqual({
      name: 'name',
      type: 'string',
      maxLength: 160,
      required: true,
      secured: false,
    });
    expect(byName.get('description')).toMatchObject({ type: 'memo', maxLength: 2000 });
    expect(byName.get('ownerid')).toMatchObject({ type: 'owner', targets: ['systemuser', 'team'] });
    expect(byName.get('owneridtype')).toMatchObject({ type: 'string' });
    expect(byName.get('primarycontactid')).toMatchObject({ type: 'lookup', targets: ['contact'] });
    expect(byName.get('revenue')?.type).toBe('money');
    expect(byName.get('numberofemployees')?.type).toBe('integer');
    expect(byName.get('languagecode')?.type).toBe('language');
    expect(byName.get('industrycode')?.type).toBe('picklist');
    expect(byName.get('statecode')?.type).toBe('picklist');
    expect(byName.get('creditonhold')?.type).toBe('boolean');
    expect(byName.get('modifiedon')?.type).toBe('datetime');
    expect(byName.get('versionnumber')?.type).toBe('bigint');
    expect(byName.get('accountid')).toMatchObject({ type: 'uniqueidentifier', required: true });
    expect(byName.get('secretnote')?.secured).toBe(true);
    // Derived name columns and virtual image columns hold nothing we sync.
    expect(byName.has('owneridname')).toBe(false);
    expect(byName.has('entityimage')).toBe(false);
  });

  it('maps one-to-many, many-to-one and many-to-many relationships', async () => {
    const [account] = await fx.source.readMetadata(['account']);
    expect(account!.relationships).toEqual([
      {
        name: 'contact_customer_accounts',
        kind: 'one-to-many',
        referencedEntity: 'account',
        referencedAttribute: 'accountid',
        referencingEntity: 'contact',
        referencingAttribute: 'parentcustomerid',
      },
      {
        name: 'account_primary_contact',
        kind: 'many-to-one',
        referencedEntity: 'contact',
        referencedAttribute: 'contactid',
        referencingEntity: 'account',
        referencingAttribute: 'primarycontactid',
      },
      {
        name: 'accountleads_association',
        kind: 'many-to-many',
        intersectEntity: 'accountleads',
        entity1: 'account',
        entity1Attribute: 'accountid',
        entity2: 'lead',
        entity2Attribute: 'leadid',
      },
    ]);
  });

  it('leaves out entities the environment lacks', async () => {
    const entities = await fx.source.readMetadata(['contact', 'competitor', 'transactioncurrency']);
    expect(entities.map((e) => [e.logicalName, e.ownership])).toEqual([
      ['contact', 'user'],
      ['transactioncurrency', 'organization'],
    ]);
  });

  it('without names, reads every change-tracked table that is not an intersect', async () => {
    const entities = await fx.source.readMetadata();
    expect(entities.map((e) => e.logicalName)).toEqual(['account', 'contact', 'transactioncurrency']);
  });

  it('sends the common Web API headers and the bearer token', async () => {
    await fx.source.readMetadata(['contact']);
    const request = fx.server.requests[0]!;
    expect(request.headers).toMatchObject({
      authorization: `Bearer ${fx.server.token}`,
      accept: 'application/json',
      'odata-version': '4.0',
      'odata-maxversion': '4.0',
    });
  });

  it('maps every OwnershipTypes name', () => {
    expect(
      ['UserOwned', 'TeamOwned', 'OrganizationOwned', 'BusinessOwned', 'BusinessParented', 'None'].map(
        mapOwnership,
      ),
    ).toEqual(['user', 'user', 'organization', 'business', 'business', 'none']);
  });
});
