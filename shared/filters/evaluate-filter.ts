import { userContextOperators, type Condition } from '../model/condition';
import type { EntityMetadata } from '../model/entity';
import type { FilterTree } from '../model/filter-tree';
import type { FilterContext, RowPredicate } from './evaluate-condition';
import { compileCondition } from './evaluate-condition';

/** The predicate of an empty filter: FetchXML ignores a filter with nothing in it. */
export const matchEveryRow: RowPredicate = () => true;

/**
 * Compiles an `and` / `or` filter tree into one row predicate ({@link compileCondition} has the
 * semantics of each condition). As in FetchXML an empty group constrains nothing: it is left out of
 * its parent, and a tree that is empty throughout matches every row. Errors name the failing
 * condition's path, e.g. `filters[0].conditions[1]`.
 */
export function compileFilter(
  tree: FilterTree,
  entity: EntityMetadata,
  context: FilterContext,
  path = 'filter',
): RowPredicate {
  return compileGroup(tree, entity, context, path) ?? matchEveryRow;
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
  return compileFilter({ type: 'and', conditions: [...conditions], filters: [] }, entity, context, path);
}

/** Undefined for a group with nothing in it (at any depth). */
function compileGroup(
  tree: FilterTree,
  entity: EntityMetadata,
  context: FilterContext,
  path: string,
): RowPredicate | undefined {
  const parts: RowPredicate[] = [
    ...tree.conditions.map((c, i) => compileCondition(c, entity, context, `${path}.conditions[${i}]`)),
  ];
  tree.filters.forEach((f, i) => {
    const part = compileGroup(f, entity, context, `${path}.filters[${i}]`);
    if (part !== undefined) parts.push(part);
  });
  const [first, second] = parts;
  if (first === undefined) return undefined;
  if (second === undefined) return first;
  if (tree.type === 'and') {
    return (row) => {
      for (const part of parts) if (!part(row)) return false;
      return true;
    };
  }
  return (row) => {
    for (const part of parts) if (part(row)) return true;
    return false;
  };
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
