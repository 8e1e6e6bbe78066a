import type { Clock } from '../clock';
import { validateOrgFilter } from '../filters/validate-condition';
import {
  EXPORT_FORMAT_VERSION,
  type ExportDocument,
  type ExportedEntitySettings,
} from '../model/export-document';
import type { ProfileDraft, Violation } from '../model/profile';
import { validateProfile, type ConfiguredEntity } from '../profiles/validate-profile';
import type { DocStore } from '../store/port';
import { loadEntityDrafts, setEntityOfflineSettings } from './entity-config';
import { getProfile, listProfiles, PROFILE_DRAFT_KIND } from './profile-service';
import { prefixViolations, rejectViolations } from './reject-violations';
import { getTenantSettings } from './settings-store';

/** What an import did to each profile and entity. */
export interface ImportResult {
  profiles: { id: string; name: string; outcome: 'created' | 'updated' | 'unchanged' }[];
  entities: { entity: string; outcome: 'updated' | 'unchanged' }[];
}

/**
 * The export document of a tenant (`GET admin/{org}/export`): every profile's draft without its users
 * (users belong to one tenant), and the offline settings of every entity a profile names.
 */
export async function exportConfiguration(
  store: DocStore,
  clock: Clock,
  org: string,
): Promise<ExportDocument> {
  const [profiles, entities] = await Promise.all([listProfiles(store), loadEntityDrafts(store)]);
  const used = new Set(profiles.flatMap((p) => p.items.map((item) => item.entity)));
  return {
    formatVersion: EXPORT_FORMAT_VERSION,
    exportedAt: clock.now().toISOString(),
    sourceOrg: org,
    profiles: profiles.map(({ id, name, description, items }) => ({ id, name, description, items })),
    entities: entities
      .filter((e) => used.has(e.metadata.logicalName))
      .map((e): ExportedEntitySettings => ({ entity: e.metadata.logicalName, offline: e.offline })),
  };
}

/**
 * Imports an export document (`POST admin/{org}/import`). Everything is validated first and nothing
 * changes on any error (422 `Unprocessable` with every violation): each entity setting names a
 * declared entity and its org filter is valid for it; profile ids and names are unique in the document
 * and no name belongs to another profile of this tenant; each profile keeps every profile rule against
 * this tenant's entities with the document's offline settings applied (users are not part of it).
 * Then entity settings go into the entity drafts (published with the next customizations publish),
 * and profiles into drafts: new ones are created unpublished, existing ones (same id) get the
 * document's content as their draft and keep their users and published version. Importing the same
 * document again changes nothing.
 */
export async function importConfiguration(
  store: DocStore,
  clock: Clock,
  document: ExportDocument,
): Promise<ImportResult> {
  const [drafts, existingProfiles, settings] = await Promise.all([
    loadEntityDrafts(store),
    listProfiles(store),
    getTenantSettings(store),
  ]);
  const entities = new Map<string, ConfiguredEntity>(drafts.map((e) => [e.metadata.logicalName, e]));
  const violations: Violation[] = [];

  const seenEntities = new Set<string>();
  document.entities.forEach(({ entity, offline }, i) => {
    const configured = entities.get(entity);
    if (seenEntities.has(entity)) {
      violations.push({
        path: `entities[${i}].entity`,
        code: 'DuplicateEntity',
        message: `Entity '${entity}' is listed twice.`,
      });
    } else if (configured === undefined) {
      violations.push({
        path: `entities[${i}].entity`,
        code: 'EntityNotFound',
        message: `Entity '${entity}' is not declared in this tenant.`,
      });
    } else {
      violations.push(
        ...validateOrgFilter(offline.orgFilter, configured.metadata, `entities[${i}].offline.orgFilter`),
      );
      entities.set(entity, { metadata: configured.metadata, offline });
    }
    seenEntities.add(entity);
  });

  const ids = new Set<string>();
  const names = new Set<string>();
  document.profiles.forEach((profile, i) => {
    const name = profile.name.toLowerCase();
    if (ids.has(profile.id)) {
      violations.push({
        path: `profiles[${i}].id`,
        code: 'DuplicateProfile',
        message: `Profile id '${profile.id}' is used twice.`,
      });
    }
    if (names.has(name)) {
      violations.push({
        path: `profiles[${i}].name`,
        code: 'DuplicateName',
        message: `Profile name '${profile.name}' is used twice.`,
      });
    }
    ids.add(profile.id);
    names.add(name);
    const clash = existingProfiles.find((p) => p.id !== profile.id && p.name.toLowerCase() === name);
    if (clash) {
      violations.push({
        path: `profiles[${i}].name`,
        code: 'NameTaken',
        message: `Profile '${clash.id}' of this tenant already has the name '${profile.name}'.`,
      });
    }
    const ruleViolations = validateProfile(
      { ...profile, users: [] },
      { entities, userIds: new Set(), settings },
    );
    violations.push(...prefixViolations(`profiles[${i}]`, ruleViolations));
  });
  rejectViolations(violations, 'Unprocessable', 'The import document breaks a rule; nothing was imported.');

  const result: ImportResult = { profiles: [], entities: [] };
  for (const { entity, offline } of document.entities) {
    const current = drafts.find((e) => e.metadata.logicalName === entity);
    if (current !== undefined && JSON.stringify(current.offline) === JSON.stringify(offline)) {
      result.entities.push({ entity, outcome: 'unchanged' });
      continue;
    }
    await setEntityOfflineSettings(store, clock, entity, offline);
    result.entities.push({ entity, outcome: 'updated' });
  }
  const now = clock.now().toISOString();
  for (const imported of document.profiles) {
    const existing = existingProfiles.find((p) => p.id === imported.id);
    if (existing === undefined) {
      const profile: ProfileDraft = {
        ...imported,
        users: [],
        publishedVersion: 0,
        changedSincePublish: true,
        createdAt: now,
        updatedAt: now,
      };
      await store.putDoc(PROFILE_DRAFT_KIND, imported.id, profile, { ifNoneMatch: '*' });
      result.profiles.push({ id: imported.id, name: imported.name, outcome: 'created' });
      continue;
    }
    const sameContent =
      JSON.stringify([existing.name, existing.description, existing.items]) ===
      JSON.stringify([imported.name, imported.description, imported.items]);
    if (sameContent) {
      result.profiles.push({ id: imported.id, name: imported.name, outcome: 'unchanged' });
      continue;
    }
    const current = await getProfile(store, imported.id);
    const profile: ProfileDraft = {
      ...current.profile,
      ...imported,
      changedSincePublish: true,
      updatedAt: now,
    };
    await store.putDoc(PROFILE_DRAFT_KIND, imported.id, profile, { ifMatch: current.etag });
    result.profiles.push({ id: imported.id, name: imported.name, outcome: 'updated' });
  }
  return result;
}
