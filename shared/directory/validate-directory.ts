import type { Directory } from '../model/directory';
import type { Violation } from '../model/profile';

function duplicates<T extends { id: string }>(items: readonly T[], path: string, what: string): Violation[] {
  const seen = new Set<string>();
  const violations: Violation[] = [];
  items.forEach((item, i) => {
    if (seen.has(item.id)) {
      violations.push({
        path: `${path}[${i}].id`,
        code: 'DuplicateId',
        message: `${what} id '${item.id}' is used twice.`,
      });
    }
    seen.add(item.id);
  });
  return violations;
}

/**
 * Checks a directory declared for a `local` source and returns every violation: unique ids; business
 * units form one tree (exactly one root, every parent exists, no cycles); users and teams belong to
 * existing business units; managers, team members and role assignments name existing users and roles;
 * Entra object ids are unique (a token must map to one user). Access levels are checked by the schema.
 */
export function validateDirectory(directory: Directory): Violation[] {
  const violations: Violation[] = [
    ...duplicates(directory.businessUnits, 'businessUnits', 'Business unit'),
    ...duplicates(directory.users, 'users', 'User'),
    ...duplicates(directory.teams, 'teams', 'Team'),
    ...duplicates(directory.roles, 'roles', 'Role'),
  ];
  const add = (path: string, code: string, message: string): void => {
    violations.push({ path, code, message });
  };
  const units = new Map(directory.businessUnits.map((bu) => [bu.id, bu]));
  const userIds = new Set(directory.users.map((u) => u.id));
  const roleIds = new Set(directory.roles.map((r) => r.id));

  const roots = directory.businessUnits.filter((bu) => bu.parentId === null);
  if (roots.length !== 1) {
    add(
      'businessUnits',
      'RootBusinessUnit',
      `Business units need exactly one root (parentId null); found ${roots.length}${roots.length > 0 ? `: ${roots.map((r) => r.id).join(', ')}` : ''}.`,
    );
  }
  directory.businessUnits.forEach((bu, i) => {
    if (bu.parentId !== null && !units.has(bu.parentId)) {
      add(
        `businessUnits[${i}].parentId`,
        'BusinessUnitNotFound',
        `Parent business unit '${bu.parentId}' does not exist.`,
      );
    }
  });
  // Walk up from each unit; meeting a unit twice before the root is a cycle. Report each cycle once.
  const inReportedCycle = new Set<string>();
  directory.businessUnits.forEach((bu, i) => {
    const chain: string[] = [];
    let current: string | null = bu.id;
    while (current !== null && units.has(current) && !chain.includes(current)) {
      chain.push(current);
      current = units.get(current)?.parentId ?? null;
    }
    if (current !== null && chain.includes(current) && !inReportedCycle.has(current)) {
      const cycle = chain.slice(chain.indexOf(current));
      cycle.forEach((id) => inReportedCycle.add(id));
      add(
        `businessUnits[${i}].parentId`,
        'BusinessUnitCycle',
        `Business units form a cycle: ${[...cycle, current].join(' → ')}.`,
      );
    }
  });

  const entraIds = new Set<string>();
  directory.users.forEach((user, i) => {
    if (!units.has(user.businessUnitId)) {
      add(
        `users[${i}].businessUnitId`,
        'BusinessUnitNotFound',
        `Business unit '${user.businessUnitId}' does not exist.`,
      );
    }
    if (user.managerId !== null && !userIds.has(user.managerId)) {
      add(
        `users[${i}].managerId`,
        'UserNotFound',
        `Manager '${user.managerId}' is not a user of the directory.`,
      );
    }
    if (user.managerId === user.id)
      add(`users[${i}].managerId`, 'SelfManager', 'A user cannot manage themselves.');
    user.roleIds.forEach((roleId, k) => {
      if (!roleIds.has(roleId))
        add(`users[${i}].roleIds[${k}]`, 'RoleNotFound', `Role '${roleId}' does not exist.`);
    });
    const entraId = user.entraObjectId.toLowerCase();
    if (entraIds.has(entraId)) {
      add(
        `users[${i}].entraObjectId`,
        'DuplicateEntraObjectId',
        `Entra object id '${user.entraObjectId}' maps to two users.`,
      );
    }
    entraIds.add(entraId);
  });
  directory.teams.forEach((team, i) => {
    if (!units.has(team.businessUnitId)) {
      add(
        `teams[${i}].businessUnitId`,
        'BusinessUnitNotFound',
        `Business unit '${team.businessUnitId}' does not exist.`,
      );
    }
    team.memberIds.forEach((memberId, k) => {
      if (!userIds.has(memberId))
        add(
          `teams[${i}].memberIds[${k}]`,
          'UserNotFound',
          `Member '${memberId}' is not a user of the directory.`,
        );
    });
    team.roleIds.forEach((roleId, k) => {
      if (!roleIds.has(roleId))
        add(`teams[${i}].roleIds[${k}]`, 'RoleNotFound', `Role '${roleId}' does not exist.`);
    });
  });
  return violations;
}
