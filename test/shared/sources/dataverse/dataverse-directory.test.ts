import {
  accessLevelFromDepthMask,
  parsePrivilegeName,
} from '../../../../shared/sources/dataverse/directory-reader';
import type { DataverseFixture } from './dataverse-fixture';
import { ids, startDataverseFixture } from './dataverse-fixture';

let fx: DataverseFixture;
beforeEach(async () => {
  fx = await startDataverseFixture({ maxPageSize: 2 });
});
afterEach(async () => {
  await fx.server.close();
});

describe('Dataverse directory', () => {
  it('maps business units, users, teams, roles and privileges', async () => {
    const directory = await fx.source.readDirectory();
    expect(directory.businessUnits).toEqual([
      { id: ids.rootUnit, name: 'Contoso', parentId: null },
      { id: ids.salesUnit, name: 'Sales', parentId: ids.rootUnit },
    ]);
    // SYSTEM (no Entra object id) and the disabled user cannot sign in.
    expect(directory.users).toEqual([
      {
        id: ids.alice,
        entraObjectId: ids.aliceOid,
        userName: 'Alice@contoso.com',
        fullName: 'Alice',
        businessUnitId: ids.rootUnit,
        managerId: null,
        languageId: 1033,
        roleIds: [],
        securedColumns: [],
      },
      {
        id: ids.bob,
        entraObjectId: ids.bobOid,
        userName: 'Bob@contoso.com',
        fullName: 'Bob',
        businessUnitId: ids.salesUnit,
        managerId: ids.alice,
        languageId: 1036,
        roleIds: [ids.salesperson],
        securedColumns: [],
      },
    ]);
    expect(directory.teams).toEqual([
      {
        id: ids.salesTeam,
        name: 'Sales team',
        businessUnitId: ids.salesUnit,
        memberIds: [ids.bob],
        roleIds: [ids.salesperson],
      },
    ]);
    expect(directory.roles).toEqual([
      {
        id: ids.salesperson,
        name: 'Salesperson',
        privileges: {
          // Basic and Deep on one privilege: the widest wins; Assign is not a privilege we check.
          account: { read: 'parentChild', write: 'user', appendTo: 'businessUnit' },
          mobileofflineprofile: { read: 'organization' },
        },
      },
    ]);
  });

  it('follows nextLinks through every page of the directory tables', async () => {
    await fx.source.readDirectory();
    const userPages = fx.server.requests.filter((r) => r.url.includes('/systemusers'));
    expect(userPages.length).toBe(2);
    expect(userPages[0]!.headers.prefer).toBe('odata.maxpagesize=2');
    expect(userPages[1]!.url).toContain('$skiptoken=');
  });

  it('defaults the UI language to 1033 when user settings cannot be read', async () => {
    fx.server.failNext(
      {
        kind: 'error',
        status: 403,
        code: '0x80040220',
        message: 'Principal user is missing prvReadUserSettings privilege.',
      },
      (r) => r.url.includes('usersettingscollection'),
    );
    const directory = await fx.source.readDirectory();
    expect(directory.users.map((u) => u.languageId)).toEqual([1033, 1033]);
  });

  it('parses privilege names and depth masks', () => {
    expect(parsePrivilegeName('prvAppendToAccount')).toEqual({ entity: 'account', privilege: 'appendTo' });
    expect(parsePrivilegeName('prvAppendAccount')).toEqual({ entity: 'account', privilege: 'append' });
    expect(parsePrivilegeName('prvCreatenew_Project')).toEqual({
      entity: 'new_project',
      privilege: 'create',
    });
    expect(parsePrivilegeName('prvShareAccount')).toBeUndefined();
    expect([0, 1, 2, 4, 8, 3, 15].map(accessLevelFromDepthMask)).toEqual([
      'none',
      'user',
      'businessUnit',
      'parentChild',
      'organization',
      'businessUnit',
      'organization',
    ]);
  });
});
