import type { Clock } from '../clock';
import { AppError } from '../errors';
import type { Condition } from '../model/condition';
import type { AttributeType, EntityMetadata } from '../model/entity';
import type { Attributes } from '../model/record';
import type { UserContext } from '../security/user-context';
import type { Comparable, ValueKind } from './evaluate-comparable';
import { toComparable, toText, valueKindOf } from './evaluate-comparable';
import { compileLikePattern } from './evaluate-like-pattern';

/** A compiled filter: does this row (its attributes) match? */
export type RowPredicate = (attributes: Attributes) => boolean;

/**
 * What a filter is evaluated for: the syncing user (for the user-context operators) and the clock
 * (for `last-x-days`). The clock is read once, when the filter is compiled, so every row of one sync
 * request is judged against the same instant: compile filters per request, not once for good.
 */
export interface FilterContext {
  user: UserContext;
  clock: Clock;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The whole number of days of a `last-x-days` condition.
 *
 * @throws AppError `ProfileInvalid` (with `path`) when it is not a whole number ≥ 0.
 */
export function numericValue(condition: Condition, path: string): number {
  const days = toComparable('number', Array.isArray(condition.value) ? undefined : condition.value);
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 0) {
    const message = 'needs a whole number of days ≥ 0';
    throw new AppError('ProfileInvalid', `${condition.attribute} ${condition.operator}: ${message}`, {
      details: [{ path, message }],
    });
  }
  return days;
}

/**
 * The instants `last-x-days N` covers at `now`: [midnight UTC N days before today, midnight UTC
 * after today), in epoch milliseconds.
 */
export function lastXDaysWindow(days: number, now: Date): { from: number; to: number } {
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return { from: today - days * DAY_MS, to: today + DAY_MS };
}

/**
 * Compiles one condition that no user value or clock enters against an entity's metadata into a row
 * predicate (FetchXML semantics, reference/dataverse.md §5). `compileCondition` (evaluate-filter.ts)
 * compiles any condition: user-context operators and `last-x-days` are bound to their values first
 * (row-formula.ts `conditionFormula`). The rules, shared by every operator:
 *
 * - An attribute missing from a row is null. Null matches only `null`; every other operator, the
 *   negative ones included (`ne`, `not-like`, `not-in`, `not-begin-with`, `not-end-with`,
 *   `ne-userid`, `ne-businessid`), does not match a null column — SQL's three-valued logic, which is
 *   what Dataverse runs.
 * - Strings and ids (GUIDs) compare case-insensitively; numbers numerically; date-times as instants
 *   (ISO strings without an offset are UTC); `gt`/`ge`/`lt`/`le` order text by its lower-cased code
 *   points.
 * - `like`, `begins-with`, `ends-with` and their negations take SQL wildcards (see
 *   {@link compileLikePattern}); `begins-with x` is `like x%`, `ends-with x` is `like %x`.
 * - `in` / `not-in` take a list (a single value counts as a list of one).
 * - User-context operators need no value (one given is ignored): `eq-userid` / `ne-userid` compare
 *   with the user, `eq-userteams` with their teams, `eq-useroruserteams` with both,
 *   `eq-useroruserhierarchy` with the user and the users below them in the manager hierarchy,
 *   `eq-useroruserhierarchyandteams` adds the teams of the user and of those users,
 *   `eq-businessid` / `ne-businessid` the user's business unit (the value Dataverse documents but
 *   nobody passes is ignored), `eq-userlanguage` the user's language. The hierarchy operators always
 *   use the manager hierarchy (what Dataverse does with hierarchy security off is unconfirmed).
 * - `last-x-days N`: from midnight UTC N days before today to the end of today (UTC), whole days
 *   (Dataverse's exact boundaries and time zone are unconfirmed; UTC keeps a device's rows
 *   independent of where it is). Whole days make membership depend on the day only: a set stays
 *   right all day, and when the day changes only rows dated on the two boundary days move (the sync
 *   engine looks those up by range). Rows dated on a later day do not match.
 *
 * @throws AppError `ProfileInvalid` when the condition's value does not fit its operator or attribute
 * type (admin-time validation should have refused it already).
 */
export function compileStaticCondition(
  condition: Condition,
  entity: EntityMetadata,
  path = 'condition',
): RowPredicate {
  const name = condition.attribute.toLowerCase();
  const type: AttributeType | undefined = entity.attributes.find((a) => a.name.toLowerCase() === name)?.type;
  const value = condition.value;
  const fail = (message: string): never => {
    throw new AppError('ProfileInvalid', `${entity.logicalName}.${name} ${condition.operator}: ${message}`, {
      details: [{ path, message }],
    });
  };
  const scalar = (): string | number | boolean => {
    if (value === undefined || Array.isArray(value)) return fail('needs a single value');
    return value;
  };
  const kind = valueKindOf(type, Array.isArray(value) ? value[0] : value);
  const target = (raw: unknown, k: ValueKind = kind): Comparable => {
    const c = toComparable(k, raw);
    return c === undefined ? fail(`${JSON.stringify(raw)} is not a valid ${k} value`) : c;
  };
  switch (condition.operator) {
    case 'null':
      return (row) => row[name] === null || row[name] === undefined;
    case 'not-null':
      return (row) => row[name] !== null && row[name] !== undefined;

    case 'eq':
    case 'ne':
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le':
      return compareWith(name, kind, condition.operator, target(scalar()));

    case 'in':
    case 'not-in': {
      const list =
        value === undefined ? fail('needs a list of values') : Array.isArray(value) ? value : [value];
      const members = new Set(list.map((v) => target(v)));
      const wanted = condition.operator === 'in';
      return (row) => {
        const v = toComparable(kind, row[name]);
        return v !== undefined && members.has(v) === wanted;
      };
    }

    case 'like':
    case 'not-like':
      return matchPattern(name, String(scalar()), condition.operator === 'like');
    case 'begins-with':
    case 'not-begin-with':
      return matchPattern(name, `${String(scalar())}%`, condition.operator === 'begins-with');
    case 'ends-with':
    case 'not-end-with':
      return matchPattern(name, `%${String(scalar())}`, condition.operator === 'ends-with');

    case 'eq-userid':
    case 'ne-userid':
    case 'eq-userteams':
    case 'eq-useroruserteams':
    case 'eq-useroruserhierarchy':
    case 'eq-useroruserhierarchyandteams':
    case 'eq-businessid':
    case 'ne-businessid':
    case 'eq-userlanguage':
    case 'last-x-days':
      // Bound to the user or the clock by conditionFormula (row-formula.ts), never compiled here.
      throw new AppError(
        'Internal',
        `${condition.operator} is bound by conditionFormula, not compiled as static.`,
      );
  }
}

function compareWith(
  name: string,
  kind: ValueKind,
  operator: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le',
  target: Comparable,
): RowPredicate {
  const read = (row: Attributes) => toComparable(kind, row[name]);
  switch (operator) {
    case 'eq':
      return (row) => read(row) === target;
    case 'ne':
      return (row) => {
        const v = read(row);
        return v !== undefined && v !== target;
      };
    case 'gt':
      return (row) => {
        const v = read(row);
        return v !== undefined && v > target;
      };
    case 'ge':
      return (row) => {
        const v = read(row);
        return v !== undefined && v >= target;
      };
    case 'lt':
      return (row) => {
        const v = read(row);
        return v !== undefined && v < target;
      };
    case 'le':
      return (row) => {
        const v = read(row);
        return v !== undefined && v <= target;
      };
  }
}

function matchPattern(name: string, pattern: string, wanted: boolean): RowPredicate {
  const regex = compileLikePattern(pattern);
  return (row) => {
    const text = toText(row[name]);
    return text !== undefined && regex.test(text) === wanted;
  };
}
