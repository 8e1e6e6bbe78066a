import { validateFilterTree } from '../filters/validate-filter-tree';
import type { EntityMetadata, EntityOfflineSettings, Ownership } from '../model/entity';
import {
  MAX_ITEM_SYNC_INTERVAL_MINUTES,
  MAX_PROFILE_USERS,
  MIN_ITEM_SYNC_INTERVAL_MINUTES,
  type ProfileContent,
  type ProfileItem,
  type ProfileItemRule,
  type Violation,
} from '../model/profile';
import type { TenantSettings } from '../model/settings';
import { resolveAssociation } from './resolve-association';

/** The filter options of the `other` rule. */
export type ItemFilterOption = 'mine' | 'team' | 'businessUnit' | 'customFilter';

/** What each ownership type allows (SPEC §4 table): rules, and the options of the `other` rule. */
export const itemRulesByOwnership: Record<
  Ownership,
  { rules: readonly ProfileItemRule[]; options: readonly ItemFilterOption[] }
> = {
  user: { rules: ['related', 'all', 'other'], options: ['mine', 'team', 'businessUnit', 'customFilter'] },
  organization: { rules: ['related', 'all'], options: [] },
  business: { rules: ['related', 'all', 'other'], options: ['businessUnit', 'customFilter'] },
  none: { rules: ['related'], options: [] },
};

/** An entity as profile validation sees it: published metadata and offline settings. */
export interface ConfiguredEntity {
  metadata: EntityMetadata;
  offline: EntityOfflineSettings;
}

/** What a profile is validated against. */
export interface ProfileValidationContext {
  /** Published entities by logical name. */
  entities: ReadonlyMap<string, ConfiguredEntity>;
  /** Ids of the directory's users. */
  userIds: ReadonlySet<string>;
  settings: Pick<TenantSettings, 'maxRelationshipsPerItem' | 'maxOneToManyPerItem'>;
}

function selectedOptions(item: ProfileItem): ItemFilterOption[] {
  const options: ItemFilterOption[] = [];
  if (item.mine) options.push('mine');
  if (item.team) options.push('team');
  if (item.businessUnit) options.push('businessUnit');
  if (item.customFilter !== undefined) options.push('customFilter');
  return options;
}

/** An association edge that passed its own checks: from item `from` to the item of `target`. */
interface AssociationEdge {
  from: string;
  target: string;
  path: string;
}

/**
 * Validates a profile against every rule of SPEC §4 and returns every violation at once (empty when
 * the profile may be published), each with its path (`items[2].customFilter.conditions[0].value`,
 * `items[0].associations[1]`, `users[4]`), a stable code and a message:
 *
 * - items: entity exists and is offline-enabled, one item per entity, rule allowed by the entity's
 *   ownership; `all` and `related` combine with no other filter; `related` needs an association of
 *   another item that targets the entity; `other` needs mine / team / business unit or a custom
 *   filter, each allowed by the ownership; custom filters valid; sync interval 5 to 1,440 minutes;
 * - associations: the relationship exists on the item's entity, no self-reference, the target has its
 *   own item, no duplicates, at most N per item of which at most M one-to-many or many-to-many (tenant
 *   settings), and no cycle across the profile's associations (the message names the cycle's path);
 * - users: exist in the directory, no duplicates, at most 1,000.
 */
export function validateProfile(profile: ProfileContent, context: ProfileValidationContext): Violation[] {
  const violations: Violation[] = [];
  const add = (path: string, code: string, message: string): void => {
    violations.push({ path, code, message });
  };
  const allMetadata = [...context.entities.values()].map((e) => e.metadata);
  const itemEntities = new Set(profile.items.map((item) => item.entity));
  const seenEntities = new Set<string>();
  const edges: AssociationEdge[] = [];

  if (profile.items.length === 0) add('items', 'NoItems', 'A profile needs at least one item.');

  profile.items.forEach((item, i) => {
    const at = `items[${i}]`;
    if (seenEntities.has(item.entity)) {
      add(`${at}.entity`, 'DuplicateItem', `Entity '${item.entity}' already has an item in this profile.`);
    }
    seenEntities.add(item.entity);

    if (
      item.syncIntervalMinutes !== undefined &&
      (item.syncIntervalMinutes < MIN_ITEM_SYNC_INTERVAL_MINUTES ||
        item.syncIntervalMinutes > MAX_ITEM_SYNC_INTERVAL_MINUTES)
    ) {
      add(
        `${at}.syncIntervalMinutes`,
        'SyncIntervalOutOfRange',
        `The sync interval must be ${MIN_ITEM_SYNC_INTERVAL_MINUTES} to ${MAX_ITEM_SYNC_INTERVAL_MINUTES} minutes.`,
      );
    }

    const configured = context.entities.get(item.entity);
    if (configured === undefined) {
      add(`${at}.entity`, 'EntityNotFound', `Entity '${item.entity}' does not exist (or is not published).`);
      return;
    }
    if (!configured.offline.enabled) {
      add(`${at}.entity`, 'EntityNotOfflineEnabled', `Entity '${item.entity}' is not enabled for offline.`);
    }
    const { metadata } = configured;
    const allowed = itemRulesByOwnership[metadata.ownership];
    const options = selectedOptions(item);

    if (!allowed.rules.includes(item.rule)) {
      add(
        `${at}.rule`,
        'RuleNotAllowed',
        `Rule '${item.rule}' is not available for '${item.entity}' (ownership ${metadata.ownership}); allowed: ${allowed.rules.join(', ')}.`,
      );
    } else if (item.rule === 'other') {
      if (options.length === 0) {
        add(
          `${at}.rule`,
          'FilterRequired',
          "Rule 'other' needs at least one of mine, team, businessUnit or a custom filter.",
        );
      }
      for (const option of options) {
        if (!allowed.options.includes(option)) {
          add(
            `${at}.${option}`,
            'OptionNotAllowed',
            `Option '${option}' is not available for '${item.entity}' (ownership ${metadata.ownership}).`,
          );
        }
      }
    } else {
      for (const option of options) {
        add(
          `${at}.${option}`,
          'FilterNotAllowedWithRule',
          `Rule '${item.rule}' cannot be combined with '${option}'.`,
        );
      }
    }
    if (item.customFilter !== undefined) {
      violations.push(...validateFilterTree(item.customFilter, metadata, `${at}.customFilter`));
    }

    let oneToManyCount = 0;
    const seenRelationships = new Set<string>();
    item.associations.forEach((association, j) => {
      const path = `${at}.associations[${j}]`;
      if (seenRelationships.has(association.relationship)) {
        add(path, 'DuplicateAssociation', `Relationship '${association.relationship}' is selected twice.`);
        return;
      }
      seenRelationships.add(association.relationship);
      const resolved = resolveAssociation(metadata, association.relationship, allMetadata);
      if (resolved === undefined) {
        add(
          `${path}.relationship`,
          'RelationshipNotFound',
          `Entity '${item.entity}' has no relationship '${association.relationship}'.`,
        );
        return;
      }
      if (resolved.direction !== 'many-to-one') oneToManyCount += 1;
      if (resolved.target === item.entity) {
        add(
          path,
          'SelfReference',
          `Relationship '${association.relationship}' refers '${item.entity}' to itself.`,
        );
        return;
      }
      if (!itemEntities.has(resolved.target)) {
        add(
          path,
          'AssociationTargetNotInProfile',
          `Relationship '${association.relationship}' leads to '${resolved.target}', which has no item in this profile.`,
        );
        return;
      }
      edges.push({ from: item.entity, target: resolved.target, path });
    });
    if (item.associations.length > context.settings.maxRelationshipsPerItem) {
      add(
        `${at}.associations`,
        'TooManyAssociations',
        `An item has at most ${context.settings.maxRelationshipsPerItem} associations; this one has ${item.associations.length}.`,
      );
    }
    if (oneToManyCount > context.settings.maxOneToManyPerItem) {
      add(
        `${at}.associations`,
        'TooManyOneToManyAssociations',
        `An item has at most ${context.settings.maxOneToManyPerItem} one-to-many or many-to-many associations; this one has ${oneToManyCount}.`,
      );
    }
  });

  // `related` items need an association of another item that reaches them.
  const targeted = new Set(edges.map((edge) => edge.target));
  profile.items.forEach((item, i) => {
    if (item.rule === 'related' && context.entities.has(item.entity) && !targeted.has(item.entity)) {
      add(
        `items[${i}].rule`,
        'NoAssociationTargetsItem',
        `Rule 'related' downloads nothing: no association of this profile leads to '${item.entity}'.`,
      );
    }
  });

  violations.push(...findAssociationCycles(edges));
  violations.push(...validateProfileUsers(profile.users, context.userIds));
  return violations;
}

/** Every distinct cycle of the association graph, reported on the association that closes it. */
function findAssociationCycles(edges: readonly AssociationEdge[]): Violation[] {
  const outgoing = new Map<string, AssociationEdge[]>();
  for (const edge of edges) outgoing.set(edge.from, [...(outgoing.get(edge.from) ?? []), edge]);
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const reported = new Set<string>();
  const violations: Violation[] = [];

  function visit(node: string): void {
    state.set(node, 'visiting');
    stack.push(node);
    for (const edge of outgoing.get(node) ?? []) {
      const targetState = state.get(edge.target);
      if (targetState === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(edge.target)), edge.target];
        // One report per cycle, whichever node the search entered it from.
        const key = [...cycle.slice(0, -1)].sort().join('|');
        if (!reported.has(key)) {
          reported.add(key);
          violations.push({
            path: edge.path,
            code: 'AssociationCycle',
            message: `Associations form a cycle: ${cycle.join(' → ')}.`,
          });
        }
      } else if (targetState === undefined) {
        visit(edge.target);
      }
    }
    stack.pop();
    state.set(node, 'done');
  }

  for (const node of outgoing.keys()) if (!state.has(node)) visit(node);
  return violations;
}

/** Users of a profile: each in the directory, each once, at most 1,000. */
export function validateProfileUsers(users: readonly string[], userIds: ReadonlySet<string>): Violation[] {
  const violations: Violation[] = [];
  if (users.length > MAX_PROFILE_USERS) {
    violations.push({
      path: 'users',
      code: 'TooManyUsers',
      message: `A profile has at most ${MAX_PROFILE_USERS} users; this one has ${users.length}.`,
    });
  }
  const seen = new Set<string>();
  users.forEach((userId, k) => {
    if (seen.has(userId)) {
      violations.push({
        path: `users[${k}]`,
        code: 'DuplicateUser',
        message: `User '${userId}' is listed twice.`,
      });
    } else if (!userIds.has(userId)) {
      violations.push({
        path: `users[${k}]`,
        code: 'UserNotFound',
        message: `User '${userId}' is not in the directory.`,
      });
    }
    seen.add(userId);
  });
  return violations;
}
