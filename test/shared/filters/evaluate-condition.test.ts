import { ManualClock } from '../../../shared/clock';
import { AppError } from '../../../shared/errors';
import type { Condition } from '../../../shared/model/condition';
import { compileCondition } from '../../../shared/filters/evaluate-filter';
import type { FilterContext } from '../../../shared/filters/evaluate-condition';
import { buildUserContext } from '../../../shared/security/user-context';
import { accountEntity, syncDirectory } from '../security/sync-security-fixture';

// Alice: BU sales, team north, reports bob ← carol ← dave (← erin, beyond depth 3), language 1033.
const context: FilterContext = {
  user: buildUserContext(syncDirectory(), 'user-alice'),
  clock: new ManualClock('2026-01-15T12:00:00.000Z'),
};

const MISSING = Symbol('missing');
type Case = [attribute: string, value: Condition['value'], row: unknown, expected: boolean];

/** Runs one operator over rows: each case is attribute, condition value, row value, match. */
function describeOperator(operator: Condition['operator'], cases: Case[]): void {
  describe(operator, () => {
    it.each(cases)('%s %p against %p → %p', (attribute, value, rowValue, expected) => {
      const predicate = compileCondition({ attribute, operator, value }, accountEntity, context);
      const row = rowValue === MISSING ? {} : { [attribute]: rowValue };
      expect(predicate(row)).toBe(expected);
    });
  });
}

const GUID = 'a1b2c3d4-0000-4000-8000-00000000abcd';

describeOperator('eq', [
  ['name', 'Contoso', 'contoso', true],
  ['name', 'Contoso', 'CONTOSO', true],
  ['name', 'Contoso', 'Fabrikam', false],
  ['name', 'Contoso', null, false],
  ['name', 'Contoso', MISSING, false],
  ['revenue', 100, '100', true],
  ['revenue', 100, 100.5, false],
  ['revenue', '100', 100, true],
  ['donotemail', true, true, true],
  ['donotemail', true, false, false],
  ['donotemail', 'false', false, true],
  ['modifiedon', '2026-01-10T00:00:00Z', '2026-01-10T00:00:00.000Z', true],
  ['modifiedon', '2026-01-10T00:00:00Z', '2026-01-10T01:00:00+01:00', true],
  ['modifiedon', '2026-01-10T00:00:00', '2026-01-10T00:00:00Z', true],
  ['modifiedon', '2026-01-10T00:00:00Z', '2026-01-10T00:00:01Z', false],
  ['primarycontactid', GUID.toUpperCase(), GUID, true],
  ['primarycontactid', GUID, 'b1b2c3d4-0000-4000-8000-00000000abcd', false],
  ['industrycode', 3, 3, true],
]);

describeOperator('ne', [
  ['name', 'Contoso', 'Fabrikam', true],
  ['name', 'Contoso', 'CONTOSO', false],
  // SQL semantics, as Dataverse: a null column matches no comparison, not even `ne`.
  ['name', 'Contoso', null, false],
  ['name', 'Contoso', MISSING, false],
  ['numberofemployees', 10, 11, true],
  ['numberofemployees', 10, 10, false],
  ['primarycontactid', GUID.toUpperCase(), GUID, false],
]);

describeOperator('gt', [
  ['numberofemployees', 10, 11, true],
  ['numberofemployees', 10, 10, false],
  ['numberofemployees', 10, null, false],
  ['numberofemployees', 10, 'not a number', false],
  ['modifiedon', '2026-01-10T00:00:00Z', '2026-01-10T00:00:01Z', true],
  ['modifiedon', '2026-01-10T00:00:00Z', '2026-01-09T23:59:59Z', false],
  // 00:30 at +01:00 is 23:30 UTC the day before: instants, not strings, are compared.
  ['modifiedon', '2026-01-10T00:00:00Z', '2026-01-10T00:30:00+01:00', false],
  ['name', 'm', 'Zulu', true],
  ['name', 'm', 'alpha', false],
  ['name', 'M', 'n', true],
]);

describeOperator('ge', [
  ['numberofemployees', 10, 10, true],
  ['numberofemployees', 10, 9, false],
  ['name', 'M', 'mike', true],
  ['name', 'm', 'ALPHA', false],
  ['modifiedon', '2026-01-10', '2026-01-10T00:00:00Z', true],
]);

describeOperator('lt', [
  ['numberofemployees', 10, 9, true],
  ['numberofemployees', 10, 10, false],
  ['revenue', 1.5, 1.25, true],
  ['name', 'b', 'ALPHA', true],
  ['name', 'B', 'charlie', false],
  ['modifiedon', '2026-01-10T00:00:00Z', '2026-01-09T23:59:59Z', true],
]);

describeOperator('le', [
  ['numberofemployees', 10, 10, true],
  ['numberofemployees', 10, 11, false],
  ['numberofemployees', 10, MISSING, false],
  ['modifiedon', '2026-01-10T00:00:00Z', '2026-01-10T00:00:00Z', true],
]);

describeOperator('like', [
  ['name', 'con%', 'Contoso', true],
  ['name', 'con%', 'Fabrikam', false],
  ['name', '%OSO', 'contoso', true],
  ['name', '%ont%', 'Contoso', true],
  ['name', 'c_ntoso', 'Contoso', true],
  ['name', 'c_ntoso', 'Conntoso', false],
  ['name', '[cf]%', 'Fabrikam', true],
  ['name', '[cf]%', 'Adatum', false],
  ['name', '[a-c]%', 'Bravo', true],
  ['name', '[a-c]%', 'Delta', false],
  ['name', '[^a-c]%', 'Delta', true],
  ['name', '[^a-c]%', 'bravo', false],
  ['name', '100[%]', '100%', true],
  ['name', '100[%]', '1000', false],
  ['name', '[_]x', '_x', true],
  ['name', '[_]x', 'ax', false],
  ['name', '[[]%', '[abc', true],
  ['name', 'a.b', 'a.b', true],
  ['name', 'a.b', 'axb', false],
  ['name', '(x)+$', '(X)+$', true],
  ['name', 'Contoso', 'Contoso Ltd', false],
  ['name', '%', '', true],
  ['name', '%', null, false],
  ['description', 'line%two', 'line one\nline two', true],
]);

describeOperator('not-like', [
  ['name', 'con%', 'Fabrikam', true],
  ['name', 'con%', 'CONTOSO', false],
  ['name', '100[%]', '1000', true],
  ['name', 'con%', null, false],
  ['name', 'con%', MISSING, false],
]);

describeOperator('in', [
  ['name', ['Contoso', 'Fabrikam'], 'FABRIKAM', true],
  ['name', ['Contoso', 'Fabrikam'], 'Adatum', false],
  ['name', ['Contoso', 'Fabrikam'], null, false],
  ['name', 'Contoso', 'contoso', true],
  ['numberofemployees', [1, 2], '2', true],
  ['numberofemployees', [1, 2], 3, false],
  ['primarycontactid', [GUID.toUpperCase()], GUID, true],
  ['industrycode', [], 1, false],
]);

describeOperator('not-in', [
  ['name', ['Contoso', 'Fabrikam'], 'Adatum', true],
  ['name', ['Contoso', 'Fabrikam'], 'contoso', false],
  ['name', ['Contoso', 'Fabrikam'], null, false],
  ['numberofemployees', [1, 2], 3, true],
  ['primarycontactid', [GUID.toUpperCase()], GUID, false],
]);

describeOperator('null', [
  ['name', undefined, null, true],
  ['name', undefined, MISSING, true],
  ['name', undefined, 'Contoso', false],
  ['name', undefined, '', false],
  ['numberofemployees', undefined, 0, false],
]);

describeOperator('not-null', [
  ['name', undefined, 'Contoso', true],
  ['numberofemployees', undefined, 0, true],
  ['donotemail', undefined, false, true],
  ['name', undefined, null, false],
  ['name', undefined, MISSING, false],
]);

describeOperator('begins-with', [
  ['name', 'con', 'Contoso', true],
  ['name', 'CON', 'contoso', true],
  ['name', 'con', 'Icon', false],
  ['name', 'c_n', 'Canada', true],
  ['name', '[cd]a', 'Dallas', true],
  ['name', '100[%]', '100% sure', true],
  ['name', '100%', '1000 sure', true],
  ['name', 'con', null, false],
]);

describeOperator('not-begin-with', [
  ['name', 'con', 'Icon', true],
  ['name', 'con', 'CONTOSO', false],
  ['name', 'con', null, false],
  ['name', 'con', MISSING, false],
]);

describeOperator('ends-with', [
  ['name', 'oso', 'CONTOSO', true],
  ['name', 'oso', 'osoX', false],
  ['name', 'o_o', 'Contoso', true],
  ['name', '[%]', '50%', true],
  ['name', '[%]', '50', false],
  ['name', 'oso', null, false],
]);

describeOperator('not-end-with', [
  ['name', 'oso', 'Fabrikam', true],
  ['name', 'oso', 'Contoso', false],
  ['name', 'oso', null, false],
]);

describeOperator('eq-userid', [
  ['ownerid', undefined, 'user-alice', true],
  ['ownerid', undefined, 'USER-ALICE', true],
  ['ownerid', undefined, 'user-bob', false],
  ['ownerid', undefined, 'team-north', false],
  ['ownerid', undefined, null, false],
]);

describeOperator('ne-userid', [
  ['ownerid', undefined, 'user-bob', true],
  ['ownerid', undefined, 'User-Alice', false],
  ['ownerid', undefined, null, false],
]);

describeOperator('eq-userteams', [
  ['ownerid', undefined, 'team-north', true],
  ['ownerid', undefined, 'TEAM-NORTH', true],
  ['ownerid', undefined, 'user-alice', false],
  ['ownerid', undefined, 'team-east', false],
  ['ownerid', undefined, MISSING, false],
]);

describeOperator('eq-useroruserteams', [
  ['ownerid', undefined, 'user-alice', true],
  ['ownerid', undefined, 'team-north', true],
  ['ownerid', undefined, 'user-bob', false],
  ['ownerid', undefined, 'team-east', false],
]);

describeOperator('eq-useroruserhierarchy', [
  ['ownerid', undefined, 'user-alice', true],
  ['ownerid', undefined, 'user-bob', true],
  ['ownerid', undefined, 'USER-CAROL', true],
  ['ownerid', undefined, 'user-dave', true],
  // Erin is four levels down: beyond the default depth of 3.
  ['ownerid', undefined, 'user-erin', false],
  ['ownerid', undefined, 'user-frank', false],
  ['ownerid', undefined, 'team-north', false],
  ['ownerid', undefined, 'team-east', false],
]);

describeOperator('eq-useroruserhierarchyandteams', [
  ['ownerid', undefined, 'user-alice', true],
  ['ownerid', undefined, 'user-dave', true],
  ['ownerid', undefined, 'team-north', true],
  ['ownerid', undefined, 'team-east', true],
  ['ownerid', undefined, 'user-erin', false],
  ['ownerid', undefined, 'team-erin', false],
  ['ownerid', undefined, 'team-service', false],
  ['ownerid', undefined, null, false],
]);

describeOperator('eq-businessid', [
  ['owningbusinessunit', undefined, 'bu-sales', true],
  ['owningbusinessunit', undefined, 'BU-SALES', true],
  ['owningbusinessunit', undefined, 'bu-sales-east', false],
  ['owningbusinessunit', undefined, null, false],
]);

describeOperator('ne-businessid', [
  ['owningbusinessunit', undefined, 'bu-service', true],
  ['owningbusinessunit', undefined, 'Bu-Sales', false],
  ['owningbusinessunit', undefined, null, false],
]);

describeOperator('eq-userlanguage', [
  ['languagecode', undefined, 1033, true],
  ['languagecode', undefined, '1033', true],
  ['languagecode', undefined, 1036, false],
  ['languagecode', undefined, null, false],
]);

describe('attributes the metadata does not know', () => {
  it('reads a missing column as null', () => {
    const isNull = compileCondition({ attribute: 'gone', operator: 'null' }, accountEntity, context);
    const eq = compileCondition({ attribute: 'gone', operator: 'eq', value: 'x' }, accountEntity, context);
    expect(isNull({})).toBe(true);
    expect(eq({})).toBe(false);
  });

  it('compares by the kind of the condition value', () => {
    const gt = compileCondition({ attribute: 'extra', operator: 'gt', value: 9 }, accountEntity, context);
    expect(gt({ extra: 10 })).toBe(true);
    expect(gt({ extra: '10' })).toBe(true); // numerically: as text '10' < '9'
    const eq = compileCondition({ attribute: 'extra', operator: 'eq', value: 'ABC' }, accountEntity, context);
    expect(eq({ extra: 'abc' })).toBe(true);
  });
});

describe('conditions that do not fit their operator or attribute', () => {
  it.each<[Condition]>([
    [{ attribute: 'name', operator: 'eq' }],
    [{ attribute: 'name', operator: 'eq', value: ['a', 'b'] }],
    [{ attribute: 'numberofemployees', operator: 'gt', value: 'many' }],
    [{ attribute: 'modifiedon', operator: 'ge', value: 'yesterday' }],
    [{ attribute: 'donotemail', operator: 'eq', value: 'maybe' }],
    [{ attribute: 'numberofemployees', operator: 'in', value: [1, 'two'] }],
    [{ attribute: 'name', operator: 'in' }],
    [{ attribute: 'name', operator: 'like' }],
    [{ attribute: 'modifiedon', operator: 'last-x-days' }],
    [{ attribute: 'modifiedon', operator: 'last-x-days', value: -1 }],
    [{ attribute: 'modifiedon', operator: 'last-x-days', value: 1.5 }],
  ])('%p is refused with ProfileInvalid and its path', (condition) => {
    let thrown: unknown;
    try {
      compileCondition(condition, accountEntity, context, 'items[0].customFilter.conditions[2]');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect((thrown as AppError).code).toBe('ProfileInvalid');
    expect((thrown as AppError).details).toEqual([
      expect.objectContaining({ path: 'items[0].customFilter.conditions[2]' }),
    ]);
  });
});
