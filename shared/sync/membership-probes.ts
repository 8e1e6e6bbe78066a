import { valueKindOf } from '../filters/evaluate-comparable';
import type { RowFormula } from '../filters/row-formula';
import type { Condition } from '../model/condition';
import type { EntityMetadata } from '../model/entity';
import { OWNER_ATTRIBUTE, OWNING_BUSINESS_UNIT_ATTRIBUTE } from '../model/record';
import type { LookupSpec, RecordProbe } from '../store/port';
import { businessUnitKey, numberKey, ownerKey, textKey, timeKey } from '../store/record-keys';

/**
 * How the rows a membership formula can accept are found in the store (DESIGN "Data flow" 2): each
 * formula has one or more *covers*, unions of index look-ups ({@link RecordProbe}) that together
 * return every row the formula can accept (and maybe others, judged away in code). An `and` is
 * covered by any one of its parts' covers, an `or` by one cover of each part together; an atom the
 * store cannot look up (a negation, a pattern, a comparison on text) covers nothing, and a formula
 * with no cover is read whole — the only time an entity is read whole.
 *
 * Also here: the ownership keys that cover a formula (which changes an incremental sync must read,
 * see port.ts `ChangeScope`) and what differs between two bindings of one formula (the rows whose
 * verdict a directory edit or the day changing can flip).
 */

/** A union of look-ups; `all` when nothing narrower covers the formula. */
export type ProbeCover = readonly RecordProbe[] | 'all';

/** Covers per formula are combined up to this many; beyond it an `or` keeps only its first choices. */
const MAX_COVERS = 16;

/** Every cover of a formula, the narrowest kinds first; `['all']` when it has none. */
export function formulaCovers(formula: RowFormula, entity: EntityMetadata): ProbeCover[] {
  const covers = coversOf(formula, entity);
  return covers.length === 0 ? ['all'] : covers;
}

function coversOf(formula: RowFormula, entity: EntityMetadata): RecordProbe[][] {
  switch (formula.op) {
    case 'const':
      // No row: the empty union covers it. Every row: no cover narrower than the entity.
      return formula.value ? [] : [[]];
    case 'ids':
      return formula.negated === true
        ? []
        : [[{ kind: 'text', attribute: formula.attribute, values: formula.values }]];
    case 'numbers':
      return [[{ kind: 'number', attribute: formula.attribute, values: formula.values }]];
    case 'window':
      return [[{ kind: 'time', attribute: formula.attribute, from: formula.from, to: formula.to }]];
    case 'condition': {
      const probe = conditionProbe(formula.condition, entity);
      return probe === undefined ? [] : [[probe]];
    }
    case 'and':
      return formula.parts.flatMap((part) => coversOf(part, entity)).slice(0, MAX_COVERS);
    case 'or': {
      let combined: RecordProbe[][] = [[]];
      for (const part of formula.parts) {
        const options = coversOf(part, entity);
        if (options.length === 0) return [];
        const next: RecordProbe[][] = [];
        for (const left of combined) for (const right of options) next.push([...left, ...right]);
        combined = next.slice(0, MAX_COVERS);
      }
      return combined;
    }
  }
}

/** The look-up that finds every row a static condition accepts, when the store has one. */
function conditionProbe(condition: Condition, entity: EntityMetadata): RecordProbe | undefined {
  const attribute = condition.attribute.toLowerCase();
  const type = entity.attributes.find((a) => a.name.toLowerCase() === attribute)?.type;
  const value = condition.value;
  const kind = valueKindOf(type, Array.isArray(value) ? value[0] : value);
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (condition.operator === 'eq' || condition.operator === 'in') {
    if (kind === 'text' || kind === 'id') {
      return { kind: 'text', attribute, values: list.flatMap((v) => textKey(v) ?? []) };
    }
    if (kind === 'number')
      return { kind: 'number', attribute, values: list.flatMap((v) => numberKey(v) ?? []) };
    if (kind === 'datetime' && condition.operator === 'eq') {
      const t = timeKey(value);
      return t === undefined ? undefined : { kind: 'time', attribute, from: t, to: t + 1 };
    }
    return undefined;
  }
  if (kind !== 'datetime' || Array.isArray(value)) return undefined;
  const t = timeKey(value);
  if (t === undefined) return undefined;
  switch (condition.operator) {
    case 'gt':
      return { kind: 'time', attribute, from: t + 1, to: null };
    case 'ge':
      return { kind: 'time', attribute, from: t, to: null };
    case 'lt':
      return { kind: 'time', attribute, from: null, to: t };
    case 'le':
      return { kind: 'time', attribute, from: null, to: t + 1 };
    default:
      return undefined;
  }
}

/** Text probes of one attribute (and one `within` range, or none) merged into one (fewer queries). */
export function mergeProbes(probes: readonly RecordProbe[]): RecordProbe[] {
  const text = new Map<string, { probe: Extract<RecordProbe, { kind: 'text' }>; values: Set<string> }>();
  const other = new Map<string, RecordProbe>();
  for (const probe of probes) {
    if (probe.kind !== 'text') {
      // The same range from two formulas (the item's rule and the org filter) is looked up once.
      other.set(JSON.stringify(probe), probe);
      continue;
    }
    const key = JSON.stringify([probe.attribute, probe.within ?? null]);
    let group = text.get(key);
    if (group === undefined) {
      group = { probe, values: new Set() };
      text.set(key, group);
    }
    for (const v of probe.values) group.values.add(v);
  }
  return [
    ...[...text.values()].map(({ probe, values }): RecordProbe => ({ ...probe, values: [...values] })),
    ...other.values(),
  ];
}

/** The look-up specs a cover's probes need (store `prepareLookups`). */
export function lookupSpecsOf(probes: readonly RecordProbe[]): LookupSpec[] {
  const specs = new Map<string, LookupSpec>();
  for (const probe of probes) {
    if (probe.kind === 'all') continue;
    const within = probe.kind === 'text' ? probe.within?.attribute : undefined;
    specs.set(`${probe.kind}\u0000${probe.attribute ?? ''}\u0000${within ?? ''}`, {
      attribute: probe.attribute,
      kind: probe.kind,
      ...(within === undefined ? {} : { within }),
    });
  }
  return [...specs.values()];
}

/**
 * The ownership keys (`o:<owner>`, `b:<business unit>`) that cover a formula: every row it accepts
 * is owned by or within one of them, so only changes carrying one of them (before or after) can move
 * a row in or out. Undefined when ownership alone does not cover it. Of several covers, the one with
 * the fewest keys.
 */
export function ownershipCover(formula: RowFormula): string[] | undefined {
  const covers = ownershipCoversOf(formula);
  let best: string[] | undefined;
  for (const cover of covers) if (best === undefined || cover.length < best.length) best = cover;
  return best === undefined ? undefined : [...new Set(best)].sort();
}

function ownershipCoversOf(formula: RowFormula): string[][] {
  switch (formula.op) {
    case 'const':
      return formula.value ? [] : [[]];
    case 'ids': {
      if (formula.negated === true) return [];
      if (formula.attribute === OWNER_ATTRIBUTE) return [formula.values.map(ownerKey)];
      if (formula.attribute === OWNING_BUSINESS_UNIT_ATTRIBUTE) return [formula.values.map(businessUnitKey)];
      return [];
    }
    case 'condition': {
      const { condition } = formula;
      const attribute = condition.attribute.toLowerCase();
      if (condition.operator !== 'eq' && condition.operator !== 'in') return [];
      const list =
        condition.value === undefined
          ? []
          : Array.isArray(condition.value)
            ? condition.value
            : [condition.value];
      const keys = list.flatMap((v) => (typeof v === 'string' ? [v] : []));
      if (keys.length !== list.length) return [];
      if (attribute === OWNER_ATTRIBUTE) return [keys.map(ownerKey)];
      if (attribute === OWNING_BUSINESS_UNIT_ATTRIBUTE) return [keys.map(businessUnitKey)];
      return [];
    }
    case 'numbers':
    case 'window':
      return [];
    case 'and':
      return formula.parts.flatMap(ownershipCoversOf).slice(0, MAX_COVERS);
    case 'or': {
      let combined: string[][] = [[]];
      for (const part of formula.parts) {
        const options = ownershipCoversOf(part);
        if (options.length === 0) return [];
        const next: string[][] = [];
        for (const left of combined) for (const right of options) next.push([...left, ...right]);
        combined = next.slice(0, MAX_COVERS);
      }
      return combined;
    }
  }
}

/**
 * What differs between two bindings of a formula (the same rule bound to a user's old and new
 * directory entry, or to yesterday and today):
 * - `structural`: the shapes differ (another rule, a static condition changed, a level of access
 *   that reaches every row or none came or went): the entity is judged again from its rows;
 * - otherwise `probes`: look-ups of exactly the rows whose verdict can have flipped — those whose
 *   attribute holds a value added to or removed from an id or number list, or whose date lies in the
 *   part of a window that moved. Empty when the bindings are equal.
 *
 * A formula is monotone in each of its bound parts (only `and` and `or` combine them, and only an id
 * list can be negated), so each probe also says which way its rows can flip: `entering` rows can
 * only become members (a value added, the part a window gained), `leaving` rows only stop being
 * members (a value removed, the part a window lost). Rows that can only leave are held ones, rows
 * that can only enter are not: each side is looked up where it is fewest.
 */
export type FormulaDelta =
  | { structural: true }
  | { structural: false; probes: RecordProbe[]; entering: RecordProbe[]; leaving: RecordProbe[] };

export function formulaDelta(before: RowFormula, after: RowFormula): FormulaDelta {
  const sides = { entering: [] as RecordProbe[], leaving: [] as RecordProbe[] };
  const structural = !collectDelta(before, after, sides);
  return structural
    ? { structural: true }
    : { structural: false, probes: [...sides.entering, ...sides.leaving], ...sides };
}

/** False when the two formulas differ in shape. */
function collectDelta(
  a: RowFormula,
  b: RowFormula,
  sides: { entering: RecordProbe[]; leaving: RecordProbe[] },
): boolean {
  switch (a.op) {
    case 'const':
      return b.op === 'const' && a.value === b.value;
    case 'condition':
      return b.op === 'condition' && JSON.stringify(a.condition) === JSON.stringify(b.condition);
    case 'ids': {
      if (b.op !== 'ids' || a.attribute !== b.attribute || (a.negated === true) !== (b.negated === true))
        return false;
      const { entering, leaving } = listDelta(a.values, b.values, a.negated === true);
      if (entering.length > 0)
        sides.entering.push({ kind: 'text', attribute: a.attribute, values: entering });
      if (leaving.length > 0) sides.leaving.push({ kind: 'text', attribute: a.attribute, values: leaving });
      return true;
    }
    case 'numbers': {
      if (b.op !== 'numbers' || a.attribute !== b.attribute) return false;
      const { entering, leaving } = listDelta(a.values, b.values, false);
      if (entering.length > 0)
        sides.entering.push({ kind: 'number', attribute: a.attribute, values: entering });
      if (leaving.length > 0) sides.leaving.push({ kind: 'number', attribute: a.attribute, values: leaving });
      return true;
    }
    case 'window': {
      if (b.op !== 'window' || a.attribute !== b.attribute) return false;
      // The lower bound rising loses [a.from, b.from); the upper bound rising gains [a.to, b.to).
      const moved = (x: number, y: number, rising: RecordProbe[], falling: RecordProbe[]): void => {
        if (x === y) return;
        const probe: RecordProbe = {
          kind: 'time',
          attribute: a.attribute,
          from: Math.min(x, y),
          to: Math.max(x, y),
        };
        (y > x ? rising : falling).push(probe);
      };
      moved(a.from, b.from, sides.leaving, sides.entering);
      moved(a.to, b.to, sides.entering, sides.leaving);
      return true;
    }
    case 'and':
    case 'or': {
      if (b.op !== a.op || b.parts.length !== a.parts.length) return false;
      return a.parts.every((part, i) => collectDelta(part, b.parts[i]!, sides));
    }
  }
}

/**
 * The values a list gained (its rows can only enter) and lost (they can only leave); a negated list
 * the other way round: a value added to it makes its rows fail the part.
 */
function listDelta<T>(
  before: readonly T[],
  after: readonly T[],
  negated: boolean,
): { entering: T[]; leaving: T[] } {
  const added = difference(after, before);
  const removed = difference(before, after);
  return negated ? { entering: removed, leaving: added } : { entering: added, leaving: removed };
}

/** The values of `a` that `b` lacks. */
function difference<T>(a: readonly T[], b: readonly T[]): T[] {
  const other = new Set(b);
  return [...new Set(a)].filter((v) => !other.has(v));
}
