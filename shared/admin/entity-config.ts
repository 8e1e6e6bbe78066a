import { z } from 'zod';
import type { Clock } from '../clock';
import { defaultOfflineSettings } from '../entities/default-offline-settings';
import { validateEntityCatalog, validateEntityMetadata } from '../entities/validate-entity-metadata';
import { AppError } from '../errors';
import { validateOrgFilter } from '../filters/validate-condition';
import {
  entityMetadataSchema,
  entityOfflineSettingsSchema,
  type EntityMetadata,
  type EntityOfflineSettings,
} from '../model/entity';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import { ParsedDocCache } from '../store/parsed-doc-cache';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';
import { rejectViolations } from './reject-violations';

/** Doc kinds: what admins edit (draft) and what devices and the sync engine use (published). */
const DRAFT_KIND = 'entityDraft';
const PUBLISHED_KIND = 'entity';
const VERSION_KIND = 'metadataVersion';
const VERSION_ID = 'current';

/** An entity's metadata with its offline settings, as stored (draft or published). */
export const entityConfigurationSchema = z.object({
  metadata: entityMetadataSchema,
  offline: entityOfflineSettingsSchema,
  updatedAt: z.iso.datetime(),
});
export type EntityConfigurationDoc = z.infer<typeof entityConfigurationSchema>;

/** The tenant's metadata version: bumped by every customizations publish (SPEC §3). */
export const metadataVersionSchema = z.object({
  version: z.number().int().nonnegative(),
  publishedAt: z.iso.datetime().nullable(),
});
export type MetadataVersion = z.infer<typeof metadataVersionSchema>;

/** One entity of `GET admin/{org}/entities`: the draft, and whether it differs from the published one. */
export const entityListItemSchema = z.object({
  logicalName: z.string(),
  metadata: entityMetadataSchema,
  offline: entityOfflineSettingsSchema,
  published: z.boolean(),
  changedSincePublish: z.boolean(),
});
export type EntityListItem = z.infer<typeof entityListItemSchema>;

/** Every device request reads these: each stored version is validated once (per store handle). */
const metadataVersions = new ParsedDocCache(VERSION_KIND, (value) => metadataVersionSchema.parse(value));
const publishedEntities = new ParsedDocCache(PUBLISHED_KIND, (value): ConfiguredEntity => {
  const { metadata, offline } = entityConfigurationSchema.parse(value);
  return { metadata, offline };
});

/** The metadata version (0 before the first publish). Shared and frozen: do not change it. */
export async function getMetadataVersion(store: DocStore): Promise<MetadataVersion> {
  const doc = await metadataVersions.get(store, VERSION_ID);
  return doc ? doc.value : { version: 0, publishedAt: null };
}

/**
 * The published entities with their offline settings: what profile publish validates against and
 * what the sync engine serves. Ordered by logical name. Each entity document is validated once per
 * etag; the same array comes back while no published entity changed (callers key derived data by
 * it). Shared and frozen: do not change it.
 */
export async function loadEntities(store: DocStore): Promise<readonly ConfiguredEntity[]> {
  return publishedEntities.list(store);
}

/** The draft entities (what admins edited, published or not), ordered by logical name. */
export async function loadEntityDrafts(store: DocStore): Promise<ConfiguredEntity[]> {
  const docs = await store.listDocs(DRAFT_KIND);
  return docs.map((doc) => {
    const { metadata, offline } = entityConfigurationSchema.parse(doc.value);
    return { metadata, offline };
  });
}

/** Every entity's draft, with whether it is published and whether the draft differs from it. */
export async function listEntities(store: DocStore): Promise<EntityListItem[]> {
  const [drafts, published] = await Promise.all([store.listDocs(DRAFT_KIND), store.listDocs(PUBLISHED_KIND)]);
  const publishedByName = new Map(
    published.map((doc) => [doc.id, entityConfigurationSchema.parse(doc.value)]),
  );
  return drafts.map((doc) => {
    const draft = entityConfigurationSchema.parse(doc.value);
    const live = publishedByName.get(doc.id);
    return {
      logicalName: doc.id,
      metadata: draft.metadata,
      offline: draft.offline,
      published: live !== undefined,
      changedSincePublish:
        live === undefined ||
        JSON.stringify([live.metadata, live.offline]) !== JSON.stringify([draft.metadata, draft.offline]),
    };
  });
}

/**
 * Declares (or replaces) an entity's metadata as a draft (`local` sources; the Dataverse metadata
 * download uses it too). The entity is checked on its own (primary attributes, duplicates, its side of
 * each relationship: 422 `Unprocessable`); references to other entities are checked at publish. A new
 * entity starts with its default offline settings; an existing one keeps its settings.
 */
export async function declareEntityMetadata(
  store: DocStore,
  clock: Clock,
  metadata: EntityMetadata,
): Promise<EntityListItem> {
  rejectViolations(
    validateEntityMetadata(metadata),
    'Unprocessable',
    `Entity '${metadata.logicalName}' is invalid.`,
  );
  const existing = await store.getDoc(DRAFT_KIND, metadata.logicalName);
  const offline = existing
    ? entityConfigurationSchema.parse(existing.value).offline
    : defaultOfflineSettings(metadata);
  const value: EntityConfigurationDoc = { metadata, offline, updatedAt: clock.now().toISOString() };
  await store.putDoc(DRAFT_KIND, metadata.logicalName, value, unchangedSince(existing?.etag));
  return (await listEntities(store)).find((e) => e.logicalName === metadata.logicalName)!;
}

/**
 * Sets an entity's offline settings in its draft (`PUT admin/{org}/entities/{entity}/offline`). The
 * entity must be declared (404); the org filter must be valid for it (422 `Unprocessable` with every
 * violation). Takes effect at the next customizations publish.
 */
export async function setEntityOfflineSettings(
  store: DocStore,
  clock: Clock,
  entity: string,
  offline: EntityOfflineSettings,
): Promise<EntityListItem> {
  const existing = await store.getDoc(DRAFT_KIND, entity);
  if (existing === undefined) throw new AppError('NotFound', `Entity '${entity}' is not declared.`);
  const draft = entityConfigurationSchema.parse(existing.value);
  rejectViolations(
    validateOrgFilter(offline.orgFilter, draft.metadata, 'orgFilter'),
    'Unprocessable',
    `The offline settings of '${entity}' are invalid.`,
  );
  const value: EntityConfigurationDoc = { ...draft, offline, updatedAt: clock.now().toISOString() };
  await store.putDoc(DRAFT_KIND, entity, value, { ifMatch: existing.etag });
  return (await listEntities(store)).find((e) => e.logicalName === entity)!;
}

/**
 * Publishes every entity draft (`POST admin/{org}/customizations/publish`). The whole catalog is
 * validated first (relationships name declared entities and attributes, org filters valid): any
 * violation is 422 `Unprocessable` with all of them and nothing is published. Otherwise each draft
 * becomes the published entity and the metadata version is bumped (devices see it on their next sync).
 * Two concurrent publishes: one of them fails with `PreconditionFailed`.
 */
export async function publishCustomizations(store: DocStore, clock: Clock): Promise<MetadataVersion> {
  const versionDoc = await store.getDoc(VERSION_KIND, VERSION_ID);
  const current = versionDoc
    ? metadataVersionSchema.parse(versionDoc.value)
    : { version: 0, publishedAt: null };
  const drafts = await store.listDocs(DRAFT_KIND);
  const parsed = drafts.map((doc) => entityConfigurationSchema.parse(doc.value));
  rejectViolations(validateEntityCatalog(parsed), 'Unprocessable', 'The entity customizations break a rule.');

  const now = clock.now().toISOString();
  const next: MetadataVersion = { version: current.version + 1, publishedAt: now };
  // Claim the version first so a concurrent publish fails before either writes entities.
  await store.putDoc(VERSION_KIND, VERSION_ID, next, unchangedSince(versionDoc?.etag));
  const published = await store.listDocs(PUBLISHED_KIND);
  const publishedByName = new Map(published.map((doc) => [doc.id, JSON.stringify(doc.value)]));
  for (const draft of parsed) {
    const name = draft.metadata.logicalName;
    if (publishedByName.get(name) !== JSON.stringify(draft)) await store.putDoc(PUBLISHED_KIND, name, draft);
  }
  return next;
}
