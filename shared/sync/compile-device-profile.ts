import { createHash } from 'node:crypto';
import type { Clock } from '../clock';
import { AppError } from '../errors';
import { formulaDependencies, windowAttributes, type RowFormula } from '../filters/row-formula';
import type { EntityMetadata } from '../model/entity';
import type { ProfileItem, PublishedProfile } from '../model/profile';
import { resolveAssociation } from '../profiles/resolve-association';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import { compileMembership, type CompiledMembership } from '../security/membership';
import { compileSecuredColumnStripper, type SecuredColumnStripper } from '../security/secured-columns';
import type { UserContext } from '../security/user-context';
import { linkOf, sourceValueIsId, type CompiledAssociation } from './associations';

/**
 * What one entity's verdicts depend on, as the device state keeps it: the membership formulas bound
 * to the user and the day, a digest of everything else that decides them (the item, the metadata,
 * the associations in and out), and which secured columns are hidden. Comparing the judgement a
 * device's rows were decided under with today's tells the sync engine exactly what to redo: nothing,
 * the rows whose verdict a binding change can flip, a re-send, or the entity judged again.
 */
export interface EntityJudgement {
  formulas: { own: RowFormula; org: RowFormula; read: RowFormula };
  signature: string;
  hidden: string;
}

/** Everything download needs to decide membership of one entity's rows, bound to the syncing user. */
export interface CompiledEntity {
  name: string;
  metadata: EntityMetadata;
  item: ProfileItem;
  membership: CompiledMembership;
  strip: SecuredColumnStripper;
  /** Associations whose target is this entity. */
  incoming: CompiledAssociation[];
  /** Associations whose source is this entity. */
  outgoing: CompiledAssociation[];
  /**
   * Outgoing associations whose source value is not the row's id: the device state keeps those values
   * for each held row (in this order), so a change of one is followed to the row it reached before.
   */
  remembered: CompiledAssociation[];
  /**
   * The date attributes of the entity's windows, for an entity no association reaches (else none):
   * the device state keeps each held row's time key of them after its remembered values (this
   * order), so when the day changes the held rows a moved boundary can drop are found without
   * reading the others.
   */
  keys: string[];
  judgement: EntityJudgement;
}

/** A published profile compiled for one user on one day (SPEC §4, §5). */
export interface CompiledDeviceProfile {
  profile: PublishedProfile;
  /** Profile entities (published and offline-enabled), by name. */
  entities: ReadonlyMap<string, CompiledEntity>;
  /** Entity names ordered so that every association's source comes before its target. */
  order: readonly string[];
  /** Intersect entities of the profile's many-to-many associations: their rows pair profile rows. */
  intersectEntities: ReadonlySet<string>;
  /** Some formula holds a date window: membership may change when the UTC day changes. */
  clockDependent: boolean;
  /** A digest of every entity's judgement: equal digests, nothing to re-judge. */
  judgementDigest: string;
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 22);
}

/**
 * Compiles the user's published profile against the published entities: each item's rule, its
 * entity's org filter and the user's Read privilege, secured-column stripping, and the associations in
 * an order where sources come first. Items whose entity is not published or not offline-enabled are
 * left out (they download nothing), as are associations whose target is not in the profile.
 *
 * @throws AppError `ProfileInvalid` when the associations form a cycle (publish refuses that).
 */
export function compileDeviceProfile(
  profile: PublishedProfile,
  configured: readonly ConfiguredEntity[],
  user: UserContext,
  clock: Clock,
): CompiledDeviceProfile {
  const byName = new Map(configured.map((e) => [e.metadata.logicalName, e]));
  const allMetadata = configured.map((e) => e.metadata);
  const context = { user, clock };
  const entities = new Map<string, CompiledEntity>();
  for (const item of profile.items) {
    const config = byName.get(item.entity);
    if (config === undefined || !config.offline.enabled || entities.has(item.entity)) continue;
    const membership = compileMembership(item, config.offline.orgFilter, config.metadata, context);
    const strip = compileSecuredColumnStripper(user, config.metadata);
    entities.set(item.entity, {
      name: item.entity,
      metadata: config.metadata,
      item,
      membership,
      strip,
      incoming: [],
      outgoing: [],
      remembered: [],
      keys: [],
      judgement: {
        formulas: membership.formulas,
        signature: '',
        hidden: hiddenColumns(config.metadata, strip),
      },
    });
  }

  const intersectEntities = new Set<string>();
  for (const source of entities.values()) {
    for (const association of source.item.associations) {
      const resolved = resolveAssociation(source.metadata, association.relationship, allMetadata);
      if (resolved === undefined || resolved.target === source.name) continue;
      const target = entities.get(resolved.target);
      if (target === undefined) continue;
      const link = linkOf(source.name, resolved.relationship);
      if (link === undefined) continue;
      const compiled: CompiledAssociation = {
        relationship: association.relationship,
        source: source.name,
        target: target.name,
        link,
        sourceMetadata: source.metadata,
        targetMetadata: target.metadata,
      };
      source.outgoing.push(compiled);
      if (!sourceValueIsId(compiled)) source.remembered.push(compiled);
      target.incoming.push(compiled);
      if (link.kind === 'intersect') intersectEntities.add(link.intersectEntity);
    }
  }
  let clockDependent = false;
  for (const entity of entities.values()) {
    const { own, org, read } = entity.membership.formulas;
    if ([own, org, read].some((f) => formulaDependencies(f).clock)) clockDependent = true;
    if (entity.incoming.length === 0)
      entity.keys = [...new Set([own, org, read].flatMap(windowAttributes))].sort();
    const links = (list: CompiledAssociation[]) =>
      list.map(({ relationship, source, target, link }) => ({ relationship, source, target, link }));
    entity.judgement.signature = digest({
      rule: { ...entity.item, associations: undefined, syncIntervalMinutes: undefined },
      metadata: entity.metadata,
      incoming: links(entity.incoming),
      outgoing: links(entity.outgoing),
      // What the held values keep: another list means they are planned again (none: as before).
      ...(entity.keys.length > 0 ? { keys: entity.keys } : {}),
    });
  }
  const order = topologicalOrder(entities);
  return {
    profile,
    entities,
    order,
    intersectEntities,
    clockDependent,
    judgementDigest: digest(order.map((name) => [name, entities.get(name)!.judgement])),
  };
}

/** The secured columns of an entity hidden from the user, joined: rows are re-sent when it changes. */
function hiddenColumns(metadata: EntityMetadata, strip: SecuredColumnStripper): string {
  const visible = strip(Object.fromEntries(metadata.attributes.map((a) => [a.name, true])));
  return metadata.attributes
    .filter((a) => !Object.hasOwn(visible, a.name))
    .map((a) => a.name)
    .sort()
    .join(',');
}

/** Kahn's order over the association graph; a cycle (publish refuses them) is an error. */
function topologicalOrder(entities: ReadonlyMap<string, CompiledEntity>): string[] {
  const pending = new Map<string, number>();
  for (const entity of entities.values()) {
    pending.set(entity.name, new Set(entity.incoming.map((a) => a.source)).size);
  }
  const ready = [...entities.keys()].filter((name) => pending.get(name) === 0);
  const order: string[] = [];
  for (let next = ready.shift(); next !== undefined; next = ready.shift()) {
    order.push(next);
    const targets = new Set(entities.get(next)!.outgoing.map((a) => a.target));
    for (const target of targets) {
      const left = pending.get(target)! - 1;
      pending.set(target, left);
      if (left === 0) ready.push(target);
    }
  }
  if (order.length !== entities.size) {
    throw new AppError('ProfileInvalid', "The profile's associations form a cycle.", {
      details: { entities: [...entities.keys()].filter((n) => !order.includes(n)) },
    });
  }
  return order;
}
