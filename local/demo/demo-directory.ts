import type { Directory, Role } from '../../shared/model/directory';
import { OFFLINE_PROFILE_ENTITY } from '../../shared/model/directory';
import { SeededRandom } from './seeded-random';

/** The demo tenant's org name and Entra tenant id (local tokens carry it as `tid`). */
export const DEMO_ORG = 'contoso';
export const DEMO_ENTRA_TENANT_ID = '7e1a3c52-5b7d-4c1e-9a3f-2d6b8c0e4f11';

/** Entities salespeople work with offline. */
export const SALES_ENTITIES = ['account', 'contact', 'lead', 'opportunity', 'task'] as const;
/** Reference entities everyone may read. */
export const REFERENCE_ENTITIES = ['systemuser', 'team', 'businessunit'] as const;

const FIRST_NAMES = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
  'mallory',
  'niaj',
  'olivia',
  'peggy',
  'rupert',
  'sybil',
  'trent',
  'ursula',
  'victor',
  'wendy',
];

function salesRole(id: string, name: string, level: 'user' | 'businessUnit' | 'organization'): Role {
  const privileges: Role['privileges'] = {};
  for (const entity of SALES_ENTITIES) {
    privileges[entity] = {
      create: level,
      read: level,
      write: level,
      delete: level,
      append: level,
      appendTo: level,
    };
  }
  for (const entity of REFERENCE_ENTITIES) privileges[entity] = { read: 'organization' };
  privileges[OFFLINE_PROFILE_ENTITY] = { read: 'organization' };
  return { id, name, privileges };
}

/**
 * The demo directory: a root business unit with two children (east, west), a manager hierarchy
 * (alice → bob (east), carol (west) → eight salespeople each), two teams, and three roles:
 * salesperson (user level), sales manager (business-unit level) and admin (organization).
 */
export function buildDemoDirectory(seed: number): Directory {
  const random = new SeededRandom(seed);
  const businessUnits = [
    { id: 'bu-root', name: 'Contoso', parentId: null },
    { id: 'bu-east', name: 'Contoso East', parentId: 'bu-root' },
    { id: 'bu-west', name: 'Contoso West', parentId: 'bu-root' },
  ];
  const roles = [
    salesRole('role-salesperson', 'Salesperson', 'user'),
    salesRole('role-sales-manager', 'Sales Manager', 'businessUnit'),
    salesRole('role-admin', 'System Administrator', 'organization'),
  ];
  const users = FIRST_NAMES.map((first, index) => {
    const id = `user-${String(index + 1).padStart(3, '0')}`;
    const isCeo = index === 0;
    const isManager = index === 1 || index === 2;
    const east = index === 1 || (index >= 3 && index % 2 === 1);
    const businessUnitId = isCeo ? 'bu-root' : east ? 'bu-east' : 'bu-west';
    const managerId = isCeo ? null : isManager ? 'user-001' : east ? 'user-002' : 'user-003';
    const roleIds = isCeo ? ['role-admin'] : isManager ? ['role-sales-manager'] : ['role-salesperson'];
    return {
      id,
      entraObjectId: random.uuid(),
      userName: first,
      fullName: `${first[0]!.toUpperCase()}${first.slice(1)} ${isCeo ? 'Chief' : isManager ? 'Manager' : 'Seller'}`,
      businessUnitId,
      managerId,
      languageId: index % 5 === 4 ? 1031 : 1033,
      roleIds,
      securedColumns: isCeo || isManager ? ['account.creditlimit'] : [],
    };
  });
  const teams = [
    {
      id: 'team-east',
      name: 'East Sales Team',
      businessUnitId: 'bu-east',
      memberIds: users.filter((u) => u.businessUnitId === 'bu-east').map((u) => u.id),
      roleIds: [],
    },
    {
      id: 'team-west',
      name: 'West Sales Team',
      businessUnitId: 'bu-west',
      memberIds: users.filter((u) => u.businessUnitId === 'bu-west').map((u) => u.id),
      roleIds: [],
    },
  ];
  return { businessUnits, users, teams, roles };
}
