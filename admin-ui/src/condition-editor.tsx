import type { Condition, Operator } from '../../shared/model/condition';
import type { Attribute, AttributeType } from '../../shared/model/entity';
import type { Violation } from '../../shared/model/profile';
import {
  operatorsFor,
  operatorTakesNoValue,
  type ConditionContext,
} from '../../shared/filters/validate-condition';
import { DirectoryPicker, directoryKindsOf } from './directory-picker';
import { FieldViolations, invalidProps } from './ui';

const NUMERIC: readonly AttributeType[] = [
  'integer',
  'bigint',
  'decimal',
  'double',
  'money',
  'picklist',
  'language',
];

/** The value typed into a field as the condition's operand, by operator and attribute type. */
function parseValue(text: string, operator: Operator, type: AttributeType | undefined): Condition['value'] {
  const scalar = (t: string): string | number | boolean => {
    const s = t.trim();
    if (type !== undefined && NUMERIC.includes(type) && s !== '' && !Number.isNaN(Number(s)))
      return Number(s);
    if (type === 'boolean') return s === 'true';
    return s;
  };
  if (operator === 'in' || operator === 'not-in')
    return text
      .split(',')
      .filter((part) => part.trim() !== '')
      .map(scalar);
  if (operator === 'last-x-days') return text.trim() === '' ? undefined : Number(text);
  return text === '' ? undefined : scalar(text);
}

function valueText(value: Condition['value']): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** The ids a lookup condition's value holds. */
function pickedIds(value: Condition['value']): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/**
 * One condition: attribute, the operators that attribute's type allows where it is used, and the
 * value (none for operators that take none; a comma-separated list for `in`; picked from the directory
 * for lookups to users, teams and business units). Violations at its
 * paths (`<path>.attribute`, `.operator`, `.value`) are shown at each field.
 */
export function ConditionEditor(props: {
  condition: Condition;
  attributes: readonly Attribute[];
  context: ConditionContext;
  path: string;
  violations: readonly Violation[];
  onChange: (next: Condition) => void;
  onRemove: () => void;
  label: string;
}) {
  const { condition, attributes, context, path, violations, onChange } = props;
  const attribute = attributes.find((a) => a.name === condition.attribute);
  const operators = attribute === undefined ? [] : operatorsFor(attribute, context);
  const withoutValue = operatorTakesNoValue(condition.operator);
  const listOperator = condition.operator === 'in' || condition.operator === 'not-in';
  // Lookups to users, teams or business units pick their value from the directory (eq, ne, in, not-in).
  const pickerKinds =
    listOperator || condition.operator === 'eq' || condition.operator === 'ne'
      ? directoryKindsOf(attribute)
      : [];
  return (
    <fieldset class="condition">
      <legend>{props.label}</legend>
      <label>
        Attribute
        <select
          value={condition.attribute}
          {...invalidProps(violations, `${path}.attribute`)}
          onChange={(e) => {
            const name = e.currentTarget.value;
            const next = attributes.find((a) => a.name === name);
            const allowed = next === undefined ? [] : operatorsFor(next, context);
            const operator = allowed.includes(condition.operator)
              ? condition.operator
              : (allowed[0] ?? 'null');
            onChange({
              attribute: name,
              operator,
              ...(operatorTakesNoValue(operator) ? {} : { value: condition.value }),
            });
          }}
        >
          {attribute === undefined && <option value={condition.attribute}>{condition.attribute}</option>}
          {attributes.map((a) => (
            <option key={a.name} value={a.name}>
              {a.name} ({a.type})
            </option>
          ))}
        </select>
      </label>
      <FieldViolations violations={violations} path={`${path}.attribute`} />
      <label>
        Operator
        <select
          value={condition.operator}
          {...invalidProps(violations, `${path}.operator`)}
          onChange={(e) => {
            const operator = e.currentTarget.value as Operator;
            const { value: _drop, ...rest } = condition;
            onChange(operatorTakesNoValue(operator) ? { ...rest, operator } : { ...condition, operator });
          }}
        >
          {!operators.includes(condition.operator) && (
            <option value={condition.operator}>{condition.operator}</option>
          )}
          {operators.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </label>
      <FieldViolations violations={violations} path={`${path}.operator`} />
      {!withoutValue && pickerKinds.length > 0 && (
        <DirectoryPicker
          kinds={pickerKinds}
          label="Value"
          multiple={listOperator}
          value={pickedIds(condition.value)}
          invalid={invalidProps(violations, `${path}.value`)}
          onChange={(ids) => {
            const { value: _drop, ...rest } = condition;
            const value = listOperator ? ids : ids[0];
            onChange(
              value === undefined || (Array.isArray(value) && value.length === 0) ? rest : { ...rest, value },
            );
          }}
        />
      )}
      {!withoutValue && pickerKinds.length === 0 && (
        <label>
          Value{condition.operator === 'in' || condition.operator === 'not-in' ? ' (comma-separated)' : ''}
          <input
            value={valueText(condition.value)}
            {...invalidProps(violations, `${path}.value`)}
            onChange={(e) =>
              onChange({
                ...condition,
                value: parseValue(e.currentTarget.value, condition.operator, attribute?.type),
              })
            }
          />
        </label>
      )}
      <FieldViolations violations={violations} path={`${path}.value`} />
      <FieldViolations violations={violations} path={path} />
      <button type="button" onClick={props.onRemove}>
        Remove condition
      </button>
    </fieldset>
  );
}

/** A new condition on the first attribute, with its first operator. */
export function newCondition(attributes: readonly Attribute[], context: ConditionContext): Condition {
  const first = attributes[0];
  if (first === undefined) return { attribute: '', operator: 'null' };
  const operator = operatorsFor(first, context)[0] ?? 'null';
  return { attribute: first.name, operator };
}
