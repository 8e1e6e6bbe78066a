import { getMetadataVersion, loadEntities } from '../admin/entity-config';
import { getTenantSettings } from '../admin/settings-store';
import type { Principal } from '../auth/principal';
import type { Clock } from '../clock';
import type { Relationship } from '../model/entity';
import type { TenantSettings } from '../model/settings';
import type { DocStore } from '../store/port';
import type { CompiledDeviceProfile } from './compile-device-profile';
import { compiledProfileFor } from './compiled-profile-cache';
import { resolveSyncCaller } from './device-identity';
import type { SyncEntityMetadata, SyncMetadataResponse } from './sync-protocol';

/**
 * When the device should sync next: the shortest sync interval an item of its profile sets, else
 * the tenant's default (SPEC §4 Sync interval, §6 Periodic sync).
 */
export function nextSyncSeconds(profile: CompiledDeviceProfile, settings: TenantSettings): number {
  let seconds: number | undefined;
  for (const entity of profile.entities.values()) {
    const minutes = entity.item.syncIntervalMinutes;
    if (minutes !== undefined && (seconds === undefined || minutes * 60 < seconds)) seconds = minutes * 60;
  }
  return seconds ?? settings.syncIntervalSeconds;
}

function relationshipEntities(relationship: Relationship): string[] {
  return relationship.kind === 'many-to-many'
    ? [relationship.entity1, relationship.entity2]
    : [relationship.referencedEntity, relationship.referencingEntity];
}

/**
 * `GET sync/{org}/metadata?app=` (SPEC §6 Metadata): the entities of the caller's profile (published
 * and offline-enabled), each attribute with its secured flag and whether this user may read it,
 * the relationships between profile entities, the versions the device compares to know when to
 * download metadata again, and the sync interval.
 */
export async function getSyncMetadata(
  store: DocStore,
  principal: Principal,
  clock: Clock,
  appId: string,
): Promise<SyncMetadataResponse> {
  const caller = await resolveSyncCaller(store, principal, appId);
  const [entities, metadataVersion, settings] = await Promise.all([
    loadEntities(store),
    getMetadataVersion(store),
    getTenantSettings(store),
  ]);
  const compiled = compiledProfileFor(store, caller.user.id, caller.profile, entities, caller.context, clock);
  const inProfile = new Set(compiled.entities.keys());
  const answer: SyncEntityMetadata[] = [];
  for (const name of [...inProfile].sort()) {
    const { metadata, item } = compiled.entities.get(name)!;
    const visible = compiled.entities
      .get(name)!
      .strip(Object.fromEntries(metadata.attributes.map((a) => [a.name, true])));
    answer.push({
      logicalName: metadata.logicalName,
      ...(metadata.displayName === undefined ? {} : { displayName: metadata.displayName }),
      primaryIdAttribute: metadata.primaryIdAttribute,
      primaryNameAttribute: metadata.primaryNameAttribute,
      ownership: metadata.ownership,
      attributes: metadata.attributes.map((a) => ({ ...a, readable: Object.hasOwn(visible, a.name) })),
      relationships: metadata.relationships.filter((r) =>
        relationshipEntities(r).every((entity) => inProfile.has(entity)),
      ),
      ...(item.syncIntervalMinutes === undefined
        ? {}
        : { syncIntervalSeconds: item.syncIntervalMinutes * 60 }),
    });
  }
  return {
    app: appId,
    profile: { id: caller.profile.id, name: caller.profile.name, version: caller.profile.version },
    entities: answer,
    metadataVersion: metadataVersion.version,
    profileVersion: caller.profile.version,
    directoryVersion: caller.directoryVersion,
    syncIntervalSeconds: nextSyncSeconds(compiled, settings),
  };
}
