import { validateFilterTree } from '../../../shared/filters/validate-filter-tree';
import { filterTreeSchema, type FilterTreeInput } from '../../../shared/model/filter-tree';
import { testEntity } from '../../support/offline-config-fixtures';

const account = testEntity('account');

function check(input: FilterTreeInput): string[] {
  return validateFilterTree(filterTreeSchema.parse(input), account, 'f').map((v) => `${v.path}:${v.code}`);
}

describe('validateFilterTree', () => {
  it('accepts three conditions over three levels', () => {
    expect(
      check({
        type: 'and',
        conditions: [{ attribute: 'ownerid', operator: 'eq-userid' }],
        filters: [
          {
            type: 'or',
            conditions: [{ attribute: 'name', operator: 'begins-with', value: 'A' }],
            filters: [{ type: 'and', conditions: [{ attribute: 'revenue', operator: 'gt', value: 10 }] }],
          },
        ],
      }),
    ).toEqual([]);
  });

  it('refuses a fourth condition anywhere in the tree', () => {
    expect(
      check({
        type: 'and',
        conditions: [
          { attribute: 'name', operator: 'not-null' },
          { attribute: 'revenue', operator: 'not-null' },
        ],
        filters: [
          {
            type: 'or',
            conditions: [
              { attribute: 'name', operator: 'like', value: 'a%' },
              { attribute: 'name', operator: 'like', value: 'b%' },
            ],
          },
        ],
      }),
    ).toEqual(['f:TooManyConditions']);
  });

  it('refuses a fourth level of nesting, with the path of the group', () => {
    expect(
      check({
        type: 'and',
        filters: [
          {
            type: 'or',
            filters: [
              {
                type: 'and',
                filters: [{ type: 'or', conditions: [{ attribute: 'name', operator: 'null' }] }],
              },
            ],
          },
        ],
      }),
    ).toEqual(['f.filters[0].filters[0].filters[0]:FilterTooDeep']);
  });

  it('refuses an empty filter and reports bad conditions with their paths', () => {
    expect(check({ type: 'and' })).toEqual(['f:FilterEmpty']);
    expect(
      check({
        type: 'or',
        conditions: [{ attribute: 'modifiedon', operator: 'last-x-days', value: 3 }],
        filters: [{ type: 'and', conditions: [{ attribute: 'nosuch', operator: 'null' }] }],
      }),
    ).toEqual([
      'f.conditions[0].operator:OperatorNotAllowed',
      'f.filters[0].conditions[0].attribute:AttributeNotFound',
    ]);
  });
});
