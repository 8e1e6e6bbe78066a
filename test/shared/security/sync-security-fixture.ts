import type { Directory } from '../../../shared/model/directory';
import { directorySchema } from '../../../shared/model/directory';
import type { EntityMetadata } from '../../../shared/model/entity';
import { entityMetadataSchema } from '../../../shared/model/entity';

/**
 * A small tenant for sync-time rule tests.
 *
 * Business units:  root ─┬─ sales ── sales-east ── sales-east-city
 *                        └─ service
 * Manager chain:   alice ← bob ← carol ← dave ← erin   (bob reports to alice, …)
 * Teams:           north (BU service: alice), east (BU sales-east: bob, carol), erin's (erin),
 *                  service (frank)
 */
export function syncDirectory(overrides: Partial<Pick<Directory, 'roles' | 'teams'>> = {}): Directory {
  let n = 0;
  const oid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
  const user = (id: string, businessUnitId: string, managerId: string | null, roleIds: string[] = []) => ({
    id,
    entraObjectId: oid(),
    userName: `${id}@contoso.test`,
    fullName: id,
    businessUnitId,
    managerId,
    roleIds,
  });
  return directorySchema.parse({
    businessUnits: [
      { id: 'bu-root', name: 'Root', parentId: null },
      { id: 'bu-sales', name: 'Sales', parentId: 'bu-root' },
      { id: 'bu-sales-east', name: 'Sales East', parentId: 'bu-sales' },
      { id: 'bu-sales-east-city', name: 'Sales East City', parentId: 'bu-sales-east' },
      { id: 'bu-service', name: 'Service', parentId: 'bu-root' },
    ],
    users: [
      {
        ...user('user-alice', 'bu-sales', null, ['role-sales']),
        languageId: 1033,
        securedColumns: ['account.creditlimit'],
      },
      user('user-bob', 'bu-sales-east', 'user-alice'),
      user('user-carol', 'bu-sales-east', 'user-bob'),
      user('user-dave', 'bu-sales-east-city', 'user-carol'),
      user('user-erin', 'bu-sales-east-city', 'user-dave'),
      user('user-frank', 'bu-service', null),
    ],
    teams: overrides.teams ?? [
      { id: 'team-north', name: 'North', businessUnitId: 'bu-service', memberIds: ['user-alice'] },
      {
        id: 'team-east',
        name: 'East',
        businessUnitId: 'bu-sales-east',
        memberIds: ['user-bob', 'user-carol'],
      },
      { id: 'team-erin', name: "Erin's", businessUnitId: 'bu-sales-east-city', memberIds: ['user-erin'] },
      { id: 'team-service', name: 'Service', businessUnitId: 'bu-service', memberIds: ['user-frank'] },
    ],
    roles: overrides.roles ?? [
      {
        id: 'role-sales',
        name: 'Salesperson',
        privileges: { account: { read: 'user' }, mobileofflineprofile: { read: 'organization' } },
      },
    ],
  });
}

/** A user-owned entity with an attribute of every kind the filters compare. */
export const accountEntity: EntityMetadata = entityMetadataSchema.parse({
  logicalName: 'account',
  primaryIdAttribute: 'accountid',
  primaryNameAttribute: 'name',
  ownership: 'user',
  attributes: [
    { name: 'accountid', type: 'uniqueidentifier' },
    { name: 'name', type: 'string', maxLength: 160 },
    { name: 'description', type: 'memo' },
    { name: 'numberofemployees', type: 'integer' },
    { name: 'revenue', type: 'money' },
    { name: 'industrycode', type: 'picklist' },
    { name: 'donotemail', type: 'boolean' },
    { name: 'modifiedon', type: 'datetime' },
    { name: 'languagecode', type: 'language' },
    { name: 'primarycontactid', type: 'lookup', targets: ['contact'] },
    { name: 'ownerid', type: 'owner', targets: ['systemuser', 'team'] },
    { name: 'owningbusinessunit', type: 'lookup', targets: ['businessunit'] },
    { name: 'creditlimit', type: 'money', secured: true },
    { name: 'taxid', type: 'string', maxLength: 20, secured: true },
  ],
});

/** An organization-owned entity. */
export const productEntity: EntityMetadata = entityMetadataSchema.parse({
  logicalName: 'product',
  primaryIdAttribute: 'productid',
  primaryNameAttribute: 'name',
  ownership: 'organization',
  attributes: [
    { name: 'productid', type: 'uniqueidentifier' },
    { name: 'name', type: 'string' },
  ],
});
