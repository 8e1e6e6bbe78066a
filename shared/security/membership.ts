import type { Condition } from '../model/condition';
import type { EntityMetadata } from '../model/entity';
import type { ProfileItem } from '../model/profile';
import type { Attributes } from '../model/record';
import { OWNER_ATTRIBUTE, OWNING_BUSINESS_UNIT_ATTRIBUTE } from '../model/record';
import type { FilterContext, RowPredicate } from '../filters/evaluate-condition';
import { compileConditions, compileFilter } from '../filters/evaluate-filter';
import { compileRowAccess } from './privileges';

/**
 * The download rule of one profile item (SPEC §4), as far as membership needs it: `all` rows,
 * `related` rows only (nothing of its own: rows come through associations), or `other`: the rows that
 * meet ANY of the selected options mine / team / business unit / custom filter. A
 * {@link ProfileItem} is one.
 */
export type ItemSelection = Pick<ProfileItem, 'rule'> &
  Partial<Pick<ProfileItem, 'mine' | 'team' | 'businessUnit' | 'customFilter'>>;

/** The compiled parts of a row's membership in a device's set for one entity. */
export interface CompiledMembership {
  /** The item's own rule. */
  readonly ownRule: RowPredicate;
  /** The entity's organization data download filter. */
  readonly orgFilter: RowPredicate;
  /** The user's Read privilege at its access level. */
  readonly canRead: RowPredicate;
}

/**
 * Compiles an item's own rule. Mine = `ownerid` is the user; team = `ownerid` is one of the user's
 * teams; business unit = `owningbusinessunit` is the user's business unit; an `other` rule with no
 * option selected selects nothing (publish refuses it).
 */
export function compileItemRule(
  item: ItemSelection,
  entity: EntityMetadata,
  context: FilterContext,
): RowPredicate {
  if (item.rule === 'all') return () => true;
  if (item.rule === 'related') return () => false;
  const { user } = context;
  const options: RowPredicate[] = [];
  const self = new Set([user.userId]);
  const ownBusinessUnit = new Set([user.businessUnitId]);
  if (item.mine === true) options.push((row) => idIn(row[OWNER_ATTRIBUTE], self));
  if (item.team === true) options.push((row) => idIn(row[OWNER_ATTRIBUTE], user.teamIds));
  if (item.businessUnit === true) {
    options.push((row) => idIn(row[OWNING_BUSINESS_UNIT_ATTRIBUTE], ownBusinessUnit));
  }
  if (item.customFilter !== undefined) {
    options.push(compileFilter(item.customFilter, entity, context, 'customFilter'));
  }
  return (row) => {
    for (const option of options) if (option(row)) return true;
    return false;
  };
}

/** Compiles everything but the associations that decides whether a row of `entity` goes to the device. */
export function compileMembership(
  item: ItemSelection,
  orgFilter: readonly Condition[],
  entity: EntityMetadata,
  context: FilterContext,
): CompiledMembership {
  return {
    ownRule: compileItemRule(item, entity, context),
    orgFilter: compileConditions(orgFilter, entity, context),
    canRead: compileRowAccess(context.user, entity, 'read'),
  };
}

/**
 * A row belongs on the device when (the item's rule selects it OR it is reached through one of the
 * profile's associations) AND it meets the org filter AND the user may read it (SPEC §4, §5). Whether
 * it is reached through an association is the caller's to work out from the related rows.
 */
export function rowQualifiesDirectly(
  membership: CompiledMembership,
  attributes: Attributes,
  reachedThroughAssociation: boolean,
): boolean {
  return (
    (reachedThroughAssociation || membership.ownRule(attributes)) &&
    membership.orgFilter(attributes) &&
    membership.canRead(attributes)
  );
}

function idIn(value: unknown, ids: ReadonlySet<string>): boolean {
  return typeof value === 'string' && ids.has(value.toLowerCase());
}
