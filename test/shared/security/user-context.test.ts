import { AppError } from '../../../shared/errors';
import { buildUserContext } from '../../../shared/security/user-context';
import { syncDirectory } from './sync-security-fixture';

const sorted = (set: ReadonlySet<string>) => [...set].sort();

describe('buildUserContext', () => {
  it('collects the user, their teams, business unit subtree and language', () => {
    const ctx = buildUserContext(syncDirectory(), 'user-alice');
    expect(ctx.userId).toBe('user-alice');
    expect(ctx.businessUnitId).toBe('bu-sales');
    expect(sorted(ctx.teamIds)).toEqual(['team-north']);
    expect(sorted(ctx.ownerIds)).toEqual(['team-north', 'user-alice']);
    expect(sorted(ctx.businessUnitSubtree)).toEqual(['bu-sales', 'bu-sales-east', 'bu-sales-east-city']);
    expect(ctx.languageId).toBe(1033);
    expect(sorted(ctx.securedColumns)).toEqual(['account.creditlimit']);
  });

  it('finds the user whatever the case of the id, and lower-cases every id', () => {
    const ctx = buildUserContext(syncDirectory(), 'USER-Alice');
    expect(ctx.userId).toBe('user-alice');
    expect(ctx.user.id).toBe('user-alice');
  });

  it('refuses a user who is not in the directory', () => {
    expect(() => buildUserContext(syncDirectory(), 'user-nobody')).toThrow(
      expect.objectContaining({ code: 'NotFound' }) as AppError,
    );
  });

  it.each([-1, 1.5])('refuses hierarchy depth %p', (hierarchyDepth) => {
    expect(() => buildUserContext(syncDirectory(), 'user-alice', { hierarchyDepth })).toThrow(AppError);
  });

  it.each([
    [undefined, ['user-bob', 'user-carol', 'user-dave']],
    [0, []],
    [1, ['user-bob']],
    [2, ['user-bob', 'user-carol']],
    [3, ['user-bob', 'user-carol', 'user-dave']],
    [10, ['user-bob', 'user-carol', 'user-dave', 'user-erin']],
  ])('with hierarchy depth %p the subordinates are %p', (hierarchyDepth, expected) => {
    const ctx = buildUserContext(syncDirectory(), 'user-alice', { hierarchyDepth });
    expect(sorted(ctx.subordinateIds)).toEqual(expected);
  });

  it("collects the teams of the user's subordinates", () => {
    expect(sorted(buildUserContext(syncDirectory(), 'user-alice').subordinateTeamIds)).toEqual(['team-east']);
    expect(
      sorted(buildUserContext(syncDirectory(), 'user-alice', { hierarchyDepth: 4 }).subordinateTeamIds),
    ).toEqual(['team-east', 'team-erin']);
  });

  it('survives a manager cycle', () => {
    const directory = syncDirectory();
    const alice = directory.users.find((u) => u.id === 'user-alice')!;
    alice.managerId = 'user-carol';
    const ctx = buildUserContext(directory, 'user-alice', { hierarchyDepth: 10 });
    expect(sorted(ctx.subordinateIds)).toEqual(['user-bob', 'user-carol', 'user-dave', 'user-erin']);
  });

  it('leaves a user with no reports, teams or roles with empty sets and no privileges', () => {
    const ctx = buildUserContext(syncDirectory(), 'user-erin');
    expect(ctx.subordinateIds.size).toBe(0);
    expect(sorted(ctx.teamIds)).toEqual(['team-erin']);
    expect(ctx.privileges.size).toBe(0);
  });

  it("unites the user's roles and their teams' roles, team levels measured from the team's business unit", () => {
    const directory = syncDirectory({
      roles: [
        { id: 'role-own', name: 'Own', privileges: { account: { read: 'user', write: 'businessUnit' } } },
        {
          id: 'role-team',
          name: 'Team',
          privileges: { account: { read: 'parentChild' }, lead: { read: 'user' } },
        },
      ],
      teams: [
        {
          id: 'team-east',
          name: 'East',
          businessUnitId: 'bu-sales-east',
          memberIds: ['user-alice'],
          roleIds: ['role-team', 'role-missing'],
        },
      ],
    });
    directory.users.find((u) => u.id === 'user-alice')!.roleIds = ['role-own'];
    const ctx = buildUserContext(directory, 'user-alice');
    const read = ctx.privileges.get('account')?.get('read');
    expect(read?.level).toBe('parentChild');
    expect(read?.ownRows).toBe(true);
    expect(sorted(read!.businessUnitIds)).toEqual(['bu-sales-east', 'bu-sales-east-city']);
    const write = ctx.privileges.get('account')?.get('write');
    expect(write?.level).toBe('businessUnit');
    expect(sorted(write!.businessUnitIds)).toEqual(['bu-sales']);
    expect(ctx.privileges.get('lead')?.get('read')?.level).toBe('user');
    expect(ctx.privileges.get('account')?.get('delete')).toBeUndefined();
  });
});
