import { ManualClock } from '../../../shared/clock';
import type { FilterContext } from '../../../shared/filters/evaluate-condition';
import type { Condition } from '../../../shared/model/condition';
import { profileItemSchema } from '../../../shared/model/profile';
import type { Attributes } from '../../../shared/model/record';
import type { ItemSelection } from '../../../shared/security/membership';
import {
  compileItemRule,
  compileMembership,
  rowQualifiesDirectly,
} from '../../../shared/security/membership';
import { buildUserContext } from '../../../shared/security/user-context';
import { accountEntity, syncDirectory } from './sync-security-fixture';

const directory = syncDirectory({
  roles: [{ id: 'role-sales', name: 'Sales', privileges: { account: { read: 'businessUnit' } } }],
});
// Alice: BU sales, team north; may read account rows owned by her or her team, or in BU sales.
const context: FilterContext = {
  user: buildUserContext(directory, 'user-alice'),
  clock: new ManualClock('2026-01-15T12:00:00.000Z'),
};

const rows: Record<string, Attributes> = {
  mine: { name: 'Contoso', ownerid: 'user-alice', owningbusinessunit: 'bu-sales-east' },
  team: { name: 'Fabrikam', ownerid: 'TEAM-NORTH', owningbusinessunit: 'bu-service' },
  myBu: { name: 'Adatum', ownerid: 'user-zed', owningbusinessunit: 'bu-sales' },
  other: { name: 'Northwind', ownerid: 'user-frank', owningbusinessunit: 'bu-service' },
};

function selected(item: ItemSelection): string[] {
  const rule = compileItemRule(item, accountEntity, context);
  return Object.keys(rows).filter((key) => rule(rows[key]!));
}

describe('compileItemRule', () => {
  it.each<[string, ItemSelection, string[]]>([
    ['all rows', { rule: 'all' }, ['mine', 'team', 'myBu', 'other']],
    ['related rows only: none of its own', { rule: 'related' }, []],
    ['mine', { rule: 'other', mine: true }, ['mine']],
    ['team', { rule: 'other', team: true }, ['team']],
    ['business unit', { rule: 'other', businessUnit: true }, ['myBu']],
    ['mine or team', { rule: 'other', mine: true, team: true }, ['mine', 'team']],
    [
      'custom filter',
      {
        rule: 'other',
        customFilter: {
          type: 'and',
          conditions: [{ attribute: 'name', operator: 'like', value: 'n%' }],
          filters: [],
        },
      },
      ['other'],
    ],
    [
      'business unit or custom filter',
      {
        rule: 'other',
        businessUnit: true,
        customFilter: {
          type: 'or',
          conditions: [{ attribute: 'name', operator: 'eq', value: 'contoso' }],
          filters: [],
        },
      },
      ['mine', 'myBu'],
    ],
    ['other with nothing selected', { rule: 'other' }, []],
  ])('%s', (_name, item, expected) => {
    expect(selected(item)).toEqual(expected);
  });
});

it('takes a profile item as the admin API stores it', () => {
  const item = profileItemSchema.parse({ entity: 'account', rule: 'other', team: true });
  expect(
    Object.keys(rows).filter((key) => compileItemRule(item, accountEntity, context)(rows[key]!)),
  ).toEqual(['team']);
});

describe('rowQualifiesDirectly', () => {
  const orgFilter: Condition[] = [{ attribute: 'name', operator: 'ne', value: 'Adatum' }];
  const membership = compileMembership({ rule: 'other', mine: true }, orgFilter, accountEntity, context);

  it.each<[string, Attributes, boolean, boolean]>([
    ['selected by the rule, passes the org filter, readable', rows.mine!, false, true],
    ['not selected and not reached', rows.team!, false, false],
    ['not selected but reached through an association', rows.team!, true, true],
    ['reached, but the org filter refuses it', rows.myBu!, true, false],
    ['reached, but the user may not read it', rows.other!, true, false],
    ['selected, but the org filter refuses it', { ...rows.mine, name: 'adatum' }, false, false],
  ])('%s', (_name, row, reached, expected) => {
    expect(rowQualifiesDirectly(membership, row, reached)).toBe(expected);
  });

  it('needs the Read privilege even for an all-rows item', () => {
    const all = compileMembership({ rule: 'all' }, [], accountEntity, context);
    expect(rowQualifiesDirectly(all, rows.myBu!, false)).toBe(true);
    expect(rowQualifiesDirectly(all, rows.other!, false)).toBe(false);
  });
});
