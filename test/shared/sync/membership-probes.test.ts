import { ManualClock } from '../../../shared/clock';
import type { FilterContext } from '../../../shared/filters/evaluate-condition';
import { allOf, compileFormula, filterFormula, type RowFormula } from '../../../shared/filters/row-formula';
import type { StoredRecord } from '../../../shared/model/record';
import { membershipFormulas } from '../../../shared/security/membership';
import { buildUserContext } from '../../../shared/security/user-context';
import type { RecordProbe } from '../../../shared/store/port';
import { probeMatches } from '../../../shared/store/record-keys';
import { formulaCovers, formulaDelta, ownershipCover } from '../../../shared/sync/membership-probes';
import { withinCover } from '../../../shared/sync/sync-work';
import { accountEntity, syncDirectory } from '../security/sync-security-fixture';

/**
 * Membership formulas become store look-ups (covers), ownership keys (which changes a device reads)
 * and deltas (which rows a directory edit or the day changing can move). Each rule is checked
 * against the predicate it comes from: a cover must find every row the formula accepts.
 */

const day = (iso: string): ManualClock => new ManualClock(iso);
const directory = syncDirectory({
  roles: [
    { id: 'role-user', name: 'User level', privileges: { account: { read: 'user' } } },
    { id: 'role-bu', name: 'BU level', privileges: { account: { read: 'businessUnit' } } },
    { id: 'role-org', name: 'Org level', privileges: { account: { read: 'organization' } } },
  ],
});
function contextOf(
  roleIds: string[],
  clock = day('2026-01-15T12:00:00.000Z'),
  teamsOf = directory.teams,
): FilterContext {
  const d = {
    ...directory,
    teams: teamsOf,
    users: directory.users.map((u) => (u.id === 'user-alice' ? { ...u, roleIds } : u)),
  };
  return { user: buildUserContext(d, 'user-alice'), clock };
}

const rows: StoredRecord[] = [
  [
    'mine',
    { ownerid: 'USER-ALICE', owningbusinessunit: 'bu-x', modifiedon: '2026-01-15T01:00:00Z', name: 'a' },
  ],
  ['team', { ownerid: 'team-north', owningbusinessunit: 'bu-service', modifiedon: '2026-01-01T00:00:00Z' }],
  [
    'bu',
    { ownerid: 'user-zed', owningbusinessunit: 'bu-sales', modifiedon: '2026-01-10T00:00:00Z', name: 'b' },
  ],
  ['other', { ownerid: 'user-frank', owningbusinessunit: 'bu-service', modifiedon: '2026-01-14T00:00:00Z' }],
  ['old', { ownerid: 'user-alice', owningbusinessunit: 'bu-sales', modifiedon: '2025-12-01T00:00:00Z' }],
  ['nobody', { name: 'n', numberofemployees: 5 }],
].map(([id, attributes]) => ({
  entity: 'account',
  id: id as string,
  version: '1',
  deleted: false,
  attributes: attributes as Record<string, unknown>,
  updatedAt: '2026-01-01T00:00:00Z',
}));

/** Every row each cover of a formula finds must include every row the formula accepts. */
function expectCoversComplete(formula: RowFormula): void {
  const accepts = compileFormula(formula, accountEntity);
  const accepted = rows.filter((r) => accepts(r.attributes)).map((r) => r.id);
  for (const cover of formulaCovers(formula, accountEntity)) {
    const found =
      cover === 'all'
        ? rows.map((r) => r.id)
        : rows.filter((r) => cover.some((p) => probeMatches(p, r))).map((r) => r.id);
    expect(found).toEqual(expect.arrayContaining(accepted));
  }
}

describe('covers: the look-ups that find every row a formula can accept', () => {
  it('covers mine, team and business unit by the ids the user binds', () => {
    const context = contextOf(['role-bu']);
    const f = membershipFormulas(
      { rule: 'other', mine: true, team: true, businessUnit: true },
      [],
      accountEntity,
      context,
    );
    const direct = allOf([f.own, f.org, f.read]);
    const covers = formulaCovers(direct, accountEntity);
    expect(covers).toContainEqual([
      { kind: 'text', attribute: 'ownerid', values: ['user-alice'] },
      { kind: 'text', attribute: 'ownerid', values: ['team-north'] },
      { kind: 'text', attribute: 'owningbusinessunit', values: ['bu-sales'] },
    ]);
    expectCoversComplete(direct);
  });

  it('covers an all-rows item by Read below organization level, and reads the entity whole only at organization level', () => {
    const user = membershipFormulas({ rule: 'all' }, [], accountEntity, contextOf(['role-user']));
    expect(formulaCovers(allOf([user.own, user.org, user.read]), accountEntity)).toEqual([
      [
        { kind: 'text', attribute: 'ownerid', values: ['team-north', 'user-alice'] },
        { kind: 'text', attribute: 'owningbusinessunit', values: [] },
      ],
    ]);
    const org = membershipFormulas({ rule: 'all' }, [], accountEntity, contextOf(['role-org']));
    expect(formulaCovers(allOf([org.own, org.org, org.read]), accountEntity)).toEqual(['all']);
  });

  it('covers an org-level all-rows item by its org filter window, and related-only by nothing at all', () => {
    const orgFilter = [{ attribute: 'modifiedon', operator: 'last-x-days' as const, value: 10 }];
    const f = membershipFormulas({ rule: 'all' }, orgFilter, accountEntity, contextOf(['role-org']));
    const direct = allOf([f.own, f.org, f.read]);
    expect(formulaCovers(direct, accountEntity)).toEqual([
      [
        {
          kind: 'time',
          attribute: 'modifiedon',
          from: Date.parse('2026-01-05T00:00:00Z'),
          to: Date.parse('2026-01-16T00:00:00Z'),
        },
      ],
    ]);
    expectCoversComplete(direct);
    const related = membershipFormulas({ rule: 'related' }, [], accountEntity, contextOf(['role-org']));
    expect(formulaCovers(allOf([related.own, related.org, related.read]), accountEntity)).toEqual([[]]);
  });

  it.each<[string, RowFormula]>([
    [
      'eq text',
      filterFormula(
        { type: 'and', conditions: [{ attribute: 'name', operator: 'eq', value: 'A' }], filters: [] },
        contextOf([]),
      ),
    ],
    [
      'in numbers',
      filterFormula(
        {
          type: 'and',
          conditions: [{ attribute: 'numberofemployees', operator: 'in', value: [5, 6] }],
          filters: [],
        },
        contextOf([]),
      ),
    ],
    [
      'date range',
      filterFormula(
        {
          type: 'and',
          conditions: [{ attribute: 'modifiedon', operator: 'ge', value: '2026-01-10' }],
          filters: [],
        },
        contextOf([]),
      ),
    ],
    [
      'or of a pattern and an id',
      filterFormula(
        {
          type: 'or',
          conditions: [
            { attribute: 'name', operator: 'like', value: 'a%' },
            { attribute: 'ownerid', operator: 'eq-userid' },
          ],
          filters: [],
        },
        contextOf([]),
      ),
    ],
    [
      'and of a negation and a hierarchy',
      filterFormula(
        {
          type: 'and',
          conditions: [
            { attribute: 'ownerid', operator: 'ne-userid' },
            { attribute: 'ownerid', operator: 'eq-useroruserhierarchy' },
          ],
          filters: [],
        },
        contextOf([]),
      ),
    ],
  ])('a cover of %s finds every row it accepts', (_, formula) => {
    expectCoversComplete(formula);
  });

  it('has no cover for a negation or a pattern alone: the entity is read whole', () => {
    const ne = filterFormula(
      { type: 'and', conditions: [{ attribute: 'ownerid', operator: 'ne-userid' }], filters: [] },
      contextOf([]),
    );
    expect(formulaCovers(ne, accountEntity)).toEqual(['all']);
    const like = filterFormula(
      { type: 'and', conditions: [{ attribute: 'name', operator: 'like', value: '%a' }], filters: [] },
      contextOf([]),
    );
    expect(formulaCovers(like, accountEntity)).toEqual(['all']);
  });
});

describe('ownership cover: which changes a device must read', () => {
  it('is the owners and business units the rule names', () => {
    const f = membershipFormulas(
      { rule: 'other', mine: true, team: true },
      [],
      accountEntity,
      contextOf(['role-bu']),
    );
    expect(ownershipCover(allOf([f.own, f.org, f.read]))).toEqual(['o:team-north', 'o:user-alice']);
  });

  it('falls back to Read when the rule is not covered by ownership, and is undefined at organization level', () => {
    const custom = {
      type: 'and' as const,
      conditions: [{ attribute: 'name', operator: 'like' as const, value: 'a%' }],
      filters: [],
    };
    const bu = membershipFormulas(
      { rule: 'other', customFilter: custom },
      [],
      accountEntity,
      contextOf(['role-bu']),
    );
    expect(ownershipCover(allOf([bu.own, bu.org, bu.read]))).toEqual([
      'b:bu-sales',
      'o:team-north',
      'o:user-alice',
    ]);
    const org = membershipFormulas(
      { rule: 'other', customFilter: custom },
      [],
      accountEntity,
      contextOf(['role-org']),
    );
    expect(ownershipCover(allOf([org.own, org.org, org.read]))).toBeUndefined();
  });
});

describe('formula deltas: the rows a binding change can move', () => {
  const ownOf = (context: FilterContext) =>
    membershipFormulas({ rule: 'other', mine: true, team: true }, [], accountEntity, context).own;

  it('is nothing when the bindings are equal', () => {
    expect(formulaDelta(ownOf(contextOf(['role-bu'])), ownOf(contextOf(['role-bu'])))).toEqual({
      structural: false,
      probes: [],
      entering: [],
      leaving: [],
    });
  });

  it('looks up the teams added (their rows can only enter) and removed (theirs can only leave)', () => {
    const before = contextOf(['role-bu']);
    const after = contextOf(['role-bu'], undefined, [
      {
        id: 'team-east',
        name: 'East',
        businessUnitId: 'bu-sales-east',
        memberIds: ['user-alice'],
        roleIds: [],
      },
    ]);
    const east = { kind: 'text', attribute: 'ownerid', values: ['team-east'] };
    const north = { kind: 'text', attribute: 'ownerid', values: ['team-north'] };
    expect(formulaDelta(ownOf(before), ownOf(after))).toEqual({
      structural: false,
      probes: [east, north],
      entering: [east],
      leaving: [north],
    });
  });

  it('looks up the two boundary days when the day changes under last-x-days', () => {
    const orgFilter = [{ attribute: 'modifiedon', operator: 'last-x-days' as const, value: 3 }];
    const org = (clock: ManualClock) =>
      membershipFormulas({ rule: 'all' }, orgFilter, accountEntity, contextOf([], clock)).org;
    const delta = formulaDelta(org(day('2026-01-15T23:00:00Z')), org(day('2026-01-16T01:00:00Z')));
    const D = (iso: string) => Date.parse(iso);
    // [01-12, 01-16) becomes [01-13, 01-17): 01-12 leaves, 01-16 enters.
    const leaving = {
      kind: 'time',
      attribute: 'modifiedon',
      from: D('2026-01-12T00:00:00Z'),
      to: D('2026-01-13T00:00:00Z'),
    };
    const entering = {
      kind: 'time',
      attribute: 'modifiedon',
      from: D('2026-01-16T00:00:00Z'),
      to: D('2026-01-17T00:00:00Z'),
    };
    expect(delta).toEqual({
      structural: false,
      probes: [entering, leaving],
      entering: [entering],
      leaving: [leaving],
    });
    // Within one day nothing moves.
    expect(formulaDelta(org(day('2026-01-15T01:00:00Z')), org(day('2026-01-15T23:00:00Z')))).toEqual({
      structural: false,
      probes: [],
      entering: [],
      leaving: [],
    });
  });

  it('is structural when Read reaches every row or none anew, or the rule changes', () => {
    const read = (roles: string[]) =>
      membershipFormulas({ rule: 'all' }, [], accountEntity, contextOf(roles)).read;
    expect(formulaDelta(read(['role-user']), read(['role-org']))).toEqual({ structural: true });
    expect(formulaDelta(read(['role-user']), read([]))).toEqual({ structural: true });
    const salesUnit = { kind: 'text', attribute: 'owningbusinessunit', values: ['bu-sales'] };
    expect(formulaDelta(read(['role-user']), read(['role-bu']))).toEqual({
      structural: false,
      probes: [salesUnit],
      entering: [salesUnit],
      leaving: [],
    });
    const mine = membershipFormulas({ rule: 'other', mine: true }, [], accountEntity, contextOf([])).own;
    const team = membershipFormulas({ rule: 'other', team: true }, [], accountEntity, contextOf([])).own;
    expect(formulaDelta(mine, ownOf(contextOf([])))).toEqual({ structural: true });
    const north = { kind: 'text', attribute: 'ownerid', values: ['team-north'] };
    const alice = { kind: 'text', attribute: 'ownerid', values: ['user-alice'] };
    expect(formulaDelta(mine, team)).toEqual({
      structural: false,
      probes: [north, alice],
      entering: [north],
      leaving: [alice],
    });
  });

  it('flips exactly the rows its probes find (checked against both predicates)', () => {
    const before = contextOf(['role-user']);
    const after = contextOf(['role-bu'], undefined, []);
    const formula = (c: FilterContext) => {
      const f = membershipFormulas(
        { rule: 'other', mine: true, team: true, businessUnit: true },
        [],
        accountEntity,
        c,
      );
      return allOf([f.own, f.org, f.read]);
    };
    const delta = formulaDelta(formula(before), formula(after));
    if (delta.structural) throw new Error('expected a binding delta');
    const was = compileFormula(formula(before), accountEntity);
    const is = compileFormula(formula(after), accountEntity);
    for (const row of rows) {
      const [before, after] = [was(row.attributes), is(row.attributes)];
      const found = delta.probes.some((p: RecordProbe) => probeMatches(p, row));
      // A row that became a member is found by an entering probe, one that stopped by a leaving one.
      const entered = delta.entering.some((p: RecordProbe) => probeMatches(p, row));
      const left = delta.leaving.some((p: RecordProbe) => probeMatches(p, row));
      if (before !== after) expect({ row: row.id, found }).toEqual({ row: row.id, found: true });
      if (!before && after) expect({ row: row.id, entered }).toEqual({ row: row.id, entered: true });
      if (before && !after) expect({ row: row.id, left }).toEqual({ row: row.id, left: true });
    }
  });
});

describe('withinCover: a cover narrowed to the date ranges a window gained', () => {
  const owners: RecordProbe = { kind: 'text', attribute: 'ownerid', values: ['u1', 't1'] };
  const units: RecordProbe = { kind: 'text', attribute: 'owningbusinessunit', values: ['east'] };
  const day: RecordProbe = { kind: 'time', attribute: 'scheduledend', from: 10, to: 20 };
  it.each([
    [
      'owners within a planned date',
      [owners],
      [day],
      [{ ...owners, within: { attribute: 'scheduledend', from: 10, to: 20 } }],
    ],
    [
      'owners and units within it',
      [owners, units],
      [day],
      [
        { ...owners, within: { attribute: 'scheduledend', from: 10, to: 20 } },
        { ...units, within: { attribute: 'scheduledend', from: 10, to: 20 } },
      ],
    ],
    [
      'a write stamp (its gained day holds no stored row)',
      [owners],
      [{ ...day, attribute: 'modifiedon' }],
      undefined,
    ],
    [
      'a cover of another attribute',
      [{ kind: 'text', attribute: 'parentid', values: ['a'] }],
      [day],
      undefined,
    ],
    ['a cover of every row', [{ kind: 'all' }], [day], undefined],
    [
      'a range that is not of dates',
      [owners],
      [{ kind: 'text', attribute: 'ownerid', values: ['t2'] }],
      undefined,
    ],
  ] as [string, RecordProbe[], RecordProbe[], RecordProbe[] | undefined][])(
    '%s',
    (_name, cover, ranges, expected) => {
      expect(withinCover(cover, ranges)).toEqual(expected);
    },
  );
});
