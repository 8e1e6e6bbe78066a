import { userContextOperators, type Condition } from '../model/condition';
import type { EntityMetadata } from '../model/entity';
import type { FilterTree } from '../model/filter-tree';
import type { FilterContext, RowPredicate } from './evaluate-condition';
import { compileFormula, conditionFormula, conditionsFormula, filterFormula } from './row-formula';

/** The predicate of an empty filter: FetchXML ignores a filter with nothing in it. */
export const matchEveryRow: RowPredicate = () => true;

/**
 * Compiles one condition into a row predicate for the syncing user at the clock's current instant
 * (the semantics of every operator are documented at `compileStaticCondition`). The clock is read
 * once, when the condition is compiled, so every row of one sync request is judged against the same
 * day: compile filters per request, not once for good.
 *
 * @throws AppError `ProfileInvalid` (with `path`) when the value does not fit the operator or type.
 */
export function compileCondition(
  condition: Condition,
  entity: EntityMetadata,
  context: FilterContext,
  path = 'condition',
): RowPredicate {
  return compileFormula(conditionFormula(condition, context, path), entity);
}

/**
 * Compiles an `and` / `or` filter tree into one row predicate. As in FetchXML an empty group
 * constrains nothing: it is left out of its parent, and a tree that is empty throughout matches
 * every row. Errors name the failing condition's path, e.g. `filters[0].conditions[1]`.
 */
export function compileFilter(
  tree: FilterTree,
  entity: EntityMetadata,
  context: FilterContext,
  path = 'filter',
): RowPredicate {
  return compileFormula(filterFormula(tree, context, path), entity);
}

/**
 * Compiles a flat list of conditions that must all hold, such as an entity's organization data
 * download filter (SPEC §3); an empty list matches every row.
 */
export function compileConditions(
  conditions: readonly Condition[],
  entity: EntityMetadata,
  context: FilterContext,
  path = 'orgFilter',
): RowPredicate {
  return compileFormula(conditionsFormula(conditions, context, path), entity);
}

/**
 * What besides the row a filter's result depends on, so incremental sync knows when rows can enter or
 * leave a device's set without changing: `clock` when it uses `last-x-days` (rows age out of the
 * window), `user` when it uses a user-context operator (directory changes move rows).
 */
export function filterDependencies(filter: FilterTree | readonly Condition[]): {
  clock: boolean;
  user: boolean;
} {
  const found = { clock: false, user: false };
  const visit = (conditions: readonly Condition[], groups: readonly FilterTree[]): void => {
    for (const c of conditions) {
      if (c.operator === 'last-x-days') found.clock = true;
      if (userContextOperators.has(c.operator)) found.user = true;
    }
    for (const g of groups) visit(g.conditions, g.filters);
  };
  if (isConditionList(filter)) visit(filter, []);
  else visit(filter.conditions, filter.filters);
  return found;
}

function isConditionList(filter: FilterTree | readonly Condition[]): filter is readonly Condition[] {
  return Array.isArray(filter);
}
