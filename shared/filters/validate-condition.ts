import { operatorSchema, userContextOperators, type Condition, type Operator } from '../model/condition';
import type { Attribute, AttributeType, EntityMetadata } from '../model/entity';
import type { Violation } from '../model/profile';

/** Where a condition is used: the org data download filter, or a profile item's custom filter. */
export type ConditionContext = 'org' | 'custom';

const numericTypes: readonly AttributeType[] = ['integer', 'bigint', 'decimal', 'double', 'money'];
const wholeNumberTypes: readonly AttributeType[] = ['integer', 'bigint', 'picklist', 'language'];
const textTypes: readonly AttributeType[] = ['string', 'memo'];
const idTypes: readonly AttributeType[] = ['uniqueidentifier', 'lookup', 'owner'];

/** Attribute types each value-taking operator accepts (reference/dataverse.md §5). */
const typesByOperator: Partial<Record<Operator, readonly AttributeType[]>> = {
  gt: [...numericTypes, 'datetime', ...textTypes],
  ge: [...numericTypes, 'datetime', ...textTypes],
  lt: [...numericTypes, 'datetime', ...textTypes],
  le: [...numericTypes, 'datetime', ...textTypes],
  like: textTypes,
  'not-like': textTypes,
  'begins-with': textTypes,
  'not-begin-with': textTypes,
  'ends-with': textTypes,
  'not-end-with': textTypes,
  in: [...numericTypes, ...textTypes, ...idTypes, 'picklist', 'language'],
  'not-in': [...numericTypes, ...textTypes, ...idTypes, 'picklist', 'language'],
  'last-x-days': ['datetime'],
};

/** True for operators that take no value (`null`, `not-null` and the user-context operators). */
export function operatorTakesNoValue(operator: Operator): boolean {
  return operator === 'null' || operator === 'not-null' || userContextOperators.has(operator);
}

function pointsAt(attribute: Attribute, entity: string): boolean {
  return attribute.targets?.includes(entity) ?? false;
}

/**
 * Whether a user-context operator makes sense on an attribute: the user id on owners and lookups to
 * users; teams and hierarchy on owners (rows owned by users or teams); the business unit on lookups to
 * business units; the language on language columns.
 */
function userContextOperatorFits(operator: Operator, attribute: Attribute): boolean {
  switch (operator) {
    case 'eq-userid':
    case 'ne-userid':
      return attribute.type === 'owner' || (attribute.type === 'lookup' && pointsAt(attribute, 'systemuser'));
    case 'eq-userteams':
    case 'eq-useroruserteams':
    case 'eq-useroruserhierarchy':
    case 'eq-useroruserhierarchyandteams':
      return attribute.type === 'owner';
    case 'eq-businessid':
    case 'ne-businessid':
      return attribute.type === 'lookup' && pointsAt(attribute, 'businessunit');
    case 'eq-userlanguage':
      return attribute.type === 'language';
    default:
      return false;
  }
}

/**
 * The operators a condition on `attribute` may use where it is used: what {@link validateCondition}
 * accepts for its type (`last-x-days` only in org filters; user-context operators where they fit),
 * in the schema's order. The admin page offers exactly these.
 */
export function operatorsFor(attribute: Attribute, context: ConditionContext): Operator[] {
  return operatorSchema.options.filter((operator) => {
    if (operator === 'last-x-days' && context === 'custom') return false;
    if (userContextOperators.has(operator)) return userContextOperatorFits(operator, attribute);
    const allowedTypes = typesByOperator[operator];
    return allowedTypes === undefined || allowedTypes.includes(attribute.type);
  });
}

/** Why one scalar is not a value of the attribute's type, or undefined when it is. */
function scalarProblem(value: unknown, type: AttributeType): string | undefined {
  if (Array.isArray(value)) return 'must be a single value, not a list';
  if (textTypes.includes(type) || idTypes.includes(type)) {
    return typeof value === 'string' ? undefined : `must be a string for a ${type} attribute`;
  }
  if (wholeNumberTypes.includes(type)) {
    return typeof value === 'number' && Number.isInteger(value)
      ? undefined
      : `must be a whole number for a ${type} attribute`;
  }
  if (numericTypes.includes(type)) {
    return typeof value === 'number' && Number.isFinite(value)
      ? undefined
      : `must be a number for a ${type} attribute`;
  }
  if (type === 'boolean') return typeof value === 'boolean' ? undefined : 'must be true or false';
  if (type === 'datetime') {
    return typeof value === 'string' && !Number.isNaN(Date.parse(value))
      ? undefined
      : 'must be an ISO 8601 date or date-time';
  }
  return undefined;
}

/**
 * Checks one condition against the entity's metadata and returns every problem (empty when valid):
 * the attribute exists; the operator is allowed where it is used (`last-x-days` only in org filters)
 * and for the attribute's type; user-context operators only on attributes they make sense for; the
 * operand has the right type and count (`in` / `not-in` a non-empty list, `null` / `not-null` and
 * user-context operators none, `last-x-days` a positive whole number, the like family a string, no
 * leading `%` for `begins-with` and no trailing `%` for `ends-with`).
 *
 * @param path where the condition is, e.g. `orgFilter[1]` or `items[0].customFilter.conditions[2]`.
 */
export function validateCondition(
  condition: Condition,
  entity: EntityMetadata,
  context: ConditionContext,
  path: string,
): Violation[] {
  const { operator, value } = condition;
  const attribute = entity.attributes.find((a) => a.name === condition.attribute);
  if (attribute === undefined) {
    return [
      {
        path: `${path}.attribute`,
        code: 'AttributeNotFound',
        message: `Entity '${entity.logicalName}' has no attribute '${condition.attribute}'.`,
      },
    ];
  }
  const violation = (code: string, message: string, at = 'operator'): Violation[] => [
    { path: `${path}.${at}`, code, message },
  ];

  if (operator === 'last-x-days' && context === 'custom') {
    return violation(
      'OperatorNotAllowed',
      "'last-x-days' is allowed only in an entity's org data download filter.",
    );
  }
  if (userContextOperators.has(operator) && !userContextOperatorFits(operator, attribute)) {
    return violation(
      'OperatorNotValidForAttribute',
      `'${operator}' does not apply to '${attribute.name}' (${attribute.type}${attribute.targets ? ` → ${attribute.targets.join(', ')}` : ''}).`,
    );
  }
  const allowedTypes = typesByOperator[operator];
  if (allowedTypes !== undefined && !allowedTypes.includes(attribute.type)) {
    return violation(
      'OperatorNotValidForAttribute',
      `'${operator}' does not apply to '${attribute.name}' of type ${attribute.type}.`,
    );
  }

  if (operatorTakesNoValue(operator)) {
    return value === undefined ? [] : violation('ValueNotAllowed', `'${operator}' takes no value.`, 'value');
  }
  if (value === undefined) return violation('ValueRequired', `'${operator}' needs a value.`, 'value');

  if (operator === 'in' || operator === 'not-in') {
    if (!Array.isArray(value) || value.length === 0) {
      return violation('ValueInvalid', `'${operator}' needs a non-empty list of values.`, 'value');
    }
    return value.flatMap((element, i) => {
      const problem = scalarProblem(element, attribute.type);
      return problem === undefined ? [] : violation('ValueInvalid', `Value ${problem}.`, `value[${i}]`);
    });
  }
  if (operator === 'last-x-days') {
    return typeof value === 'number' && Number.isInteger(value) && value > 0
      ? []
      : violation('ValueInvalid', "'last-x-days' needs a positive whole number of days.", 'value');
  }
  if (
    operator === 'like' ||
    operator === 'not-like' ||
    operator === 'begins-with' ||
    operator === 'not-begin-with' ||
    operator === 'ends-with' ||
    operator === 'not-end-with'
  ) {
    if (typeof value !== 'string' || value.length === 0) {
      return violation('ValueInvalid', `'${operator}' needs a non-empty string pattern.`, 'value');
    }
    if ((operator === 'begins-with' || operator === 'not-begin-with') && value.startsWith('%')) {
      return violation('ValueInvalid', `'${operator}' does not allow a leading '%'.`, 'value');
    }
    if ((operator === 'ends-with' || operator === 'not-end-with') && value.endsWith('%')) {
      return violation('ValueInvalid', `'${operator}' does not allow a trailing '%'.`, 'value');
    }
    return [];
  }
  // eq, ne, gt, ge, lt, le: one value of the attribute's type.
  const problem = scalarProblem(value, attribute.type);
  return problem === undefined ? [] : violation('ValueInvalid', `Value ${problem}.`, 'value');
}

/** Most conditions an entity's org data download filter may have (SPEC §3). */
export const MAX_ORG_FILTER_CONDITIONS = 3;

/** Checks an entity's org data download filter: at most three conditions, each valid. */
export function validateOrgFilter(
  conditions: readonly Condition[],
  entity: EntityMetadata,
  path: string,
): Violation[] {
  const violations: Violation[] = [];
  if (conditions.length > MAX_ORG_FILTER_CONDITIONS) {
    violations.push({
      path,
      code: 'TooManyConditions',
      message: `An org data download filter has at most ${MAX_ORG_FILTER_CONDITIONS} conditions; this one has ${conditions.length}.`,
    });
  }
  conditions.forEach((condition, i) => {
    violations.push(...validateCondition(condition, entity, 'org', `${path}[${i}]`));
  });
  return violations;
}
