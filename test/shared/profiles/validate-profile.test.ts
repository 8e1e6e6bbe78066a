import { profileContentSchema, type ProfileContent } from '../../../shared/model/profile';
import { defaultTenantSettings } from '../../../shared/model/settings';
import {
  validateProfile,
  type ConfiguredEntity,
  type ProfileValidationContext,
} from '../../../shared/profiles/validate-profile';
import { testEntities } from '../../support/offline-config-fixtures';

function contextWith(overrides: Partial<ProfileValidationContext> = {}): ProfileValidationContext {
  const entities = new Map<string, ConfiguredEntity>(
    testEntities().map((metadata) => [
      metadata.logicalName,
      { metadata, offline: { enabled: true, orgFilter: [], required: false } },
    ]),
  );
  return { entities, userIds: new Set(['u1', 'u2', 'u3']), settings: defaultTenantSettings, ...overrides };
}

function profile(input: { items: unknown[]; users?: string[] }): ProfileContent {
  return profileContentSchema.parse({ name: 'Sales', ...input });
}

function check(p: ProfileContent, context = contextWith()): string[] {
  return validateProfile(p, context).map((v) => `${v.path}:${v.code}`);
}

/** A valid profile: accounts of mine, their contacts (many-to-one from contact), their notes. */
const validItems = [
  { entity: 'account', rule: 'other', mine: true, team: true },
  {
    entity: 'contact',
    rule: 'other',
    customFilter: { type: 'and', conditions: [{ attribute: 'ownerid', operator: 'eq-useroruserteams' }] },
    associations: [{ relationship: 'contact_customer_accounts' }, { relationship: 'contact_notes' }],
    syncIntervalMinutes: 60,
  },
  { entity: 'note', rule: 'related' },
  { entity: 'transactioncurrency', rule: 'all' },
];

describe('validateProfile', () => {
  it('accepts a profile that keeps every rule', () => {
    expect(check(profile({ items: validItems, users: ['u1', 'u2'] }))).toEqual([]);
  });

  it('refuses an empty profile', () => {
    expect(check(profile({ items: [] }))).toEqual(['items:NoItems']);
  });

  it('refuses items on entities that do not exist, are not offline-enabled, or appear twice', () => {
    const entities = new Map(contextWith().entities);
    const account = entities.get('account');
    if (!account) throw new Error('fixture');
    entities.set('account', { ...account, offline: { ...account.offline, enabled: false } });
    const context = contextWith({ entities });
    expect(
      check(
        profile({
          items: [
            { entity: 'nosuch', rule: 'all' },
            { entity: 'account', rule: 'all' },
            { entity: 'account', rule: 'all' },
          ],
        }),
        context,
      ),
    ).toEqual([
      'items[0].entity:EntityNotFound',
      'items[1].entity:EntityNotOfflineEnabled',
      'items[2].entity:DuplicateItem',
      'items[2].entity:EntityNotOfflineEnabled',
    ]);
  });

  it('allows the rules and options of the SPEC table per ownership type', () => {
    // organization: related and all only.
    expect(check(profile({ items: [{ entity: 'transactioncurrency', rule: 'other', mine: true }] }))).toEqual(
      ['items[0].rule:RuleNotAllowed'],
    );
    // none: related only.
    expect(check(profile({ items: [{ entity: 'note', rule: 'all' }] }))).toEqual([
      'items[0].rule:RuleNotAllowed',
    ]);
    // business: business unit and custom filter, not mine or team.
    expect(check(profile({ items: [{ entity: 'territory', rule: 'other', businessUnit: true }] }))).toEqual(
      [],
    );
    expect(
      check(profile({ items: [{ entity: 'territory', rule: 'other', mine: true, team: true }] })),
    ).toEqual(['items[0].mine:OptionNotAllowed', 'items[0].team:OptionNotAllowed']);
    // user: everything.
    expect(
      check(
        profile({
          items: [{ entity: 'account', rule: 'other', mine: true, team: true, businessUnit: true }],
        }),
      ),
    ).toEqual([]);
  });

  it('refuses other filters combined with all or related', () => {
    expect(
      check(
        profile({
          items: [
            {
              entity: 'account',
              rule: 'all',
              mine: true,
              customFilter: { type: 'and', conditions: [{ attribute: 'name', operator: 'null' }] },
            },
            { entity: 'contact', rule: 'related', businessUnit: true },
            {
              entity: 'transactioncurrency',
              rule: 'all',
              associations: [{ relationship: 'account_currency' }],
            },
          ],
        }),
      ),
    ).toEqual([
      'items[0].mine:FilterNotAllowedWithRule',
      'items[0].customFilter:FilterNotAllowedWithRule',
      'items[1].businessUnit:FilterNotAllowedWithRule',
      'items[1].rule:NoAssociationTargetsItem',
    ]);
  });

  it('needs an association targeting a related item', () => {
    expect(
      check(
        profile({
          items: [
            { entity: 'account', rule: 'all' },
            { entity: 'contact', rule: 'related' },
          ],
        }),
      ),
    ).toEqual(['items[1].rule:NoAssociationTargetsItem']);
    expect(
      check(
        profile({
          items: [
            { entity: 'account', rule: 'all', associations: [{ relationship: 'contact_customer_accounts' }] },
            { entity: 'contact', rule: 'related' },
          ],
        }),
      ),
    ).toEqual([]);
  });

  it('needs a filter option for the other rule and checks custom filters with their paths', () => {
    expect(check(profile({ items: [{ entity: 'account', rule: 'other' }] }))).toEqual([
      'items[0].rule:FilterRequired',
    ]);
    expect(
      check(
        profile({
          items: [
            {
              entity: 'account',
              rule: 'other',
              customFilter: {
                type: 'or',
                conditions: [{ attribute: 'revenue', operator: 'begins-with', value: '1' }],
              },
            },
          ],
        }),
      ),
    ).toEqual(['items[0].customFilter.conditions[0].operator:OperatorNotValidForAttribute']);
  });

  it('bounds the item sync interval to 5..1440 minutes', () => {
    const items = (syncIntervalMinutes: number): unknown[] => [
      { entity: 'account', rule: 'all', syncIntervalMinutes },
    ];
    expect(check(profile({ items: items(5) }))).toEqual([]);
    expect(check(profile({ items: items(1440) }))).toEqual([]);
    expect(check(profile({ items: items(4) }))).toEqual([
      'items[0].syncIntervalMinutes:SyncIntervalOutOfRange',
    ]);
    expect(check(profile({ items: items(1441) }))).toEqual([
      'items[0].syncIntervalMinutes:SyncIntervalOutOfRange',
    ]);
  });

  it('checks each association: exists, not self, target in the profile, not twice', () => {
    expect(
      check(
        profile({
          items: [
            {
              entity: 'account',
              rule: 'all',
              associations: [
                { relationship: 'nosuch' },
                { relationship: 'account_parent_account' },
                { relationship: 'account_currency' },
                { relationship: 'contact_customer_accounts' },
                { relationship: 'contact_customer_accounts' },
              ],
            },
            { entity: 'contact', rule: 'related' },
          ],
        }),
      ),
    ).toEqual([
      'items[0].associations[0].relationship:RelationshipNotFound',
      'items[0].associations[1]:SelfReference',
      'items[0].associations[2]:AssociationTargetNotInProfile',
      'items[0].associations[4]:DuplicateAssociation',
    ]);
  });

  it('limits associations per item and one-to-many ones, from the tenant settings', () => {
    const items = [
      {
        entity: 'account',
        rule: 'all',
        associations: [{ relationship: 'contact_customer_accounts' }, { relationship: 'account_currency' }],
      },
      { entity: 'contact', rule: 'related' },
      { entity: 'transactioncurrency', rule: 'related' },
    ];
    expect(check(profile({ items }))).toEqual([]);
    const strict = contextWith({ settings: { maxRelationshipsPerItem: 1, maxOneToManyPerItem: 0 } });
    expect(check(profile({ items }), strict)).toEqual([
      'items[0].associations:TooManyAssociations',
      'items[0].associations:TooManyOneToManyAssociations',
    ]);
  });

  it('refuses a cycle across the profile associations and names its path', () => {
    const violations = validateProfile(
      profile({
        items: [
          { entity: 'account', rule: 'all', associations: [{ relationship: 'contact_customer_accounts' }] },
          { entity: 'contact', rule: 'all', associations: [{ relationship: 'contact_customer_accounts' }] },
        ],
      }),
      contextWith(),
    );
    expect(violations).toEqual([
      {
        path: 'items[1].associations[0]',
        code: 'AssociationCycle',
        message: 'Associations form a cycle: account → contact → account.',
      },
    ]);
  });

  it('checks users: in the directory, listed once, at most 1,000', () => {
    expect(
      check(profile({ items: [{ entity: 'account', rule: 'all' }], users: ['u1', 'nobody', 'u1'] })),
    ).toEqual(['users[1]:UserNotFound', 'users[2]:DuplicateUser']);
    const many = Array.from({ length: 1001 }, (_, k) => `user-${k}`);
    const context = contextWith({ userIds: new Set(many) });
    expect(check(profile({ items: [{ entity: 'account', rule: 'all' }], users: many }), context)).toEqual([
      'users:TooManyUsers',
    ]);
    expect(
      check(profile({ items: [{ entity: 'account', rule: 'all' }], users: many.slice(0, 1000) }), context),
    ).toEqual([]);
  });

  it('answers every violation of a profile at once', () => {
    const codes = check(
      profile({
        items: [
          { entity: 'note', rule: 'all' },
          { entity: 'account', rule: 'other', syncIntervalMinutes: 1 },
        ],
        users: ['ghost'],
      }),
    );
    expect(codes).toEqual([
      'items[0].rule:RuleNotAllowed',
      'items[1].syncIntervalMinutes:SyncIntervalOutOfRange',
      'items[1].rule:FilterRequired',
      'users[0]:UserNotFound',
    ]);
  });
});
