import { z } from 'zod';
import { AppError } from '../../errors';
import { directorySchema } from '../../model/directory';
import type { AccessLevel, Directory, Privilege, Role } from '../../model/directory';
import type { DataverseHttpClient } from './web-api-client';
import { readAllPages, webApiFailure } from './web-api-client';

/**
 * Reads the security directory (reference §6) from the standard tables:
 * `businessunits` (tree by `_parentbusinessunitid_value`), `systemusers` (Entra object id, business
 * unit, manager), `usersettingscollection` (UI language; 1033 when the table cannot be read),
 * `teams` with `teammemberships`, `roles` with `roleprivilegescollection` and `privileges`, and the
 * role assignments `systemuserrolescollection` / `teamrolescollection`.
 *
 * Users without an Entra object id (SYSTEM, INTEGRATION and other non-interactive users) and disabled
 * users cannot sign in to a device and are left out.
 *
 * Privileges: a privilege is named `prv<Right><EntitySchemaName>` (`prvReadAccount`). Rights Create,
 * Read, Write, Delete, Append and AppendTo are kept (Assign and Share are not privileges we check); the
 * entity is the schema name lower-cased, which is its logical name for standard and custom tables
 * alike. `privilegedepthmask` bits map Basic=1 → user, Local=2 → businessUnit, Deep=4 → parentChild,
 * Global=8 → organization; when a role holds several depths of one privilege the widest wins.
 */

const guid = z.string().min(1);
const nullableGuid = guid.nullable().optional();

const businessUnitRow = z
  .object({
    businessunitid: guid,
    name: z.string().nullable().optional(),
    _parentbusinessunitid_value: nullableGuid,
  })
  .loose();
const userRow = z
  .object({
    systemuserid: guid,
    azureactivedirectoryobjectid: z.string().nullable().optional(),
    domainname: z.string().nullable().optional(),
    fullname: z.string().nullable().optional(),
    isdisabled: z.boolean().nullable().optional(),
    _businessunitid_value: nullableGuid,
    _parentsystemuserid_value: nullableGuid,
  })
  .loose();
const userSettingsRow = z
  .object({ systemuserid: guid, uilanguageid: z.number().int().nullable().optional() })
  .loose();
const teamRow = z
  .object({ teamid: guid, name: z.string().nullable().optional(), _businessunitid_value: nullableGuid })
  .loose();
const teamMembershipRow = z.object({ teamid: guid, systemuserid: guid }).loose();
const roleRow = z.object({ roleid: guid, name: z.string().nullable().optional() }).loose();
const userRoleRow = z.object({ systemuserid: guid, roleid: guid }).loose();
const teamRoleRow = z.object({ teamid: guid, roleid: guid }).loose();
const rolePrivilegeRow = z
  .object({ roleid: guid, privilegeid: guid, privilegedepthmask: z.number().int() })
  .loose();
const privilegeRow = z.object({ privilegeid: guid, name: z.string() }).loose();

const RIGHTS: [string, Privilege][] = [
  // AppendTo before Append: the longer prefix must win.
  ['AppendTo', 'appendTo'],
  ['Append', 'append'],
  ['Create', 'create'],
  ['Read', 'read'],
  ['Write', 'write'],
  ['Delete', 'delete'],
];

/** `prvReadAccount` → { entity: 'account', privilege: 'read' }; undefined for rights we do not check. */
export function parsePrivilegeName(name: string): { entity: string; privilege: Privilege } | undefined {
  if (!name.startsWith('prv')) return undefined;
  const rest = name.slice(3);
  for (const [right, privilege] of RIGHTS) {
    if (rest.startsWith(right) && rest.length > right.length) {
      return { entity: rest.slice(right.length).toLowerCase(), privilege };
    }
  }
  return undefined;
}

const LEVEL_ORDER: AccessLevel[] = ['none', 'user', 'businessUnit', 'parentChild', 'organization'];

/** The widest access level in a `privilegedepthmask`. */
export function accessLevelFromDepthMask(mask: number): AccessLevel {
  if (mask & 8) return 'organization';
  if (mask & 4) return 'parentChild';
  if (mask & 2) return 'businessUnit';
  if (mask & 1) return 'user';
  return 'none';
}

function wider(a: AccessLevel | undefined, b: AccessLevel): AccessLevel {
  return a === undefined || LEVEL_ORDER.indexOf(b) > LEVEL_ORDER.indexOf(a) ? b : a;
}

async function readTable<T>(
  client: DataverseHttpClient,
  path: string,
  schema: z.ZodType<T>,
  pageSize: number,
): Promise<T[]> {
  const rows = await readAllPages(client, path, pageSize);
  return rows.map((row) => {
    const parsed = schema.safeParse(row);
    if (!parsed.success) {
      throw new AppError(
        'SourceUnavailable',
        `Dataverse answered a row of ${path.split('?')[0]} that is not valid.`,
        {
          details: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        },
      );
    }
    return parsed.data;
  });
}

/** Reads and maps the whole directory. */
export async function readDataverseDirectory(
  client: DataverseHttpClient,
  pageSize: number,
): Promise<Directory> {
  const read = <T>(path: string, schema: z.ZodType<T>) => readTable(client, path, schema, pageSize);
  const [
    units,
    users,
    teams,
    memberships,
    roles,
    userRoles,
    teamRoles,
    rolePrivileges,
    privileges,
    languages,
  ] = await Promise.all([
    read('businessunits?$select=businessunitid,name,_parentbusinessunitid_value', businessUnitRow),
    read(
      'systemusers?$select=systemuserid,azureactivedirectoryobjectid,domainname,fullname,isdisabled,_businessunitid_value,_parentsystemuserid_value',
      userRow,
    ),
    read('teams?$select=teamid,name,_businessunitid_value', teamRow),
    read('teammemberships?$select=teamid,systemuserid', teamMembershipRow),
    read('roles?$select=roleid,name', roleRow),
    read('systemuserrolescollection?$select=systemuserid,roleid', userRoleRow),
    read('teamrolescollection?$select=teamid,roleid', teamRoleRow),
    read('roleprivilegescollection?$select=roleid,privilegeid,privilegedepthmask', rolePrivilegeRow),
    read('privileges?$select=privilegeid,name', privilegeRow),
    readLanguages(client, pageSize),
  ]);

  const key = (id: string) => id.toLowerCase();
  const group = <T>(rows: T[], by: (row: T) => string, value: (row: T) => string) => {
    const map = new Map<string, string[]>();
    for (const row of rows) {
      const list = map.get(key(by(row))) ?? [];
      list.push(key(value(row)));
      map.set(key(by(row)), list);
    }
    return map;
  };
  const rolesOfUser = group(
    userRoles,
    (r) => r.systemuserid,
    (r) => r.roleid,
  );
  const rolesOfTeam = group(
    teamRoles,
    (r) => r.teamid,
    (r) => r.roleid,
  );
  const membersOfTeam = group(
    memberships,
    (m) => m.teamid,
    (m) => m.systemuserid,
  );

  const privilegeById = new Map(privileges.map((p) => [key(p.privilegeid), parsePrivilegeName(p.name)]));
  const privilegesOfRole = new Map<string, Role['privileges']>();
  for (const rp of rolePrivileges) {
    const parsed = privilegeById.get(key(rp.privilegeid));
    if (!parsed) continue;
    const byEntity = privilegesOfRole.get(key(rp.roleid)) ?? {};
    const levels = byEntity[parsed.entity] ?? {};
    levels[parsed.privilege] = wider(
      levels[parsed.privilege],
      accessLevelFromDepthMask(rp.privilegedepthmask),
    );
    byEntity[parsed.entity] = levels;
    privilegesOfRole.set(key(rp.roleid), byEntity);
  }

  const directory = {
    businessUnits: units.map((u) => ({
      id: key(u.businessunitid),
      name: u.name || u.businessunitid,
      parentId: u._parentbusinessunitid_value ? key(u._parentbusinessunitid_value) : null,
    })),
    users: users
      .filter((u) => u.azureactivedirectoryobjectid && u.isdisabled !== true && u._businessunitid_value)
      .map((u) => ({
        id: key(u.systemuserid),
        entraObjectId: key(u.azureactivedirectoryobjectid!),
        userName: (u.domainname || u.fullname || u.systemuserid).slice(0, 200),
        fullName: (u.fullname || u.domainname || u.systemuserid).slice(0, 200),
        businessUnitId: key(u._businessunitid_value!),
        managerId: u._parentsystemuserid_value ? key(u._parentsystemuserid_value) : null,
        languageId: languages.get(key(u.systemuserid)) ?? 1033,
        roleIds: rolesOfUser.get(key(u.systemuserid)) ?? [],
        // Field security profiles are not read yet: no user gets secured columns.
        securedColumns: [],
      })),
    teams: teams
      .filter((t) => t._businessunitid_value)
      .map((t) => ({
        id: key(t.teamid),
        name: t.name || t.teamid,
        businessUnitId: key(t._businessunitid_value!),
        memberIds: membersOfTeam.get(key(t.teamid)) ?? [],
        roleIds: rolesOfTeam.get(key(t.teamid)) ?? [],
      })),
    roles: roles.map((r) => ({
      id: key(r.roleid),
      name: r.name || r.roleid,
      privileges: privilegesOfRole.get(key(r.roleid)) ?? {},
    })),
  };
  const parsed = directorySchema.safeParse(directory);
  if (!parsed.success) {
    throw new AppError('SourceUnavailable', 'The Dataverse directory cannot be used.', {
      details: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return parsed.data;
}

/** systemuserid → UI language; empty when user settings cannot be read (their default is 1033). */
async function readLanguages(client: DataverseHttpClient, pageSize: number): Promise<Map<string, number>> {
  try {
    const rows = await readTable(
      client,
      'usersettingscollection?$select=systemuserid,uilanguageid',
      userSettingsRow,
      pageSize,
    );
    return new Map(
      rows
        .filter((r) => typeof r.uilanguageid === 'number' && r.uilanguageid > 0)
        .map((r) => [r.systemuserid.toLowerCase(), r.uilanguageid!]),
    );
  } catch (error) {
    const status = webApiFailure(error)?.status;
    // Reading other users' settings needs a privilege the service account may not hold.
    if (status === 403 || status === 404) return new Map();
    throw error;
  }
}
