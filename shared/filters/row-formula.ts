import { AppError } from '../errors';
import type { Condition } from '../model/condition';
import type { EntityMetadata } from '../model/entity';
import type { FilterTree } from '../model/filter-tree';
import type { Attributes } from '../model/record';
import type { FilterContext, RowPredicate } from './evaluate-condition';
import { compileStaticCondition, lastXDaysWindow, numericValue } from './evaluate-condition';
import { toComparable } from './evaluate-comparable';

/**
 * A row rule as data: what a profile item, an org filter or a privilege asks of a row, with every
 * value that comes from the syncing user (their id, teams, business units, hierarchy, language) or
 * from the clock (`last-x-days`) bound in. One formula gives three things:
 *
 * - the row predicate ({@link compileFormula}), judged row by row;
 * - the index look-ups that find every row it can accept (shared/sync/membership-probes.ts), so the
 *   sync engine reads what the rule names, not the tenant;
 * - what changed when the user or the day changes: two formulas of the same shape differ only in
 *   bound values, and a row can change verdict only where its attribute holds one of the values
 *   that were added or removed (or lies in the part of a date window that moved).
 *
 * Atoms:
 * - `ids`: the attribute holds a string whose lower-case form is one of `values` (or, `negated`,
 *   is not one of them); anything that is not a string matches neither way, as SQL's NULL;
 * - `numbers`: the attribute, read as a number, equals one of `values`;
 * - `window`: the attribute, read as an instant, lies in [from, to) (epoch milliseconds);
 * - `condition`: a condition that no user value or clock enters, judged with FetchXML semantics
 *   (evaluate-condition.ts);
 * - `const`: every row, or none.
 */
export type RowFormula =
  | { op: 'and' | 'or'; parts: RowFormula[] }
  | { op: 'const'; value: boolean }
  | { op: 'ids'; attribute: string; values: string[]; negated?: true }
  | { op: 'numbers'; attribute: string; values: number[] }
  | { op: 'window'; attribute: string; from: number; to: number }
  | { op: 'condition'; condition: Condition; path: string };

export const EVERY_ROW: RowFormula = { op: 'const', value: true };
export const NO_ROW: RowFormula = { op: 'const', value: false };

/** `attribute` holds one of `ids` (lower-cased and sorted here, so equal sets give equal formulas). */
export function idsFormula(attribute: string, ids: Iterable<string>, negated = false): RowFormula {
  const values = [...new Set([...ids].map((id) => id.toLowerCase()))].sort();
  return negated ? { op: 'ids', attribute, values, negated: true } : { op: 'ids', attribute, values };
}

/** All parts hold; a part that holds for every row is left out, one that holds for none decides. */
export function allOf(parts: readonly RowFormula[]): RowFormula {
  const kept: RowFormula[] = [];
  for (const part of parts) {
    if (part.op === 'const') {
      if (!part.value) return NO_ROW;
      continue;
    }
    kept.push(part);
  }
  if (kept.length === 0) return EVERY_ROW;
  return kept.length === 1 ? kept[0]! : { op: 'and', parts: kept };
}

/** Some part holds; a part that holds for no row is left out, one that holds for every row decides. */
export function anyOf(parts: readonly RowFormula[]): RowFormula {
  const kept: RowFormula[] = [];
  for (const part of parts) {
    if (part.op === 'const') {
      if (part.value) return EVERY_ROW;
      continue;
    }
    kept.push(part);
  }
  if (kept.length === 0) return NO_ROW;
  return kept.length === 1 ? kept[0]! : { op: 'or', parts: kept };
}

/**
 * One condition as a formula: user-context operators bind the user's values (SPEC §4), `last-x-days`
 * the clock's window; every other operator stays a static condition.
 */
export function conditionFormula(condition: Condition, context: FilterContext, path: string): RowFormula {
  const attribute = condition.attribute.toLowerCase();
  const { user } = context;
  switch (condition.operator) {
    case 'eq-userid':
      return idsFormula(attribute, [user.userId]);
    case 'ne-userid':
      return idsFormula(attribute, [user.userId], true);
    case 'eq-userteams':
      return idsFormula(attribute, user.teamIds);
    case 'eq-useroruserteams':
      return idsFormula(attribute, user.ownerIds);
    case 'eq-useroruserhierarchy':
      return idsFormula(attribute, [user.userId, ...user.subordinateIds]);
    case 'eq-useroruserhierarchyandteams':
      return idsFormula(attribute, [
        user.userId,
        ...user.teamIds,
        ...user.subordinateIds,
        ...user.subordinateTeamIds,
      ]);
    case 'eq-businessid':
      return idsFormula(attribute, [user.businessUnitId]);
    case 'ne-businessid':
      return idsFormula(attribute, [user.businessUnitId], true);
    case 'eq-userlanguage':
      return { op: 'numbers', attribute, values: [user.languageId] };
    case 'last-x-days': {
      const days = numericValue(condition, path);
      const { from, to } = lastXDaysWindow(days, context.clock.now());
      return { op: 'window', attribute, from, to };
    }
    default:
      return { op: 'condition', condition, path };
  }
}

/**
 * A filter tree as a formula (FetchXML semantics: an empty group constrains nothing and is left out
 * of its parent; a tree empty throughout holds for every row). Paths name each condition, e.g.
 * `customFilter.filters[0].conditions[1]`, for the errors static conditions report.
 */
export function filterFormula(tree: FilterTree, context: FilterContext, path = 'filter'): RowFormula {
  return groupFormula(tree, context, path) ?? EVERY_ROW;
}

/** A list of conditions that must all hold (an org filter); an empty list holds for every row. */
export function conditionsFormula(
  conditions: readonly Condition[],
  context: FilterContext,
  path = 'orgFilter',
): RowFormula {
  return filterFormula({ type: 'and', conditions: [...conditions], filters: [] }, context, path);
}

/** Undefined for a group with nothing in it, at any depth. */
function groupFormula(tree: FilterTree, context: FilterContext, path: string): RowFormula | undefined {
  const parts = tree.conditions.map((c, i) => conditionFormula(c, context, `${path}.conditions[${i}]`));
  tree.filters.forEach((f, i) => {
    const part = groupFormula(f, context, `${path}.filters[${i}]`);
    if (part !== undefined) parts.push(part);
  });
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  // Not allOf/anyOf: a group's shape stays as written, so errors and diffs follow the admin's tree.
  return { op: tree.type, parts };
}

/**
 * Compiles a formula into a row predicate. Static conditions take their attribute types from the
 * entity's metadata (undefined only for formulas without static conditions, such as privileges).
 *
 * @throws AppError `ProfileInvalid` when a static condition's value does not fit its operator or
 * attribute type.
 */
export function compileFormula(formula: RowFormula, entity: EntityMetadata | undefined): RowPredicate {
  switch (formula.op) {
    case 'const':
      return formula.value ? () => true : () => false;
    case 'ids': {
      const values = new Set(formula.values);
      const wanted = formula.negated !== true;
      const { attribute } = formula;
      return (row) => {
        const v = row[attribute];
        return typeof v === 'string' && values.has(v.toLowerCase()) === wanted;
      };
    }
    case 'numbers': {
      const values = new Set(formula.values);
      const { attribute } = formula;
      return (row) => {
        const v = toComparable('number', row[attribute]);
        return typeof v === 'number' && values.has(v);
      };
    }
    case 'window': {
      const { attribute, from, to } = formula;
      return (row) => {
        const t = toComparable('datetime', row[attribute]);
        return typeof t === 'number' && t >= from && t < to;
      };
    }
    case 'condition':
      if (entity === undefined)
        throw new AppError('Internal', 'A static condition needs its entity metadata.');
      return compileStaticCondition(formula.condition, entity, formula.path);
    case 'and': {
      const parts = formula.parts.map((p) => compileFormula(p, entity));
      return (row: Attributes) => {
        for (const part of parts) if (!part(row)) return false;
        return true;
      };
    }
    case 'or': {
      const parts = formula.parts.map((p) => compileFormula(p, entity));
      return (row: Attributes) => {
        for (const part of parts) if (part(row)) return true;
        return false;
      };
    }
  }
}

/** The attributes of a formula's date windows, sorted and distinct. */
export function windowAttributes(formula: RowFormula): string[] {
  const found = new Set<string>();
  const visit = (f: RowFormula): void => {
    if (f.op === 'window') found.add(f.attribute);
    else if (f.op === 'and' || f.op === 'or') f.parts.forEach(visit);
  };
  visit(formula);
  return [...found].sort();
}

/** What besides the row a formula was bound to: the clock (a window) or the user (ids, numbers). */
export function formulaDependencies(formula: RowFormula): { clock: boolean; user: boolean } {
  const found = { clock: false, user: false };
  const visit = (f: RowFormula): void => {
    if (f.op === 'window') found.clock = true;
    else if (f.op === 'ids' || f.op === 'numbers') found.user = true;
    else if (f.op === 'and' || f.op === 'or') f.parts.forEach(visit);
  };
  visit(formula);
  return found;
}
