import { ManualClock } from '../../../shared/clock';
import type { AppError } from '../../../shared/errors';
import {
  compileConditions,
  compileFilter,
  filterDependencies,
} from '../../../shared/filters/evaluate-filter';
import type { FilterContext } from '../../../shared/filters/evaluate-condition';
import type { FilterTree, FilterTreeInput } from '../../../shared/model/filter-tree';
import { filterTreeSchema } from '../../../shared/model/filter-tree';
import { buildUserContext } from '../../../shared/security/user-context';
import { accountEntity, syncDirectory } from '../security/sync-security-fixture';

const context: FilterContext = {
  user: buildUserContext(syncDirectory(), 'user-alice'),
  clock: new ManualClock('2026-01-15T12:00:00.000Z'),
};

const tree = (input: FilterTreeInput): FilterTree => filterTreeSchema.parse(input);

const rows = {
  bigMine: { name: 'Contoso', numberofemployees: 500, ownerid: 'user-alice' },
  bigOther: { name: 'Fabrikam', numberofemployees: 800, ownerid: 'user-frank' },
  smallMine: { name: 'Adatum', numberofemployees: 5, ownerid: 'user-alice' },
  smallTeamNamed: { name: 'Northwind', numberofemployees: 5, ownerid: 'team-north' },
};
type RowName = keyof typeof rows;

function matching(filter: FilterTree): RowName[] {
  const predicate = compileFilter(filter, accountEntity, context);
  return (Object.keys(rows) as RowName[]).filter((name) => predicate(rows[name]));
}

const big = { attribute: 'numberofemployees', operator: 'ge', value: 100 } as const;
const mine = { attribute: 'ownerid', operator: 'eq-userid' } as const;
const namedN = { attribute: 'name', operator: 'begins-with', value: 'n' } as const;

describe('compileFilter', () => {
  it.each<[string, FilterTreeInput, RowName[]]>([
    ['and: every condition', { type: 'and', conditions: [big, mine] }, ['bigMine']],
    ['or: any condition', { type: 'or', conditions: [big, mine] }, ['bigMine', 'bigOther', 'smallMine']],
    [
      'or of a condition and a nested and',
      { type: 'or', conditions: [namedN], filters: [{ type: 'and', conditions: [big, mine] }] },
      ['bigMine', 'smallTeamNamed'],
    ],
    [
      'and of a condition and a nested or',
      { type: 'and', conditions: [mine], filters: [{ type: 'or', conditions: [big, namedN] }] },
      ['bigMine'],
    ],
    [
      'three levels',
      {
        type: 'or',
        filters: [{ type: 'and', conditions: [big], filters: [{ type: 'or', conditions: [mine, namedN] }] }],
      },
      ['bigMine'],
    ],
    [
      'an empty filter matches every row',
      { type: 'and' },
      ['bigMine', 'bigOther', 'smallMine', 'smallTeamNamed'],
    ],
    ['an empty or matches every row', { type: 'or' }, ['bigMine', 'bigOther', 'smallMine', 'smallTeamNamed']],
    [
      'an empty nested group is ignored, not counted as true',
      { type: 'or', conditions: [mine], filters: [{ type: 'and' }] },
      ['bigMine', 'smallMine'],
    ],
  ])('%s', (_name, input, expected) => {
    expect(matching(tree(input))).toEqual(expected);
  });

  it("names the failing condition's path", () => {
    const bad = tree({
      type: 'and',
      filters: [
        { type: 'or', conditions: [mine, { attribute: 'numberofemployees', operator: 'gt', value: 'x' }] },
      ],
    });
    expect(() => compileFilter(bad, accountEntity, context, 'customFilter')).toThrow(
      expect.objectContaining({
        code: 'ProfileInvalid',
        details: [expect.objectContaining({ path: 'customFilter.filters[0].conditions[1]' })],
      }) as AppError,
    );
  });
});

describe('compileConditions (org filter)', () => {
  it('requires every condition', () => {
    const predicate = compileConditions([big, mine], accountEntity, context);
    expect(predicate(rows.bigMine)).toBe(true);
    expect(predicate(rows.smallMine)).toBe(false);
    expect(predicate(rows.bigOther)).toBe(false);
  });

  it('matches every row when empty', () => {
    expect(compileConditions([], accountEntity, context)({})).toBe(true);
  });
});

describe('filterTreeSchema', () => {
  it('defaults missing lists and refuses unknown fields and operators', () => {
    expect(tree({ type: 'or' })).toEqual({ type: 'or', conditions: [], filters: [] });
    expect(filterTreeSchema.safeParse({ type: 'and', extra: 1 }).success).toBe(false);
    expect(
      filterTreeSchema.safeParse({
        type: 'and',
        filters: [{ type: 'or', conditions: [{ attribute: 'a', operator: 'x' }] }],
      }).success,
    ).toBe(false);
    expect(filterTreeSchema.safeParse({ type: 'xor' }).success).toBe(false);
  });
});

describe('filterDependencies', () => {
  it('tells whether a filter reads the clock or the user context, at any depth', () => {
    expect(filterDependencies([])).toEqual({ clock: false, user: false });
    expect(filterDependencies([{ attribute: 'modifiedon', operator: 'last-x-days', value: 10 }])).toEqual({
      clock: true,
      user: false,
    });
    expect(
      filterDependencies(
        tree({ type: 'and', conditions: [big], filters: [{ type: 'or', conditions: [mine] }] }),
      ),
    ).toEqual({
      clock: false,
      user: true,
    });
    expect(filterDependencies(tree({ type: 'or', conditions: [big, namedN] }))).toEqual({
      clock: false,
      user: false,
    });
  });
});
