import { attribute as attr, lookupRelationship } from '../../shared/entities/metadata-builders';
import type { Attribute, EntityMetadata } from '../../shared/model/entity';

/** Small entity metadata for admin-configuration tests: user-, org-, business- and none-owned entities. */

const ownerColumns: Attribute[] = [
  attr('ownerid', 'owner', { targets: ['systemuser', 'team'] }),
  attr('owningbusinessunit', 'lookup', { targets: ['businessunit'] }),
];

/** account (user-owned) ⇄ contact (user-owned), contact ⇄ note (none), account → currency (org). */
export function testEntities(): EntityMetadata[] {
  return [
    {
      logicalName: 'account',
      primaryIdAttribute: 'accountid',
      primaryNameAttribute: 'name',
      ownership: 'user',
      attributes: [
        attr('accountid', 'uniqueidentifier'),
        attr('name', 'string', { maxLength: 160 }),
        attr('revenue', 'money'),
        attr('numberofemployees', 'integer'),
        attr('donotemail', 'boolean'),
        attr('industrycode', 'picklist'),
        attr('modifiedon', 'datetime'),
        attr('primarycontactid', 'lookup', { targets: ['contact'] }),
        attr('parentaccountid', 'lookup', { targets: ['account'] }),
        attr('createdby', 'lookup', { targets: ['systemuser'] }),
        attr('transactioncurrencyid', 'lookup', { targets: ['transactioncurrency'] }),
        ...ownerColumns,
      ],
      relationships: [
        lookupRelationship(
          'contact_customer_accounts',
          'one-to-many',
          'account',
          'contact',
          'parentcustomerid',
        ),
        lookupRelationship(
          'account_primary_contact',
          'many-to-one',
          'contact',
          'account',
          'primarycontactid',
        ),
        lookupRelationship(
          'account_currency',
          'many-to-one',
          'transactioncurrency',
          'account',
          'transactioncurrencyid',
        ),
        lookupRelationship('account_parent_account', 'many-to-one', 'account', 'account', 'parentaccountid'),
      ],
    },
    {
      logicalName: 'contact',
      primaryIdAttribute: 'contactid',
      primaryNameAttribute: 'fullname',
      ownership: 'user',
      attributes: [
        attr('contactid', 'uniqueidentifier'),
        attr('fullname', 'string', { maxLength: 160 }),
        attr('preferredlanguage', 'language'),
        attr('birthdate', 'datetime'),
        attr('parentcustomerid', 'lookup', { targets: ['account'] }),
        attr('modifiedon', 'datetime'),
        ...ownerColumns,
      ],
      relationships: [
        lookupRelationship(
          'contact_customer_accounts',
          'many-to-one',
          'account',
          'contact',
          'parentcustomerid',
        ),
        lookupRelationship(
          'account_primary_contact',
          'one-to-many',
          'contact',
          'account',
          'primarycontactid',
        ),
        lookupRelationship('contact_notes', 'one-to-many', 'contact', 'note', 'objectid'),
      ],
    },
    {
      logicalName: 'note',
      primaryIdAttribute: 'noteid',
      primaryNameAttribute: 'subject',
      ownership: 'none',
      attributes: [
        attr('noteid', 'uniqueidentifier'),
        attr('subject', 'string'),
        attr('objectid', 'lookup', { targets: ['contact'] }),
      ],
      relationships: [lookupRelationship('contact_notes', 'many-to-one', 'contact', 'note', 'objectid')],
    },
    {
      logicalName: 'transactioncurrency',
      primaryIdAttribute: 'transactioncurrencyid',
      primaryNameAttribute: 'currencyname',
      ownership: 'organization',
      attributes: [attr('transactioncurrencyid', 'uniqueidentifier'), attr('currencyname', 'string')],
      relationships: [
        lookupRelationship(
          'account_currency',
          'one-to-many',
          'transactioncurrency',
          'account',
          'transactioncurrencyid',
        ),
      ],
    },
    {
      logicalName: 'territory',
      primaryIdAttribute: 'territoryid',
      primaryNameAttribute: 'name',
      ownership: 'business',
      attributes: [
        attr('territoryid', 'uniqueidentifier'),
        attr('name', 'string'),
        attr('owningbusinessunit', 'lookup', { targets: ['businessunit'] }),
      ],
      relationships: [],
    },
  ];
}

/** The test entity of the given name (throws when the fixture lacks it). */
export function testEntity(name: string): EntityMetadata {
  const entity = testEntities().find((e) => e.logicalName === name);
  if (entity === undefined) throw new Error(`no test entity ${name}`);
  return entity;
}
