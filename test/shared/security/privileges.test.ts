import type { AccessLevel, Directory, Privilege } from '../../../shared/model/directory';
import type { Attributes } from '../../../shared/model/record';
import {
  canAccessRow,
  canCreate,
  canDelete,
  canSyncAtAll,
  canWrite,
  compileRowAccess,
  hasPrivilege,
} from '../../../shared/security/privileges';
import { buildUserContext } from '../../../shared/security/user-context';
import { accountEntity, productEntity, syncDirectory } from './sync-security-fixture';

/** Rows of `account` around alice (BU sales, member of team-north in BU service). */
const rows: Record<string, Attributes> = {
  ownInOtherBu: { ownerid: 'user-alice', owningbusinessunit: 'bu-sales-east' },
  ownedByHerTeam: { ownerid: 'team-north', owningbusinessunit: 'bu-service' },
  sameBu: { ownerid: 'user-zed', owningbusinessunit: 'bu-sales' },
  childBu: { ownerid: 'user-bob', owningbusinessunit: 'bu-sales-east' },
  grandchildBu: { ownerid: 'user-dave', owningbusinessunit: 'bu-sales-east-city' },
  serviceBu: { ownerid: 'user-frank', owningbusinessunit: 'bu-service' },
  rootBu: { ownerid: 'user-root', owningbusinessunit: 'bu-root' },
  unowned: {},
};

/** Alice with one role granting `levels` on account, given to her directly or through team-north. */
function aliceWith(levels: Partial<Record<Privilege, AccessLevel>>, via: 'user' | 'team' = 'user') {
  const directory: Directory = syncDirectory({
    roles: [{ id: 'role-test', name: 'Test', privileges: { account: levels, product: levels } }],
  });
  const alice = directory.users.find((u) => u.id === 'user-alice')!;
  alice.roleIds = via === 'user' ? ['role-test'] : [];
  if (via === 'team') directory.teams.find((t) => t.id === 'team-north')!.roleIds = ['role-test'];
  return buildUserContext(directory, 'user-alice');
}

function visibleRows(
  levels: Partial<Record<Privilege, AccessLevel>>,
  via: 'user' | 'team' = 'user',
): string[] {
  const check = compileRowAccess(aliceWith(levels, via), accountEntity, 'read');
  return Object.keys(rows).filter((key) => check(rows[key]!));
}

describe('read access to user-owned rows by access level', () => {
  it.each<[AccessLevel, string[]]>([
    ['none', []],
    ['user', ['ownInOtherBu', 'ownedByHerTeam']],
    ['businessUnit', ['ownInOtherBu', 'ownedByHerTeam', 'sameBu']],
    ['parentChild', ['ownInOtherBu', 'ownedByHerTeam', 'sameBu', 'childBu', 'grandchildBu']],
    ['organization', Object.keys(rows)],
  ])('%s reaches %p', (level, expected) => {
    expect(visibleRows({ read: level })).toEqual(expected);
  });

  it("measures a team role's business-unit levels from the team's business unit", () => {
    // team-north is in bu-service, so its business-unit role reaches service rows, not sales ones.
    expect(visibleRows({ read: 'businessUnit' }, 'team')).toEqual([
      'ownInOtherBu',
      'ownedByHerTeam',
      'serviceBu',
    ]);
  });

  it('compares owners and business units case-insensitively', () => {
    const ctx = aliceWith({ read: 'businessUnit' });
    expect(canAccessRow(ctx, accountEntity, 'read', { ownerid: 'USER-ALICE' })).toBe(true);
    expect(canAccessRow(ctx, accountEntity, 'read', { ownerid: 'x', owningbusinessunit: 'BU-Sales' })).toBe(
      true,
    );
  });

  it('checks each privilege separately', () => {
    const ctx = aliceWith({ read: 'organization' });
    expect(canAccessRow(ctx, accountEntity, 'read', rows.sameBu!)).toBe(true);
    expect(canAccessRow(ctx, accountEntity, 'write', rows.sameBu!)).toBe(false);
  });
});

describe('organization-owned entities', () => {
  it.each<[AccessLevel, boolean]>([
    ['none', false],
    ['user', true],
    ['businessUnit', true],
    ['organization', true],
  ])('%s read reaches every row: %p', (level, expected) => {
    expect(canAccessRow(aliceWith({ read: level }), productEntity, 'read', { name: 'Widget' })).toBe(
      expected,
    );
  });
});

describe('hasPrivilege and canSyncAtAll', () => {
  it('is true for any level above none', () => {
    expect(hasPrivilege(aliceWith({ read: 'user' }), accountEntity, 'read')).toBe(true);
    expect(hasPrivilege(aliceWith({ read: 'none' }), accountEntity, 'read')).toBe(false);
    expect(hasPrivilege(aliceWith({ read: 'user' }), accountEntity, 'delete')).toBe(false);
  });

  it('lets a user sync only with Read on offline profiles', () => {
    expect(canSyncAtAll(buildUserContext(syncDirectory(), 'user-alice'))).toBe(true);
    expect(canSyncAtAll(buildUserContext(syncDirectory(), 'user-bob'))).toBe(false);
  });

  it('grants nothing through a role id that names no role', () => {
    const directory = syncDirectory();
    directory.users.find((u) => u.id === 'user-bob')!.roleIds = ['role-missing'];
    expect(buildUserContext(directory, 'user-bob').privileges.size).toBe(0);
  });
});

describe('upload privileges', () => {
  const ctx = aliceWith({ create: 'user', write: 'businessUnit', delete: 'user' });

  it('checks create against the new row', () => {
    expect(canCreate(ctx, accountEntity, { ownerid: 'user-alice', owningbusinessunit: 'bu-sales' })).toBe(
      true,
    );
    expect(canCreate(ctx, accountEntity, { ownerid: 'user-bob', owningbusinessunit: 'bu-sales-east' })).toBe(
      false,
    );
  });

  it('checks write against the stored row and the row after the update', () => {
    expect(canWrite(ctx, accountEntity, rows.sameBu!)).toBe(true);
    expect(canWrite(ctx, accountEntity, rows.childBu!)).toBe(false);
    expect(canWrite(ctx, accountEntity, rows.sameBu!, { ...rows.sameBu, name: 'renamed' })).toBe(true);
    expect(canWrite(ctx, accountEntity, rows.sameBu!, rows.serviceBu)).toBe(false);
  });

  it('checks delete against the stored row', () => {
    expect(canDelete(ctx, accountEntity, rows.ownInOtherBu!)).toBe(true);
    expect(canDelete(ctx, accountEntity, rows.sameBu!)).toBe(false);
  });
});
