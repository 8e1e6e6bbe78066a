import { z } from 'zod';
import { loadDirectory } from '../admin/directory-store';
import { loadEntities } from '../admin/entity-config';
import { checkProfile, getProfile } from '../admin/profile-service';
import { getTenantSettings } from '../admin/settings-store';
import type { Clock } from '../clock';
import type { PublishedProfile } from '../model/profile';
import { violationSchema } from '../model/profile';
import type { StoredRecord } from '../model/record';
import { canSyncAtAll } from '../security/privileges';
import { buildUserContext } from '../security/user-context';
import type { RecordProbe, TenantStore } from '../store/port';
import { intersectPair, sourceValue, sourceValueIsId, targetsProbe } from './associations';
import { compileDeviceProfile, type CompiledDeviceProfile } from './compile-device-profile';
import { findAll, isDirectMember } from './judge-rows';
import { chooseCover } from './sync-work';

/** Rows one user's preview of one entity downloads, and about how many bytes. */
export const previewEntitySchema = z.object({
  entity: z.string(),
  rows: z.number().int().nonnegative(),
  /** Uncompressed JSON of the rows as a download's changes carry them (secured columns stripped). */
  bytes: z.number().int().nonnegative(),
});
export type PreviewEntity = z.infer<typeof previewEntitySchema>;

/** Where a user's row count stands against the tenant's row limits. */
export const rowLimitStandingSchema = z.enum(['within', 'soft', 'hard']);

export const previewUserSchema = z.object({
  userId: z.string(),
  userName: z.string().nullable(),
  fullName: z.string().nullable(),
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** `soft`: past the soft row limit (a warning on every sync); `hard`: past the hard one (refused). */
  limit: rowLimitStandingSchema,
  entities: z.array(previewEntitySchema),
  /** Why the user downloads nothing (not in the directory, no Read on offline profiles); else null. */
  problem: z.string().nullable(),
});
export type PreviewUser = z.infer<typeof previewUserSchema>;

/** Answer of `POST admin/{org}/profiles/{id}/preview`. */
export const profilePreviewSchema = z.object({
  profileId: z.string(),
  computedAt: z.iso.datetime(),
  softRowLimit: z.number().int(),
  hardRowLimit: z.number().int(),
  users: z.array(previewUserSchema),
  /** What a publish of the draft would refuse now: the preview counts the items it can compile. */
  violations: z.array(violationSchema),
});
export type ProfilePreview = z.infer<typeof profilePreviewSchema>;

/** Body of the preview route: some of the draft's users only (default: all of them). */
export const profilePreviewRequestSchema = z
  .object({ users: z.array(z.string().min(1).max(100)).max(1000).optional() })
  .strict();

/** Values per association look-up (the download's reach step takes as many). */
const VALUES_PER_STEP = 200;

/**
 * What each user of a profile's DRAFT would download on a first sync, before it is published: rows
 * per entity and estimated bytes, and who passes the soft or hard row limit. Each user's rows are
 * found as a first download finds them (sync-work.ts): the draft compiled for the user, each entity's
 * cheapest cover of look-ups (owners, business units, filter values, date windows) with every row
 * judged by the item's rule, the org filter and Read, then the rows its incoming associations reach
 * from the members of their sources — never a scan of the tenant, unless a rule covers every row.
 * Nothing is written: no device state, no published version.
 *
 * @throws AppError `NotFound` for an unknown profile; `ProfileInvalid` when the draft's associations
 * form a cycle (it cannot compile).
 */
export async function previewProfileDraft(
  store: TenantStore,
  clock: Clock,
  profileId: string,
  onlyUsers?: readonly string[],
): Promise<ProfilePreview> {
  const { profile: draft } = await getProfile(store, profileId);
  const [entities, settings, directory, violations] = await Promise.all([
    loadEntities(store),
    getTenantSettings(store),
    loadDirectory(store),
    checkProfile(store, draft),
  ]);
  const now = clock.now().toISOString();
  // The draft as the version a publish would make of it.
  const candidate: PublishedProfile = {
    id: draft.id,
    name: draft.name,
    description: draft.description,
    items: draft.items,
    users: draft.users,
    version: draft.publishedVersion + 1,
    publishedAt: now,
  };
  const wanted = onlyUsers === undefined ? undefined : new Set(onlyUsers.map((u) => u.toLowerCase()));
  const users: PreviewUser[] = [];
  for (const userId of draft.users) {
    if (wanted !== undefined && !wanted.has(userId.toLowerCase())) continue;
    const user = directory.users.find((u) => u.id.toLowerCase() === userId.toLowerCase());
    const empty = { userId, rows: 0, bytes: 0, limit: 'within' as const, entities: [] };
    if (user === undefined) {
      users.push({ ...empty, userName: null, fullName: null, problem: 'Not in the tenant directory.' });
      continue;
    }
    const named = { userId: user.id, userName: user.userName, fullName: user.fullName };
    const context = buildUserContext(directory, user.id);
    if (!canSyncAtAll(context)) {
      users.push({ ...empty, ...named, problem: 'No security role grants Read on offline profiles.' });
      continue;
    }
    const compiled = compileDeviceProfile(candidate, entities, context, clock);
    const counted = await countUserRows(store, compiled);
    const rows = counted.reduce((sum, e) => sum + e.rows, 0);
    users.push({
      ...named,
      rows,
      bytes: counted.reduce((sum, e) => sum + e.bytes, 0),
      limit: rows > settings.hardRowLimit ? 'hard' : rows > settings.softRowLimit ? 'soft' : 'within',
      entities: counted,
      problem: null,
    });
  }
  return {
    profileId: draft.id,
    computedAt: now,
    softRowLimit: settings.softRowLimit,
    hardRowLimit: settings.hardRowLimit,
    users,
    violations,
  };
}

/** Bytes of one row as a download's change carries it. */
function rowBytes(entity: string, record: StoredRecord, row: Record<string, unknown>): number {
  return Buffer.byteLength(
    JSON.stringify({ entity, id: record.id, op: 'upsert', version: record.version, row }),
  );
}

/**
 * One user's member rows per entity, in the profile's association order (sources first): the direct
 * members through the entity's cover, then the rows each incoming association reaches from the
 * sources' members (org filter and Read still apply), each row counted once.
 */
async function countUserRows(store: TenantStore, profile: CompiledDeviceProfile): Promise<PreviewEntity[]> {
  /** Per entity, per outgoing association (by relationship): the values its members offer. */
  const offered = new Map<string, Map<string, Set<string>>>();
  const counts: PreviewEntity[] = [];
  for (const name of profile.order) {
    const entity = profile.entities.get(name)!;
    const ids = new Set<string>();
    const values = new Map(entity.outgoing.map((a) => [a.relationship, new Set<string>()]));
    let bytes = 0;
    const admit = (record: StoredRecord): void => {
      if (ids.has(record.id)) return;
      ids.add(record.id);
      bytes += rowBytes(name, record, entity.strip(record.attributes));
      for (const association of entity.outgoing) {
        const value = sourceValueIsId(association)
          ? record.id.toLowerCase()
          : sourceValue(association, record);
        if (value !== undefined) values.get(association.relationship)!.add(value);
      }
    };

    const cover = await chooseCover(store, entity);
    for (const probe of cover?.probes ?? []) {
      for (const record of await findAll(store, name, probe)) {
        if (isDirectMember(entity, record)) admit(record);
      }
    }
    for (const association of entity.incoming) {
      const from = offered.get(association.source)?.get(association.relationship);
      const sorted = [...(from ?? [])].sort();
      for (let start = 0; start < sorted.length; start += VALUES_PER_STEP) {
        const { entity: probed, probe } = targetsProbe(
          association,
          sorted.slice(start, start + VALUES_PER_STEP),
        );
        let targets: StoredRecord[];
        if (association.link.kind === 'intersect') {
          const pairs = await findAll(store, probed, probe);
          const targetIds = [...new Set(pairs.flatMap((p) => intersectPair(association, p)?.target ?? []))];
          const byId: RecordProbe = { kind: 'text', attribute: null, values: targetIds };
          targets = await findAll(store, name, byId);
        } else {
          targets = await findAll(store, probed, probe);
        }
        const { membership } = entity;
        for (const record of targets) {
          if (
            record.deleted ||
            !membership.orgFilter(record.attributes) ||
            !membership.canRead(record.attributes)
          )
            continue;
          admit(record);
        }
      }
    }
    offered.set(name, values);
    counts.push({ entity: name, rows: ids.size, bytes });
  }
  return counts;
}
