import type { Condition } from '../model/condition';
import type { EntityMetadata } from '../model/entity';
import type { ProfileItem } from '../model/profile';
import type { Attributes } from '../model/record';
import { OWNER_ATTRIBUTE, OWNING_BUSINESS_UNIT_ATTRIBUTE } from '../model/record';
import type { FilterContext, RowPredicate } from '../filters/evaluate-condition';
import {
  anyOf,
  compileFormula,
  conditionsFormula,
  EVERY_ROW,
  filterFormula,
  idsFormula,
  NO_ROW,
  type RowFormula,
} from '../filters/row-formula';
import { rowAccessFormula } from './privileges';

/**
 * The download rule of one profile item (SPEC §4), as far as membership needs it: `all` rows,
 * `related` rows only (nothing of its own: rows come through associations), or `other`: the rows that
 * meet ANY of the selected options mine / team / business unit / custom filter. A
 * {@link ProfileItem} is one.
 */
export type ItemSelection = Pick<ProfileItem, 'rule'> &
  Partial<Pick<ProfileItem, 'mine' | 'team' | 'businessUnit' | 'customFilter'>>;

/**
 * The three parts of a row's membership in a device's set for one entity, as formulas bound to the
 * syncing user and the day (row-formula.ts): a row is a member when (own OR reached through an
 * association) AND org AND read.
 */
export interface MembershipFormulas {
  /** The item's own rule. */
  readonly own: RowFormula;
  /** The entity's organization data download filter. */
  readonly org: RowFormula;
  /** The user's Read privilege at its access level. */
  readonly read: RowFormula;
}

/** The compiled parts of a row's membership in a device's set for one entity. */
export interface CompiledMembership {
  readonly formulas: MembershipFormulas;
  /** The item's own rule. */
  readonly ownRule: RowPredicate;
  /** The entity's organization data download filter. */
  readonly orgFilter: RowPredicate;
  /** The user's Read privilege at its access level. */
  readonly canRead: RowPredicate;
}

/**
 * An item's own rule as a formula. Mine = `ownerid` is the user; team = `ownerid` is one of the
 * user's teams; business unit = `owningbusinessunit` is the user's business unit; an `other` rule with
 * no option selected selects nothing (publish refuses it).
 */
export function itemRuleFormula(item: ItemSelection, context: FilterContext): RowFormula {
  if (item.rule === 'all') return EVERY_ROW;
  if (item.rule === 'related') return NO_ROW;
  const { user } = context;
  const options: RowFormula[] = [];
  if (item.mine === true) options.push(idsFormula(OWNER_ATTRIBUTE, [user.userId]));
  if (item.team === true) options.push(idsFormula(OWNER_ATTRIBUTE, user.teamIds));
  if (item.businessUnit === true)
    options.push(idsFormula(OWNING_BUSINESS_UNIT_ATTRIBUTE, [user.businessUnitId]));
  if (item.customFilter !== undefined)
    options.push(filterFormula(item.customFilter, context, 'customFilter'));
  return anyOf(options);
}

/** Compiles an item's own rule into a row predicate. */
export function compileItemRule(
  item: ItemSelection,
  entity: EntityMetadata,
  context: FilterContext,
): RowPredicate {
  return compileFormula(itemRuleFormula(item, context), entity);
}

/** The formulas of everything but the associations that decides whether a row of `entity` goes to the device. */
export function membershipFormulas(
  item: ItemSelection,
  orgFilter: readonly Condition[],
  entity: EntityMetadata,
  context: FilterContext,
): MembershipFormulas {
  return {
    own: itemRuleFormula(item, context),
    org: conditionsFormula(orgFilter, context),
    read: rowAccessFormula(context.user, entity, 'read'),
  };
}

/** Compiles everything but the associations that decides whether a row of `entity` goes to the device. */
export function compileMembership(
  item: ItemSelection,
  orgFilter: readonly Condition[],
  entity: EntityMetadata,
  context: FilterContext,
): CompiledMembership {
  const formulas = membershipFormulas(item, orgFilter, entity, context);
  return {
    formulas,
    ownRule: compileFormula(formulas.own, entity),
    orgFilter: compileFormula(formulas.org, entity),
    canRead: compileFormula(formulas.read, entity),
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
