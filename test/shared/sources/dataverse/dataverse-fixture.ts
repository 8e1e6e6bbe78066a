import { ManualClock } from '../../../../shared/clock';
import type { Source } from '../../../../shared/sources/port';
import { createDataverseSource } from '../../../../shared/sources/dataverse';
import type { DataverseTestServer } from '../../../support/dataverse-test-server';
import { startDataverseTestServer } from '../../../support/dataverse-test-server';

/** Ids used across the Dataverse adapter tests. */
export const ids = {
  rootUnit: 'a0000000-0000-4000-8000-000000000001',
  salesUnit: 'a0000000-0000-4000-8000-000000000002',
  alice: 'b0000000-0000-4000-8000-000000000001',
  bob: 'b0000000-0000-4000-8000-000000000002',
  system: 'b0000000-0000-4000-8000-000000000003',
  disabled: 'b0000000-0000-4000-8000-000000000004',
  aliceOid: 'c0000000-0000-4000-8000-000000000001',
  bobOid: 'c0000000-0000-4000-8000-000000000002',
  salesTeam: 'd0000000-0000-4000-8000-000000000001',
  salesperson: 'e0000000-0000-4000-8000-000000000001',
  prvReadAccount: 'f0000000-0000-4000-8000-000000000001',
  prvWriteAccount: 'f0000000-0000-4000-8000-000000000002',
  prvAppendToAccount: 'f0000000-0000-4000-8000-000000000003',
  prvAssignAccount: 'f0000000-0000-4000-8000-000000000004',
  prvReadProfile: 'f0000000-0000-4000-8000-000000000005',
};

/** An account GUID from a number, so tests can name many rows. */
export function accountId(n: number): string {
  return `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

const attribute = (
  type: string,
  logicalName: string,
  attributeType: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  '@odata.type': `#Microsoft.Dynamics.CRM.${type}`,
  LogicalName: logicalName,
  AttributeType: attributeType,
  AttributeOf: null,
  IsSecured: false,
  RequiredLevel: {
    Value: 'None',
    CanBeChanged: true,
    ManagedPropertyLogicalName: 'canmodifyrequirementlevelsettings',
  },
  MetadataId: `${logicalName}-metadata`,
  ...extra,
});

/** EntityDefinitions as the Web API returns them (reference §2), for account, contact and an intersect. */
export function entityDefinitions(): Record<string, unknown>[] {
  return [
    {
      LogicalName: 'account',
      EntitySetName: 'accounts',
      PrimaryIdAttribute: 'accountid',
      PrimaryNameAttribute: 'name',
      OwnershipType: 'UserOwned',
      IsIntersect: false,
      ChangeTrackingEnabled: true,
      IsValidForAdvancedFind: true,
      DisplayName: { UserLocalizedLabel: { Label: 'Account' } },
      MetadataId: '70816501-edb9-4740-a16c-6a5efbc05d84',
      Attributes: [
        attribute('UniqueIdentifierAttributeMetadata', 'accountid', 'Uniqueidentifier', {
          RequiredLevel: { Value: 'SystemRequired' },
        }),
        attribute('StringAttributeMetadata', 'name', 'String', {
          MaxLength: 160,
          RequiredLevel: { Value: 'ApplicationRequired' },
        }),
        attribute('MemoAttributeMetadata', 'description', 'Memo', { MaxLength: 2000 }),
        attribute('LookupAttributeMetadata', 'ownerid', 'Owner', { Targets: ['systemuser', 'team'] }),
        attribute('StringAttributeMetadata', 'owneridname', 'String', {
          AttributeOf: 'ownerid',
          MaxLength: 100,
        }),
        attribute('EntityNameAttributeMetadata', 'owneridtype', 'EntityName', { AttributeOf: 'ownerid' }),
        attribute('LookupAttributeMetadata', 'owningbusinessunit', 'Lookup', { Targets: ['businessunit'] }),
        attribute('LookupAttributeMetadata', 'primarycontactid', 'Lookup', { Targets: ['contact'] }),
        attribute('MoneyAttributeMetadata', 'revenue', 'Money'),
        attribute('IntegerAttributeMetadata', 'numberofemployees', 'Integer', { Format: 'None' }),
        attribute('IntegerAttributeMetadata', 'languagecode', 'Integer', { Format: 'Language' }),
        attribute('PicklistAttributeMetadata', 'industrycode', 'Picklist'),
        attribute('StateAttributeMetadata', 'statecode', 'State'),
        attribute('BooleanAttributeMetadata', 'creditonhold', 'Boolean'),
        attribute('DateTimeAttributeMetadata', 'modifiedon', 'DateTime'),
        attribute('ImageAttributeMetadata', 'entityimage', 'Virtual'),
        attribute('BigIntAttributeMetadata', 'versionnumber', 'BigInt'),
        attribute('StringAttributeMetadata', 'secretnote', 'String', { MaxLength: 100, IsSecured: true }),
      ],
      OneToManyRelationships: [
        {
          SchemaName: 'contact_customer_accounts',
          ReferencedEntity: 'account',
          ReferencedAttribute: 'accountid',
          ReferencingEntity: 'contact',
          ReferencingAttribute: 'parentcustomerid',
          ReferencingEntityNavigationPropertyName: 'parentcustomerid_account',
        },
      ],
      ManyToOneRelationships: [
        {
          SchemaName: 'account_primary_contact',
          ReferencedEntity: 'contact',
          ReferencedAttribute: 'contactid',
          ReferencingEntity: 'account',
          ReferencingAttribute: 'primarycontactid',
          ReferencingEntityNavigationPropertyName: 'primarycontactid',
        },
      ],
      ManyToManyRelationships: [
        {
          SchemaName: 'accountleads_association',
          IntersectEntityName: 'accountleads',
          Entity1LogicalName: 'account',
          Entity1IntersectAttribute: 'accountid',
          Entity2LogicalName: 'lead',
          Entity2IntersectAttribute: 'leadid',
        },
      ],
    },
    {
      LogicalName: 'contact',
      EntitySetName: 'contacts',
      PrimaryIdAttribute: 'contactid',
      PrimaryNameAttribute: 'fullname',
      OwnershipType: 'UserOwned',
      IsIntersect: false,
      ChangeTrackingEnabled: true,
      Attributes: [
        attribute('UniqueIdentifierAttributeMetadata', 'contactid', 'Uniqueidentifier'),
        attribute('StringAttributeMetadata', 'fullname', 'String', { MaxLength: 160 }),
        attribute('LookupAttributeMetadata', 'parentcustomerid', 'Customer', {
          Targets: ['account', 'contact'],
        }),
        attribute('LookupAttributeMetadata', 'ownerid', 'Owner', { Targets: ['systemuser', 'team'] }),
      ],
      OneToManyRelationships: [],
      ManyToOneRelationships: [
        {
          SchemaName: 'contact_customer_accounts',
          ReferencedEntity: 'account',
          ReferencedAttribute: 'accountid',
          ReferencingEntity: 'contact',
          ReferencingAttribute: 'parentcustomerid',
          ReferencingEntityNavigationPropertyName: 'parentcustomerid_account',
        },
        {
          SchemaName: 'contact_customer_contacts',
          ReferencedEntity: 'contact',
          ReferencedAttribute: 'contactid',
          ReferencingEntity: 'contact',
          ReferencingAttribute: 'parentcustomerid',
          ReferencingEntityNavigationPropertyName: 'parentcustomerid_contact',
        },
      ],
      ManyToManyRelationships: [],
    },
    {
      LogicalName: 'transactioncurrency',
      EntitySetName: 'transactioncurrencies',
      PrimaryIdAttribute: 'transactioncurrencyid',
      PrimaryNameAttribute: 'currencyname',
      OwnershipType: 'OrganizationOwned',
      IsIntersect: false,
      ChangeTrackingEnabled: true,
      Attributes: [
        attribute('UniqueIdentifierAttributeMetadata', 'transactioncurrencyid', 'Uniqueidentifier'),
        attribute('StringAttributeMetadata', 'currencyname', 'String', { MaxLength: 100 }),
      ],
      OneToManyRelationships: [],
      ManyToOneRelationships: [],
      ManyToManyRelationships: [],
    },
    {
      LogicalName: 'accountleads',
      EntitySetName: 'accountleadscollection',
      PrimaryIdAttribute: 'accountleadid',
      PrimaryNameAttribute: null,
      OwnershipType: 'None',
      IsIntersect: true,
      ChangeTrackingEnabled: false,
      Attributes: [attribute('UniqueIdentifierAttributeMetadata', 'accountleadid', 'Uniqueidentifier')],
      OneToManyRelationships: [],
      ManyToOneRelationships: [],
      ManyToManyRelationships: [],
    },
  ];
}

/** Fills the security tables (reference §6) with two business units, users, a team and a role. */
export function seedDirectory(server: DataverseTestServer): void {
  const t = server.tables;
  t.define('businessunits', 'businessunitid');
  t.upsert('businessunits', {
    businessunitid: ids.rootUnit,
    name: 'Contoso',
    _parentbusinessunitid_value: null,
  });
  t.upsert('businessunits', {
    businessunitid: ids.salesUnit,
    name: 'Sales',
    _parentbusinessunitid_value: ids.rootUnit,
  });
  t.define('systemusers', 'systemuserid');
  const user = (
    id: string,
    oid: string | null,
    name: string,
    unit: string,
    manager: string | null,
    disabled = false,
  ) =>
    t.upsert('systemusers', {
      systemuserid: id,
      azureactivedirectoryobjectid: oid,
      domainname: `${name}@contoso.com`,
      fullname: name,
      isdisabled: disabled,
      _businessunitid_value: unit,
      _parentsystemuserid_value: manager,
    });
  user(ids.alice, ids.aliceOid, 'Alice', ids.rootUnit, null);
  user(ids.bob, ids.bobOid, 'Bob', ids.salesUnit, ids.alice);
  user(ids.system, null, 'SYSTEM', ids.rootUnit, null);
  user(ids.disabled, 'c0000000-0000-4000-8000-000000000009', 'Gone', ids.rootUnit, null, true);
  t.define('usersettingscollection', 'systemuserid');
  t.upsert('usersettingscollection', { systemuserid: ids.bob, uilanguageid: 1036 });
  t.define('teams', 'teamid');
  t.upsert('teams', { teamid: ids.salesTeam, name: 'Sales team', _businessunitid_value: ids.salesUnit });
  t.define('teammemberships', 'teammembershipid');
  t.upsert('teammemberships', { teammembershipid: 'tm1', teamid: ids.salesTeam, systemuserid: ids.bob });
  t.define('roles', 'roleid');
  t.upsert('roles', { roleid: ids.salesperson, name: 'Salesperson', _businessunitid_value: ids.rootUnit });
  t.define('systemuserrolescollection', 'systemuserroleid');
  t.upsert('systemuserrolescollection', {
    systemuserroleid: 'ur1',
    systemuserid: ids.bob,
    roleid: ids.salesperson,
  });
  t.define('teamrolescollection', 'teamroleid');
  t.upsert('teamrolescollection', { teamroleid: 'tr1', teamid: ids.salesTeam, roleid: ids.salesperson });
  t.define('privileges', 'privilegeid');
  t.upsert('privileges', { privilegeid: ids.prvReadAccount, name: 'prvReadAccount' });
  t.upsert('privileges', { privilegeid: ids.prvWriteAccount, name: 'prvWriteAccount' });
  t.upsert('privileges', { privilegeid: ids.prvAppendToAccount, name: 'prvAppendToAccount' });
  t.upsert('privileges', { privilegeid: ids.prvAssignAccount, name: 'prvAssignAccount' });
  t.upsert('privileges', { privilegeid: ids.prvReadProfile, name: 'prvReadMobileOfflineProfile' });
  t.define('roleprivilegescollection', 'roleprivilegeid');
  const grant = (n: number, privilegeid: string, mask: number) =>
    t.upsert('roleprivilegescollection', {
      roleprivilegeid: `rp${n}`,
      roleid: ids.salesperson,
      privilegeid,
      privilegedepthmask: mask,
    });
  grant(1, ids.prvReadAccount, 1);
  grant(2, ids.prvReadAccount, 4);
  grant(3, ids.prvWriteAccount, 1);
  grant(4, ids.prvAppendToAccount, 2);
  grant(5, ids.prvAssignAccount, 8);
  grant(6, ids.prvReadProfile, 8);
}

export interface DataverseFixture {
  server: DataverseTestServer;
  source: Source;
  /** Every wait the source asked for, in ms (nothing really sleeps). */
  sleeps: number[];
  clock: ManualClock;
}

/** A test server with metadata, directory and empty account/contact tables, and a source on it. */
export async function startDataverseFixture(
  options: { maxPageSize?: number } = {},
): Promise<DataverseFixture> {
  const server = await startDataverseTestServer();
  server.entityDefinitions.push(...entityDefinitions());
  server.tables.define('accounts', 'accountid');
  server.tables.define('contacts', 'contactid');
  seedDirectory(server);
  const sleeps: number[] = [];
  const clock = new ManualClock();
  const source = createDataverseSource({
    url: server.url,
    getToken: async () => server.token,
    clock,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...(options.maxPageSize === undefined ? {} : { maxPageSize: options.maxPageSize }),
  });
  return { server, source, sleeps, clock };
}
