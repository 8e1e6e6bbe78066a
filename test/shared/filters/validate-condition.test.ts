import type { Condition } from '../../../shared/model/condition';
import {
  operatorsFor,
  validateCondition,
  validateOrgFilter,
} from '../../../shared/filters/validate-condition';
import { testEntity } from '../../support/offline-config-fixtures';

const account = testEntity('account');
const contact = testEntity('contact');

function codes(condition: Condition, context: 'org' | 'custom' = 'custom', entity = account): string[] {
  return validateCondition(condition, entity, context, 'c').map((v) => `${v.path}:${v.code}`);
}

describe('validateCondition', () => {
  it('accepts a well-typed comparison of each kind', () => {
    expect(codes({ attribute: 'name', operator: 'eq', value: 'Contoso' })).toEqual([]);
    expect(codes({ attribute: 'revenue', operator: 'gt', value: 1000.5 })).toEqual([]);
    expect(codes({ attribute: 'numberofemployees', operator: 'le', value: 10 })).toEqual([]);
    expect(codes({ attribute: 'donotemail', operator: 'ne', value: true })).toEqual([]);
    expect(codes({ attribute: 'modifiedon', operator: 'ge', value: '2026-01-01' })).toEqual([]);
    expect(codes({ attribute: 'industrycode', operator: 'in', value: [1, 2] })).toEqual([]);
    expect(codes({ attribute: 'name', operator: 'null' })).toEqual([]);
  });

  it('refuses an attribute the entity does not have', () => {
    expect(codes({ attribute: 'nosuch', operator: 'null' })).toEqual(['c.attribute:AttributeNotFound']);
  });

  it('refuses operators that do not fit the attribute type', () => {
    expect(codes({ attribute: 'donotemail', operator: 'gt', value: true })).toEqual([
      'c.operator:OperatorNotValidForAttribute',
    ]);
    expect(codes({ attribute: 'revenue', operator: 'like', value: '%1' })).toEqual([
      'c.operator:OperatorNotValidForAttribute',
    ]);
    expect(codes({ attribute: 'name', operator: 'last-x-days', value: 3 }, 'org')).toEqual([
      'c.operator:OperatorNotValidForAttribute',
    ]);
  });

  it('refuses operands of the wrong type', () => {
    expect(codes({ attribute: 'numberofemployees', operator: 'eq', value: 'ten' })).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'numberofemployees', operator: 'eq', value: 1.5 })).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'modifiedon', operator: 'lt', value: 'yesterday' })).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'name', operator: 'eq', value: ['a'] })).toEqual(['c.value:ValueInvalid']);
    expect(codes({ attribute: 'name', operator: 'eq' })).toEqual(['c.value:ValueRequired']);
  });

  it('needs a non-empty list for in and not-in, each element typed', () => {
    expect(codes({ attribute: 'name', operator: 'in', value: 'a' })).toEqual(['c.value:ValueInvalid']);
    expect(codes({ attribute: 'name', operator: 'not-in', value: [] })).toEqual(['c.value:ValueInvalid']);
    expect(codes({ attribute: 'industrycode', operator: 'in', value: [1, 'x'] })).toEqual([
      'c.value[1]:ValueInvalid',
    ]);
    expect(codes({ attribute: 'name', operator: 'not-in', value: ['a', 'b'] })).toEqual([]);
  });

  it('takes no value for null, not-null and user-context operators', () => {
    expect(codes({ attribute: 'name', operator: 'not-null', value: 'x' })).toEqual([
      'c.value:ValueNotAllowed',
    ]);
    expect(codes({ attribute: 'ownerid', operator: 'eq-userid', value: 'u1' })).toEqual([
      'c.value:ValueNotAllowed',
    ]);
  });

  it('needs a positive whole number for last-x-days, and only in org filters', () => {
    expect(codes({ attribute: 'modifiedon', operator: 'last-x-days', value: 10 }, 'org')).toEqual([]);
    expect(codes({ attribute: 'modifiedon', operator: 'last-x-days', value: 0 }, 'org')).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'modifiedon', operator: 'last-x-days', value: 2.5 }, 'org')).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'modifiedon', operator: 'last-x-days', value: '10' }, 'org')).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'modifiedon', operator: 'last-x-days', value: 10 }, 'custom')).toEqual([
      'c.operator:OperatorNotAllowed',
    ]);
  });

  it('checks like-family patterns: strings, no leading % for begins-with, no trailing % for ends-with', () => {
    expect(codes({ attribute: 'name', operator: 'like', value: '%soft%' })).toEqual([]);
    expect(codes({ attribute: 'name', operator: 'like', value: 5 })).toEqual(['c.value:ValueInvalid']);
    expect(codes({ attribute: 'name', operator: 'begins-with', value: 'Con' })).toEqual([]);
    expect(codes({ attribute: 'name', operator: 'begins-with', value: '%Con' })).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'name', operator: 'not-begin-with', value: '%Con' })).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'name', operator: 'ends-with', value: 'oso' })).toEqual([]);
    expect(codes({ attribute: 'name', operator: 'ends-with', value: 'oso%' })).toEqual([
      'c.value:ValueInvalid',
    ]);
    expect(codes({ attribute: 'name', operator: 'not-end-with', value: 'oso%' })).toEqual([
      'c.value:ValueInvalid',
    ]);
  });

  it('allows user-context operators only on attributes they make sense for', () => {
    // The user id: owners and lookups to systemuser.
    expect(codes({ attribute: 'ownerid', operator: 'eq-userid' })).toEqual([]);
    expect(codes({ attribute: 'createdby', operator: 'ne-userid' })).toEqual([]);
    expect(codes({ attribute: 'primarycontactid', operator: 'eq-userid' })).toEqual([
      'c.operator:OperatorNotValidForAttribute',
    ]);
    // Teams and hierarchy: owners only.
    for (const operator of [
      'eq-userteams',
      'eq-useroruserteams',
      'eq-useroruserhierarchy',
      'eq-useroruserhierarchyandteams',
    ] as const) {
      expect(codes({ attribute: 'ownerid', operator })).toEqual([]);
      expect(codes({ attribute: 'createdby', operator })).toEqual([
        'c.operator:OperatorNotValidForAttribute',
      ]);
    }
    // Business unit: lookups to businessunit.
    expect(codes({ attribute: 'owningbusinessunit', operator: 'eq-businessid' })).toEqual([]);
    expect(codes({ attribute: 'owningbusinessunit', operator: 'ne-businessid' })).toEqual([]);
    expect(codes({ attribute: 'ownerid', operator: 'eq-businessid' })).toEqual([
      'c.operator:OperatorNotValidForAttribute',
    ]);
    // Language: language columns.
    expect(codes({ attribute: 'preferredlanguage', operator: 'eq-userlanguage' }, 'custom', contact)).toEqual(
      [],
    );
    expect(codes({ attribute: 'fullname', operator: 'eq-userlanguage' }, 'custom', contact)).toEqual([
      'c.operator:OperatorNotValidForAttribute',
    ]);
  });
});

describe('validateOrgFilter', () => {
  it('accepts up to three valid conditions', () => {
    const filter: Condition[] = [
      { attribute: 'modifiedon', operator: 'last-x-days', value: 10 },
      { attribute: 'name', operator: 'not-null' },
      { attribute: 'ownerid', operator: 'eq-useroruserteams' },
    ];
    expect(validateOrgFilter(filter, account, 'orgFilter')).toEqual([]);
  });

  it('refuses a fourth condition and reports every bad condition with its index', () => {
    const filter: Condition[] = [
      { attribute: 'modifiedon', operator: 'last-x-days', value: 10 },
      { attribute: 'nosuch', operator: 'null' },
      { attribute: 'name', operator: 'not-null' },
      { attribute: 'revenue', operator: 'in', value: [] },
    ];
    expect(validateOrgFilter(filter, account, 'orgFilter').map((v) => `${v.path}:${v.code}`)).toEqual([
      'orgFilter:TooManyConditions',
      'orgFilter[1].attribute:AttributeNotFound',
      'orgFilter[3].value:ValueInvalid',
    ]);
  });
});

describe('operatorsFor (what the admin page offers)', () => {
  const attribute = (name: string, entity = account) => entity.attributes.find((a) => a.name === name)!;

  it('offers by attribute type: text patterns for strings, no ordering for booleans', () => {
    expect(operatorsFor(attribute('name'), 'custom')).toEqual(
      expect.arrayContaining(['eq', 'like', 'begins-with', 'in', 'null']),
    );
    expect(operatorsFor(attribute('donotemail'), 'custom')).not.toContain('gt');
    expect(operatorsFor(attribute('revenue'), 'custom')).not.toContain('like');
  });

  it('offers last-x-days on dates only, and only in an org filter', () => {
    expect(operatorsFor(attribute('modifiedon'), 'org')).toContain('last-x-days');
    expect(operatorsFor(attribute('modifiedon'), 'custom')).not.toContain('last-x-days');
    expect(operatorsFor(attribute('name'), 'org')).not.toContain('last-x-days');
  });

  it('offers user-context operators only where they fit', () => {
    expect(operatorsFor(attribute('ownerid'), 'custom')).toEqual(
      expect.arrayContaining(['eq-userid', 'eq-userteams', 'eq-useroruserhierarchy']),
    );
    expect(operatorsFor(attribute('createdby'), 'custom')).toContain('eq-userid');
    expect(operatorsFor(attribute('createdby'), 'custom')).not.toContain('eq-userteams');
    expect(operatorsFor(attribute('name'), 'custom')).not.toContain('eq-userid');
    expect(operatorsFor(attribute('preferredlanguage', contact), 'custom')).toContain('eq-userlanguage');
  });

  it('never offers an operator validateCondition refuses for the attribute', () => {
    for (const entity of [account, contact]) {
      for (const attr of entity.attributes) {
        for (const context of ['org', 'custom'] as const) {
          for (const operator of operatorsFor(attr, context)) {
            const found = validateCondition({ attribute: attr.name, operator }, entity, context, 'c');
            expect({ attr: attr.name, operator, codes: found.map((v) => v.code) }).toEqual({
              attr: attr.name,
              operator,
              codes: expect.not.arrayContaining(['OperatorNotValidForAttribute', 'OperatorNotAllowed']),
            });
          }
        }
      }
    }
  });
});
