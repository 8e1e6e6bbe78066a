import { OFFLINE_PROFILE_ENTITY } from '../model/directory';
import type { Privilege } from '../model/directory';
import type { Ownership } from '../model/entity';
import type { Attributes } from '../model/record';
import { OWNER_ATTRIBUTE, OWNING_BUSINESS_UNIT_ATTRIBUTE } from '../model/record';
import {
  compileFormula,
  EVERY_ROW,
  idsFormula,
  NO_ROW,
  anyOf,
  type RowFormula,
} from '../filters/row-formula';
import type { AccessScope } from './access-scope';
import { NO_ACCESS } from './access-scope';
import type { UserContext } from './user-context';

/** What privilege checks need of an entity: its name and who owns its rows. */
export interface SecuredEntity {
  logicalName: string;
  ownership: Ownership;
}

/** A check of one row's attributes. */
export type RowCheck = (attributes: Attributes) => boolean;

/** The scope the user's roles give `privilege` on `entityName` ({@link NO_ACCESS} when none does). */
export function accessScope(ctx: UserContext, entityName: string, privilege: Privilege): AccessScope {
  return ctx.privileges.get(entityName.toLowerCase())?.get(privilege) ?? NO_ACCESS;
}

/** True when some role grants `privilege` on the entity at any level above none. */
export function hasPrivilege(
  ctx: UserContext,
  entity: Pick<SecuredEntity, 'logicalName'>,
  privilege: Privilege,
): boolean {
  return accessScope(ctx, entity.logicalName, privilege).level !== 'none';
}

/** A user may sync at all only with Read on offline profiles (SPEC §4, Users). */
export function canSyncAtAll(ctx: UserContext): boolean {
  return hasPrivilege(ctx, { logicalName: OFFLINE_PROFILE_ENTITY }, 'read');
}

/**
 * Which rows of `entity` the user's `privilege` reaches, as a formula (row-formula.ts):
 *
 * - organization: every row;
 * - parent-child business units: rows whose `owningbusinessunit` is in the subtree of the granting
 *   role's business unit (the user's, or the team's for a team role);
 * - business unit: rows whose `owningbusinessunit` is that business unit;
 * - user: rows whose `ownerid` is the user or one of the user's teams (we keep no sharing table, so
 *   "shared with the user or their teams" reduces to ownership);
 * - none: no row.
 *
 * Levels nest: a wider grant includes the user's own rows. Rows of organization-owned and unowned
 * (`none`) entities carry no owner, so any level above none reaches all of them (Dataverse only
 * offers None and Organization there). `owneridtype` is not consulted: user and team ids are unique
 * across both tables.
 */
export function rowAccessFormula(ctx: UserContext, entity: SecuredEntity, privilege: Privilege): RowFormula {
  const scope = accessScope(ctx, entity.logicalName, privilege);
  if (scope.level === 'none') return NO_ROW;
  if (scope.organization || entity.ownership === 'organization' || entity.ownership === 'none')
    return EVERY_ROW;
  return anyOf([
    idsFormula(OWNER_ATTRIBUTE, scope.ownRows ? ctx.ownerIds : []),
    idsFormula(OWNING_BUSINESS_UNIT_ATTRIBUTE, scope.businessUnitIds),
  ]);
}

/** Compiles the check of `privilege` on rows of `entity` for this user, to run per row ({@link rowAccessFormula}). */
export function compileRowAccess(ctx: UserContext, entity: SecuredEntity, privilege: Privilege): RowCheck {
  return compileFormula(rowAccessFormula(ctx, entity, privilege), undefined);
}

/** One-off form of {@link compileRowAccess}; compile once when checking many rows. */
export function canAccessRow(
  ctx: UserContext,
  entity: SecuredEntity,
  privilege: Privilege,
  attributes: Attributes,
): boolean {
  return compileRowAccess(ctx, entity, privilege)(attributes);
}

/**
 * May the user create this row? Checked against the row as it will be stored: the caller fills in
 * the owner and owning business unit it defaults (the user and their business unit) first.
 */
export function canCreate(ctx: UserContext, entity: SecuredEntity, newRow: Attributes): boolean {
  return canAccessRow(ctx, entity, 'create', newRow);
}

/**
 * May the user update this row? Checked against the stored row and, when given, the row as it would
 * be after the update too, so that a change cannot move a row to an owner or business unit outside
 * the user's write scope.
 */
export function canWrite(
  ctx: UserContext,
  entity: SecuredEntity,
  storedRow: Attributes,
  updatedRow?: Attributes,
): boolean {
  const check = compileRowAccess(ctx, entity, 'write');
  return check(storedRow) && (updatedRow === undefined || check(updatedRow));
}

/** May the user delete this (stored) row? */
export function canDelete(ctx: UserContext, entity: SecuredEntity, storedRow: Attributes): boolean {
  return canAccessRow(ctx, entity, 'delete', storedRow);
}
