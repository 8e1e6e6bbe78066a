import type { AccessLevel, Privilege } from '../model/directory';

/** Access levels from narrowest to widest; the index is the level's rank. */
const accessLevelRank: Readonly<Record<AccessLevel, number>> = {
  none: 0,
  user: 1,
  businessUnit: 2,
  parentChild: 3,
  organization: 4,
};

/** True when `a` reaches at least as far as `b`. */
export function isAtLeast(a: AccessLevel, b: AccessLevel): boolean {
  return accessLevelRank[a] >= accessLevelRank[b];
}

/** The wider of two access levels. */
export function widerLevel(a: AccessLevel, b: AccessLevel): AccessLevel {
  return isAtLeast(a, b) ? a : b;
}

/**
 * What one privilege on one entity lets a user reach, flattened from every role that grants it (the
 * user's own roles and their teams' roles) so that a row is checked with at most two set look-ups.
 */
export interface AccessScope {
  /** The widest level any role grants; `none` when no role grants the privilege. */
  readonly level: AccessLevel;
  /** Some role grants organization level: every row. */
  readonly organization: boolean;
  /**
   * Some role grants user level or wider: rows owned by the user or one of the user's teams. Access
   * levels nest, so business-unit and wider grants include the user's own rows even when the row's
   * owning business unit is another one (record ownership across business units).
   */
  readonly ownRows: boolean;
  /** Business units whose rows are reachable (business-unit and parent-child grants), lower-cased. */
  readonly businessUnitIds: ReadonlySet<string>;
}

/** The scope of a privilege no role grants. */
export const NO_ACCESS: AccessScope = {
  level: 'none',
  organization: false,
  ownRows: false,
  businessUnitIds: new Set<string>(),
};

/** Effective privileges: entity logical name → privilege → scope. Missing means {@link NO_ACCESS}. */
export type EffectivePrivileges = ReadonlyMap<string, ReadonlyMap<Privilege, AccessScope>>;
