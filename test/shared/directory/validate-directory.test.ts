import { validateDirectory } from '../../../shared/directory/validate-directory';
import { directorySchema, type Directory } from '../../../shared/model/directory';

const oid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function directory(): Directory {
  return directorySchema.parse({
    businessUnits: [
      { id: 'root', name: 'Contoso', parentId: null },
      { id: 'sales', name: 'Sales', parentId: 'root' },
    ],
    users: [
      {
        id: 'u1',
        entraObjectId: oid(1),
        userName: 'ann',
        fullName: 'Ann',
        businessUnitId: 'root',
        roleIds: ['r1'],
      },
      {
        id: 'u2',
        entraObjectId: oid(2),
        userName: 'bob',
        fullName: 'Bob',
        businessUnitId: 'sales',
        managerId: 'u1',
      },
    ],
    teams: [{ id: 't1', name: 'Team', businessUnitId: 'sales', memberIds: ['u1', 'u2'], roleIds: ['r1'] }],
    roles: [{ id: 'r1', name: 'Salesperson', privileges: { account: { read: 'businessUnit' } } }],
  });
}

const check = (d: Directory): string[] => validateDirectory(d).map((v) => `${v.path}:${v.code}`);

describe('validateDirectory', () => {
  it('accepts a directory whose references all resolve', () => {
    expect(check(directory())).toEqual([]);
  });

  it('needs exactly one root business unit and existing parents', () => {
    const twoRoots = directory();
    twoRoots.businessUnits[1]!.parentId = null;
    expect(check(twoRoots)).toEqual(['businessUnits:RootBusinessUnit']);
    const orphan = directory();
    orphan.businessUnits[1]!.parentId = 'nowhere';
    expect(check(orphan)).toEqual(['businessUnits[1].parentId:BusinessUnitNotFound']);
  });

  it('refuses a cycle of business units and names it', () => {
    const d = directory();
    d.businessUnits.push({ id: 'a', name: 'A', parentId: 'b' }, { id: 'b', name: 'B', parentId: 'a' });
    const violations = validateDirectory(d);
    expect(violations.map((v) => `${v.path}:${v.code}`)).toEqual([
      'businessUnits[2].parentId:BusinessUnitCycle',
    ]);
    expect(violations[0]!.message).toContain('a → b → a');
  });

  it('refuses duplicate ids and Entra object ids', () => {
    const d = directory();
    d.users.push({ ...d.users[0]! });
    d.roles.push({ ...d.roles[0]! });
    expect(check(d)).toEqual([
      'users[2].id:DuplicateId',
      'roles[1].id:DuplicateId',
      'users[2].entraObjectId:DuplicateEntraObjectId',
    ]);
  });

  it('refuses managers, members, roles and business units that do not exist', () => {
    const d = directory();
    d.users[1]!.managerId = 'ghost';
    d.users[1]!.roleIds = ['nope'];
    d.users[0]!.businessUnitId = 'gone';
    d.teams[0]!.memberIds.push('ghost');
    d.teams[0]!.roleIds.push('nope');
    d.teams[0]!.businessUnitId = 'gone';
    expect(check(d)).toEqual([
      'users[0].businessUnitId:BusinessUnitNotFound',
      'users[1].managerId:UserNotFound',
      'users[1].roleIds[0]:RoleNotFound',
      'teams[0].businessUnitId:BusinessUnitNotFound',
      'teams[0].memberIds[2]:UserNotFound',
      'teams[0].roleIds[1]:RoleNotFound',
    ]);
  });

  it('refuses a user managing themselves', () => {
    const d = directory();
    d.users[0]!.managerId = 'u1';
    expect(check(d)).toEqual(['users[0].managerId:SelfManager']);
  });
});
