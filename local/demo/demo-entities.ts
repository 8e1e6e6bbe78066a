import { attribute as attr, lookupRelationship } from '../../shared/entities/metadata-builders';
import type { Attribute, EntityMetadata, Relationship } from '../../shared/model/entity';

const text = (name: string, maxLength: number, required = false): Attribute => ({
  name,
  type: 'string',
  maxLength,
  required,
  secured: false,
});
const lookup = (name: string, targets: string[], required = false): Attribute => ({
  name,
  type: 'lookup',
  targets,
  required,
  secured: false,
});

/** Ownership columns every user-owned entity carries (as in Dataverse). */
const ownership: Attribute[] = [
  { name: 'ownerid', type: 'owner', targets: ['systemuser', 'team'], required: true, secured: false },
  { name: 'owneridtype', type: 'string', maxLength: 20, required: true, secured: false },
  lookup('owningbusinessunit', ['businessunit'], true),
];
const audit: Attribute[] = [attr('createdon', 'datetime'), attr('modifiedon', 'datetime')];

function manyToOne(
  name: string,
  referencingEntity: string,
  referencingAttribute: string,
  referencedEntity: string,
): Relationship {
  return lookupRelationship(name, 'many-to-one', referencedEntity, referencingEntity, referencingAttribute);
}
function oneToMany(
  name: string,
  referencedEntity: string,
  referencingEntity: string,
  referencingAttribute: string,
): Relationship {
  return lookupRelationship(name, 'one-to-many', referencedEntity, referencingEntity, referencingAttribute);
}

/** Metadata of the demo tenant's entities, with their relationships in both directions. */
export function buildDemoEntities(): EntityMetadata[] {
  return [
    {
      logicalName: 'account',
      displayName: 'Account',
      primaryIdAttribute: 'accountid',
      primaryNameAttribute: 'name',
      ownership: 'user',
      attributes: [
        attr('accountid', 'uniqueidentifier', { required: true }),
        text('name', 160, true),
        text('accountnumber', 20),
        text('telephone1', 50),
        text('emailaddress1', 100),
        text('websiteurl', 200),
        text('address1_line1', 250),
        text('address1_city', 80),
        text('address1_postalcode', 20),
        text('address1_country', 80),
        attr('revenue', 'money'),
        attr('creditlimit', 'money', { secured: true }),
        attr('numberofemployees', 'integer'),
        attr('industrycode', 'picklist'),
        attr('description', 'memo', { maxLength: 2000 }),
        lookup('primarycontactid', ['contact']),
        ...ownership,
        ...audit,
      ],
      relationships: [
        oneToMany('contact_customer_accounts', 'account', 'contact', 'parentcustomerid'),
        oneToMany('opportunity_customer_accounts', 'account', 'opportunity', 'parentaccountid'),
        oneToMany('account_tasks', 'account', 'task', 'regardingobjectid'),
        manyToOne('account_primary_contact', 'account', 'primarycontactid', 'contact'),
        manyToOne('business_unit_accounts', 'account', 'owningbusinessunit', 'businessunit'),
      ],
    },
    {
      logicalName: 'contact',
      displayName: 'Contact',
      primaryIdAttribute: 'contactid',
      primaryNameAttribute: 'fullname',
      ownership: 'user',
      attributes: [
        attr('contactid', 'uniqueidentifier', { required: true }),
        text('fullname', 160, true),
        text('firstname', 50),
        text('lastname', 50),
        text('jobtitle', 100),
        text('emailaddress1', 100),
        text('telephone1', 50),
        text('mobilephone', 50),
        text('address1_city', 80),
        attr('description', 'memo', { maxLength: 2000 }),
        lookup('parentcustomerid', ['account']),
        attr('preferredlanguage', 'language'),
        ...ownership,
        ...audit,
      ],
      relationships: [
        manyToOne('contact_customer_accounts', 'contact', 'parentcustomerid', 'account'),
        oneToMany('contact_tasks', 'contact', 'task', 'regardingobjectid'),
        oneToMany('account_primary_contact', 'contact', 'account', 'primarycontactid'),
      ],
    },
    {
      logicalName: 'lead',
      displayName: 'Lead',
      primaryIdAttribute: 'leadid',
      primaryNameAttribute: 'subject',
      ownership: 'user',
      attributes: [
        attr('leadid', 'uniqueidentifier', { required: true }),
        text('subject', 300, true),
        text('companyname', 100),
        text('fullname', 160),
        text('emailaddress1', 100),
        text('telephone1', 50),
        attr('estimatedamount', 'money'),
        attr('leadqualitycode', 'picklist'),
        attr('description', 'memo', { maxLength: 2000 }),
        lookup('parentaccountid', ['account']),
        ...ownership,
        ...audit,
      ],
      relationships: [manyToOne('account_leads', 'lead', 'parentaccountid', 'account')],
    },
    {
      logicalName: 'opportunity',
      displayName: 'Opportunity',
      primaryIdAttribute: 'opportunityid',
      primaryNameAttribute: 'name',
      ownership: 'user',
      attributes: [
        attr('opportunityid', 'uniqueidentifier', { required: true }),
        text('name', 300, true),
        attr('estimatedvalue', 'money'),
        attr('closeprobability', 'integer'),
        attr('estimatedclosedate', 'datetime'),
        attr('stepname', 'string', { maxLength: 200 }),
        attr('description', 'memo', { maxLength: 2000 }),
        lookup('parentaccountid', ['account']),
        lookup('parentcontactid', ['contact']),
        ...ownership,
        ...audit,
      ],
      relationships: [
        manyToOne('opportunity_customer_accounts', 'opportunity', 'parentaccountid', 'account'),
        manyToOne('opportunity_parent_contact', 'opportunity', 'parentcontactid', 'contact'),
        oneToMany('opportunity_tasks', 'opportunity', 'task', 'regardingobjectid'),
      ],
    },
    {
      logicalName: 'task',
      displayName: 'Task',
      primaryIdAttribute: 'activityid',
      primaryNameAttribute: 'subject',
      ownership: 'user',
      attributes: [
        attr('activityid', 'uniqueidentifier', { required: true }),
        text('subject', 200, true),
        attr('description', 'memo', { maxLength: 2000 }),
        attr('scheduledend', 'datetime'),
        attr('prioritycode', 'picklist'),
        attr('statecode', 'picklist'),
        lookup('regardingobjectid', ['account', 'contact', 'opportunity']),
        ...ownership,
        ...audit,
      ],
      relationships: [
        manyToOne('account_tasks', 'task', 'regardingobjectid', 'account'),
        manyToOne('contact_tasks', 'task', 'regardingobjectid', 'contact'),
        manyToOne('opportunity_tasks', 'task', 'regardingobjectid', 'opportunity'),
      ],
    },
    {
      logicalName: 'systemuser',
      displayName: 'User',
      primaryIdAttribute: 'systemuserid',
      primaryNameAttribute: 'fullname',
      ownership: 'business',
      attributes: [
        attr('systemuserid', 'uniqueidentifier', { required: true }),
        text('fullname', 200, true),
        text('domainname', 200),
        lookup('businessunitid', ['businessunit'], true),
        lookup('parentsystemuserid', ['systemuser']),
        lookup('owningbusinessunit', ['businessunit']),
        ...audit,
      ],
      relationships: [
        manyToOne('business_unit_system_users', 'systemuser', 'businessunitid', 'businessunit'),
        manyToOne('user_parent_user', 'systemuser', 'parentsystemuserid', 'systemuser'),
      ],
    },
    {
      logicalName: 'team',
      displayName: 'Team',
      primaryIdAttribute: 'teamid',
      primaryNameAttribute: 'name',
      ownership: 'business',
      attributes: [
        attr('teamid', 'uniqueidentifier', { required: true }),
        text('name', 160, true),
        lookup('businessunitid', ['businessunit'], true),
        lookup('owningbusinessunit', ['businessunit']),
        ...audit,
      ],
      relationships: [manyToOne('business_unit_teams', 'team', 'businessunitid', 'businessunit')],
    },
    {
      logicalName: 'businessunit',
      displayName: 'Business Unit',
      primaryIdAttribute: 'businessunitid',
      primaryNameAttribute: 'name',
      ownership: 'business',
      attributes: [
        attr('businessunitid', 'uniqueidentifier', { required: true }),
        text('name', 160, true),
        lookup('parentbusinessunitid', ['businessunit']),
        lookup('owningbusinessunit', ['businessunit']),
        ...audit,
      ],
      relationships: [
        oneToMany('business_unit_system_users', 'businessunit', 'systemuser', 'businessunitid'),
        oneToMany('business_unit_teams', 'businessunit', 'team', 'businessunitid'),
        oneToMany('business_unit_accounts', 'businessunit', 'account', 'owningbusinessunit'),
      ],
    },
  ];
}
