import { findProfileForAppUser } from '../../../../shared/admin/app-config';
import { loadDirectory } from '../../../../shared/admin/directory-store';
import { loadEntities } from '../../../../shared/admin/entity-config';
import type { Clock } from '../../../../shared/clock';
import type { StoredRecord } from '../../../../shared/model/record';
import { resolveAssociation } from '../../../../shared/profiles/resolve-association';
import { compileMembership } from '../../../../shared/security/membership';
import { compileSecuredColumnStripper } from '../../../../shared/security/secured-columns';
import { buildUserContext } from '../../../../shared/security/user-context';
import type { TenantStore } from '../../../../shared/store/port';
import { APP } from './download-test-tenant';

/**
 * The rows a user's device may hold, computed the plain way: every live row of every entity read into
 * memory, own-rule members first, then association targets added until nothing changes (a fixpoint,
 * no ordering), each member checked against its org filter and Read privilege. Row-level predicates
 * (rules, filters, privileges) come from the security area, which has its own tests; how they combine
 * with associations and versions is re-implemented here on purpose.
 */
export async function oracleRows(
  store: TenantStore,
  objectId: string,
  clock: Clock,
): Promise<Map<string, { version: string; row: Record<string, unknown> }>> {
  const directory = await loadDirectory(store);
  const user = directory.users.find((u) => u.entraObjectId === objectId)!;
  const context = buildUserContext(directory, user.id);
  const profile = await findProfileForAppUser(store, APP, user.id);
  const entities = await loadEntities(store);
  const rowsOf = new Map<string, StoredRecord[]>();
  const allRows = async (entity: string): Promise<StoredRecord[]> => {
    const known = rowsOf.get(entity);
    if (known) return known;
    const rows = (await store.scanRecords(entity, { limit: 100_000 })).filter((r) => !r.deleted);
    rowsOf.set(entity, rows);
    return rows;
  };
  const items = profile.items.filter((item) =>
    entities.some((e) => e.metadata.logicalName === item.entity && e.offline.enabled),
  );
  const members = new Map<string, Map<string, StoredRecord>>();
  const compiled = new Map(
    items.map((item) => {
      const config = entities.find((e) => e.metadata.logicalName === item.entity)!;
      return [
        item.entity,
        {
          item,
          metadata: config.metadata,
          m: compileMembership(item, config.offline.orgFilter, config.metadata, { user: context, clock }),
        },
      ];
    }),
  );
  const allowed = (entity: string, row: StoredRecord): boolean => {
    const c = compiled.get(entity)!;
    return c.m.orgFilter(row.attributes) && c.m.canRead(row.attributes);
  };
  for (const item of items) {
    const set = new Map<string, StoredRecord>();
    for (const row of await allRows(item.entity)) {
      if (compiled.get(item.entity)!.m.ownRule(row.attributes) && allowed(item.entity, row))
        set.set(row.id, row);
    }
    members.set(item.entity, set);
  }
  const lower = (v: unknown): string | undefined => (typeof v === 'string' ? v.toLowerCase() : undefined);
  for (let changed = true; changed;) {
    changed = false;
    for (const item of items) {
      const source = compiled.get(item.entity)!;
      for (const association of item.associations) {
        const resolved = resolveAssociation(
          source.metadata,
          association.relationship,
          entities.map((e) => e.metadata),
        );
        if (!resolved || !compiled.has(resolved.target)) continue;
        const sourceRows = [...members.get(item.entity)!.values()];
        const targetSet = members.get(resolved.target)!;
        const rel = resolved.relationship;
        for (const candidate of await allRows(resolved.target)) {
          if (targetSet.has(candidate.id) || !allowed(resolved.target, candidate)) continue;
          let reached: boolean;
          if (rel.kind === 'many-to-many') {
            const [mine, theirs] =
              rel.entity1 === item.entity
                ? [rel.entity1Attribute, rel.entity2Attribute]
                : [rel.entity2Attribute, rel.entity1Attribute];
            const pairs = await allRows(rel.intersectEntity);
            reached = pairs.some(
              (p) =>
                lower(p.attributes[theirs]) === candidate.id.toLowerCase() &&
                sourceRows.some((s) => s.id.toLowerCase() === lower(p.attributes[mine])),
            );
          } else if (rel.referencingEntity === item.entity) {
            reached = sourceRows.some(
              (s) => lower(s.attributes[rel.referencingAttribute]) === candidate.id.toLowerCase(),
            );
          } else {
            reached = sourceRows.some(
              (s) => s.id.toLowerCase() === lower(candidate.attributes[rel.referencingAttribute]),
            );
          }
          if (reached) {
            targetSet.set(candidate.id, candidate);
            changed = true;
          }
        }
      }
    }
  }
  const result = new Map<string, { version: string; row: Record<string, unknown> }>();
  for (const [entity, set] of members) {
    const strip = compileSecuredColumnStripper(context, compiled.get(entity)!.metadata);
    for (const row of set.values())
      result.set(`${entity}/${row.id}`, { version: row.version, row: strip(row.attributes) });
  }
  return result;
}
