import { AppError } from '../errors';
import type { AccessLevel, Directory, DirectoryUser, Privilege, Role } from '../model/directory';
import type { EffectivePrivileges } from './access-scope';
import { widerLevel } from './access-scope';

/** Manager hierarchy depth when the tenant sets none (reference/dataverse.md §5: default 3). */
export const DEFAULT_HIERARCHY_DEPTH = 3;

/**
 * Everything sync-time rules need to know about the syncing user, computed once per request from the
 * directory so that each row is then checked with a few set look-ups. Every id in it is lower-cased:
 * ids are GUIDs in Dataverse and compare case-insensitively.
 */
export interface UserContext {
  /** The directory entry, as stored. */
  readonly user: DirectoryUser;
  readonly userId: string;
  readonly businessUnitId: string;
  /** Teams the user is a member of. */
  readonly teamIds: ReadonlySet<string>;
  /** The user and their teams: who owns the rows that are "the user's own" (user-level access). */
  readonly ownerIds: ReadonlySet<string>;
  /** The user's business unit and every business unit below it (parent-child access). */
  readonly businessUnitSubtree: ReadonlySet<string>;
  /** Users below the user in the manager hierarchy, down to {@link hierarchyDepth} levels. */
  readonly subordinateIds: ReadonlySet<string>;
  /** Teams any of those subordinates is a member of. */
  readonly subordinateTeamIds: ReadonlySet<string>;
  readonly hierarchyDepth: number;
  /** UI language (LCID), for `eq-userlanguage`. */
  readonly languageId: number;
  /** The union of the user's roles and their teams' roles. */
  readonly privileges: EffectivePrivileges;
  /** Secured columns the user may read, as lower-cased `entity.attribute`. */
  readonly securedColumns: ReadonlySet<string>;
}

/** Options of {@link buildUserContext}. */
export interface UserContextOptions {
  /** How many levels of reports count as the user's hierarchy; 0 for none. Default 3. */
  hierarchyDepth?: number;
}

/** Lower-cases an id so GUIDs compare case-insensitively. */
export function normalizeId(id: string): string {
  return id.toLowerCase();
}

/**
 * Builds the {@link UserContext} of `userId` (a systemuserid) from the tenant's directory.
 *
 * Effective privileges are the union of every role of the user and every role of every team the user
 * is a member of. A team role's business-unit and parent-child levels are evaluated against the
 * team's business unit (as Dataverse does), its user level as the user's own rows (owned by the user
 * or by any of their teams). Role ids that name no role grant nothing. Manager hierarchy follows
 * `managerId` regardless of business units (the "same or parent business unit" rule of Dataverse's
 * manager model is the directory's to keep), and cycles in it are ignored.
 *
 * @throws AppError `NotFound` when the user is not in the directory; `ValidationFailed` for a
 * negative or fractional hierarchy depth.
 */
export function buildUserContext(
  directory: Directory,
  userId: string,
  options: UserContextOptions = {},
): UserContext {
  const hierarchyDepth = options.hierarchyDepth ?? DEFAULT_HIERARCHY_DEPTH;
  if (!Number.isInteger(hierarchyDepth) || hierarchyDepth < 0) {
    throw new AppError(
      'ValidationFailed',
      `Hierarchy depth must be a whole number ≥ 0, not ${hierarchyDepth}.`,
    );
  }
  const wantedId = normalizeId(userId);
  const user = directory.users.find((u) => normalizeId(u.id) === wantedId);
  if (user === undefined) {
    throw new AppError('NotFound', `User ${userId} is not in the tenant's directory.`, {
      details: { userId },
    });
  }
  const businessUnitId = normalizeId(user.businessUnitId);
  const subtreeOf = businessUnitSubtrees(directory);
  const subordinateIds = subordinatesOf(directory, wantedId, hierarchyDepth);

  const teamIds = new Set<string>();
  const subordinateTeamIds = new Set<string>();
  // Each grant is a role and the business unit its BU-relative levels are measured from.
  const grants: { roleId: string; anchorBusinessUnitId: string }[] = user.roleIds.map((roleId) => ({
    roleId,
    anchorBusinessUnitId: businessUnitId,
  }));
  for (const team of directory.teams) {
    const teamId = normalizeId(team.id);
    const members = team.memberIds.map(normalizeId);
    if (members.includes(wantedId)) {
      teamIds.add(teamId);
      for (const roleId of team.roleIds) {
        grants.push({ roleId, anchorBusinessUnitId: normalizeId(team.businessUnitId) });
      }
    }
    if (members.some((m) => subordinateIds.has(m))) subordinateTeamIds.add(teamId);
  }

  return {
    user,
    userId: wantedId,
    businessUnitId,
    teamIds,
    ownerIds: new Set([wantedId, ...teamIds]),
    businessUnitSubtree: subtreeOf(businessUnitId),
    subordinateIds,
    subordinateTeamIds,
    hierarchyDepth,
    languageId: user.languageId,
    privileges: effectivePrivileges(directory.roles, grants, subtreeOf),
    securedColumns: new Set(user.securedColumns.map((c) => c.toLowerCase())),
  };
}

/** Returns a memoized function: business unit id → that unit and every unit below it. */
function businessUnitSubtrees(directory: Directory): (businessUnitId: string) => ReadonlySet<string> {
  const children = new Map<string, string[]>();
  for (const bu of directory.businessUnits) {
    if (bu.parentId === null) continue;
    const parent = normalizeId(bu.parentId);
    const list = children.get(parent) ?? [];
    list.push(normalizeId(bu.id));
    children.set(parent, list);
  }
  const memo = new Map<string, ReadonlySet<string>>();
  return (root) => {
    const known = memo.get(root);
    if (known !== undefined) return known;
    const subtree = new Set<string>([root]);
    const pending = [root];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      for (const child of children.get(next) ?? []) {
        // The visited check also stops a malformed (cyclic) tree from looping forever.
        if (!subtree.has(child)) {
          subtree.add(child);
          pending.push(child);
        }
      }
    }
    memo.set(root, subtree);
    return subtree;
  };
}

/** Users below `userId` in the manager hierarchy, `depth` levels down (1 = direct reports). */
function subordinatesOf(directory: Directory, userId: string, depth: number): Set<string> {
  const reports = new Map<string, string[]>();
  for (const u of directory.users) {
    if (u.managerId === null) continue;
    const manager = normalizeId(u.managerId);
    const list = reports.get(manager) ?? [];
    list.push(normalizeId(u.id));
    reports.set(manager, list);
  }
  const found = new Set<string>();
  let level = [userId];
  for (let d = 0; d < depth && level.length > 0; d++) {
    const nextLevel: string[] = [];
    for (const manager of level) {
      for (const report of reports.get(manager) ?? []) {
        // A manager cycle can lead back to the user or to someone already counted.
        if (report !== userId && !found.has(report)) {
          found.add(report);
          nextLevel.push(report);
        }
      }
    }
    level = nextLevel;
  }
  return found;
}

interface MutableScope {
  level: AccessLevel;
  organization: boolean;
  ownRows: boolean;
  businessUnitIds: Set<string>;
}

/** Flattens role grants into one {@link AccessScope} per entity and privilege. */
function effectivePrivileges(
  roles: readonly Role[],
  grants: readonly { roleId: string; anchorBusinessUnitId: string }[],
  subtreeOf: (businessUnitId: string) => ReadonlySet<string>,
): EffectivePrivileges {
  const rolesById = new Map(roles.map((r) => [normalizeId(r.id), r]));
  const result = new Map<string, Map<Privilege, MutableScope>>();
  for (const { roleId, anchorBusinessUnitId } of grants) {
    const role = rolesById.get(normalizeId(roleId));
    if (role === undefined) continue;
    for (const [entityName, privileges] of Object.entries(role.privileges)) {
      const entity = entityName.toLowerCase();
      const byPrivilege = result.get(entity) ?? new Map<Privilege, MutableScope>();
      result.set(entity, byPrivilege);
      for (const [privilege, level] of Object.entries(privileges) as [Privilege, AccessLevel | undefined][]) {
        if (level === undefined || level === 'none') continue;
        const scope = byPrivilege.get(privilege) ?? {
          level: 'none',
          organization: false,
          ownRows: false,
          businessUnitIds: new Set<string>(),
        };
        byPrivilege.set(privilege, scope);
        scope.level = widerLevel(scope.level, level);
        scope.ownRows = true;
        if (level === 'organization') scope.organization = true;
        else if (level === 'businessUnit') scope.businessUnitIds.add(anchorBusinessUnitId);
        else if (level === 'parentChild') {
          for (const bu of subtreeOf(anchorBusinessUnitId)) scope.businessUnitIds.add(bu);
        }
      }
    }
  }
  return result;
}
