import { z } from 'zod';
import { getApp, appsUsingProfile, listApps, putApp } from '../../../shared/admin/app-config';
import {
  directoryListQuerySchema,
  directoryListSchema,
  listDirectory,
} from '../../../shared/admin/directory-listing';
import { replaceDirectory } from '../../../shared/admin/directory-store';
import {
  declareEntityMetadata,
  entityListItemSchema,
  getMetadataVersion,
  listEntities,
  metadataVersionSchema,
  publishCustomizations,
  setEntityOfflineSettings,
} from '../../../shared/admin/entity-config';
import { exportConfiguration, importConfiguration } from '../../../shared/admin/export-import';
import {
  changeProfileUsers,
  checkProfile,
  createProfile,
  deleteProfile,
  getProfile,
  listProfiles,
  publishProfile,
  updateProfile,
  type ProfileDraftWithEtag,
} from '../../../shared/admin/profile-service';
import { getTenantSettings, updateTenantSettings } from '../../../shared/admin/settings-store';
import { AppError } from '../../../shared/errors';
import { appConfigInputSchema, appConfigSchema, appIdSchema } from '../../../shared/model/app';
import { directoryInputSchema } from '../../../shared/model/directory';
import {
  entityMetadataInputSchema,
  entityOfflineSettingsSchema,
  logicalNameSchema,
} from '../../../shared/model/entity';
import { exportDocumentSchema } from '../../../shared/model/export-document';
import {
  profileContentSchema,
  profileCreateSchema,
  profileDraftSchema,
  profileIdSchema,
  publishedProfileSchema,
  violationSchema,
} from '../../../shared/model/profile';
import { tenantSettingsSchema, tenantSettingsUpdateSchema } from '../../../shared/model/settings';
import type { Tenant } from '../../../shared/model/tenant';
import { safeIdSchema } from '../../../shared/model/safe-text';
import { orgSchema } from '../../../shared/model/tenant';
import { readCurrentDirectory } from '../../../shared/sync/device-identity';
import { prepareSyncLookups } from '../../../shared/sync/lookup-specs';
import { defineTenantRoute, orgParamsSchema, type RouteDefinition } from '../route-definition';

const entityParams = z.object({ org: orgSchema, entity: logicalNameSchema });
const profileParams = z.object({ org: orgSchema, id: profileIdSchema });
const appParams = z.object({ org: orgSchema, appId: appIdSchema });

/** A profile draft as answered: with its etag (send it back as `If-Match`). */
const profileResponseSchema = profileDraftSchema.extend({ etag: z.string() });
/** `GET` and `PUT` of one profile also answer what a publish would refuse now. */
const profileWithViolationsSchema = profileResponseSchema.extend({ violations: z.array(violationSchema) });

function profileResponse({ profile, etag }: ProfileDraftWithEtag): {
  body: unknown;
  headers: Record<string, string>;
} {
  return { body: { ...profile, etag }, headers: { etag } };
}

/** Refuses routes that declare what a Dataverse source owns (metadata, directory). */
function requireLocalSource(tenant: Tenant, what: string): void {
  if (tenant.source.kind !== 'local') {
    throw new AppError(
      'Conflict',
      `Tenant '${tenant.org}' reads its ${what} from its ${tenant.source.kind} source; it cannot be declared here.`,
    );
  }
}

/** `If-Match` without the quotes HTTP may add. */
function ifMatchOf(headers: Headers): string | undefined {
  const value = headers.get('if-match');
  if (value === null || value === '*') return undefined;
  return value.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

const entitiesList = defineTenantRoute({
  name: 'entitiesList',
  method: 'GET',
  route: 'api/admin/{org}/entities',
  auth: 'admin',
  params: orgParamsSchema,
  summary:
    'Entity metadata with offline settings (drafts, with whether each is published) and the metadata version.',
  response: z.object({ metadataVersion: metadataVersionSchema, entities: z.array(entityListItemSchema) }),
  handler: async ({ store }) => ({
    body: { metadataVersion: await getMetadataVersion(store), entities: await listEntities(store) },
  }),
});

const entityDeclare = defineTenantRoute({
  name: 'entityDeclare',
  method: 'PUT',
  route: 'api/admin/{org}/entities/{entity}',
  auth: 'admin',
  params: entityParams,
  body: entityMetadataInputSchema.extend({ logicalName: logicalNameSchema.optional() }),
  summary: "Declare an entity's metadata (local sources); takes effect at the next customizations publish.",
  response: entityListItemSchema,
  errors: ['Conflict', 'Unprocessable'],
  handler: async ({ params, body, store, tenant, services }) => {
    requireLocalSource(tenant, 'entity metadata');
    if (body.logicalName !== undefined && body.logicalName !== params.entity) {
      throw new AppError('ValidationFailed', 'The body names another entity than the route.', {
        details: [{ path: 'logicalName', message: `must be '${params.entity}'` }],
      });
    }
    return {
      body: await declareEntityMetadata(store, services.clock, { ...body, logicalName: params.entity }),
    };
  },
});

const entityOfflineSet = defineTenantRoute({
  name: 'entityOfflineSet',
  method: 'PUT',
  route: 'api/admin/{org}/entities/{entity}/offline',
  auth: 'admin',
  params: entityParams,
  body: entityOfflineSettingsSchema,
  summary:
    'Enable or disable an entity for offline and set its org data download filter (at most 3 conditions).',
  response: entityListItemSchema,
  errors: ['NotFound', 'Unprocessable'],
  handler: async ({ params, body, store, services }) => ({
    body: await setEntityOfflineSettings(store, services.clock, params.entity, body),
  }),
});

const customizationsPublish = defineTenantRoute({
  name: 'customizationsPublish',
  method: 'POST',
  route: 'api/admin/{org}/customizations/publish',
  auth: 'admin',
  params: orgParamsSchema,
  summary: 'Publish entity changes: 200 with the new metadata version, or 422 with every violation.',
  response: metadataVersionSchema,
  errors: ['Unprocessable'],
  handler: async ({ store, services }) => {
    const version = await publishCustomizations(store, services.clock);
    await prepareSyncLookups(store);
    return { body: version };
  },
});

const directoryReplace = defineTenantRoute({
  name: 'directoryReplace',
  method: 'PUT',
  route: 'api/admin/{org}/directory',
  auth: 'admin',
  params: orgParamsSchema,
  body: directoryInputSchema,
  summary: 'Replace business units, users, teams and roles (local sources); 422 with every violation.',
  response: z.object({ version: z.number().int(), updatedAt: z.iso.datetime() }),
  errors: ['Conflict', 'Unprocessable'],
  handler: async ({ body, store, tenant, services }) => {
    requireLocalSource(tenant, 'directory');
    return { body: await replaceDirectory(store, body, services.clock) };
  },
});

const directoryList = defineTenantRoute({
  name: 'directoryList',
  method: 'GET',
  route: 'api/admin/{org}/directory',
  auth: 'admin',
  params: orgParamsSchema,
  query: directoryListQuerySchema,
  summary:
    'Users, teams and business units by id and display name (any source), searched with ?q= in names and ids, ' +
    '?kind= users, teams, businessUnits (comma-separated; default all); at most ?limit= (default 50, at most 200) ' +
    'of each kind, with more: true when further items matched.',
  response: directoryListSchema,
  handler: async ({ query, store }) => ({ body: listDirectory(await readCurrentDirectory(store), query) }),
});

const profilesList = defineTenantRoute({
  name: 'profilesList',
  method: 'GET',
  route: 'api/admin/{org}/profiles',
  auth: 'admin',
  params: orgParamsSchema,
  summary: 'List offline profiles (drafts, with their latest published version number).',
  response: z.object({ profiles: z.array(profileDraftSchema) }),
  handler: async ({ store }) => ({ body: { profiles: await listProfiles(store) } }),
});

const profileCreate = defineTenantRoute({
  name: 'profileCreate',
  method: 'POST',
  route: 'api/admin/{org}/profiles',
  auth: 'admin',
  params: orgParamsSchema,
  body: profileCreateSchema,
  summary: 'Create an empty, unpublished profile: { name, description, id? }.',
  response: profileResponseSchema,
  successStatuses: [201],
  errors: ['Conflict'],
  handler: async ({ body, store, services }) => ({
    status: 201,
    ...profileResponse(await createProfile(store, services.clock, body)),
  }),
});

const profileGet = defineTenantRoute({
  name: 'profileGet',
  method: 'GET',
  route: 'api/admin/{org}/profiles/{id}',
  auth: 'admin',
  params: profileParams,
  summary: 'A profile draft (items and users) with its etag and the violations a publish would answer now.',
  response: profileWithViolationsSchema,
  errors: ['NotFound'],
  handler: async ({ params, store }) => {
    const draft = await getProfile(store, params.id);
    const response = profileResponse(draft);
    return {
      ...response,
      body: { ...(response.body as object), violations: await checkProfile(store, draft.profile) },
    };
  },
});

const profileReplace = defineTenantRoute({
  name: 'profileReplace',
  method: 'PUT',
  route: 'api/admin/{org}/profiles/{id}',
  auth: 'admin',
  params: profileParams,
  body: profileContentSchema,
  summary:
    'Replace a profile draft (whole document; optional If-Match). 409 when a user is in another profile; rule violations are answered, and refused at publish.',
  response: profileWithViolationsSchema,
  errors: ['NotFound', 'Conflict', 'UserInAnotherProfile', 'PreconditionFailed', 'Unprocessable'],
  handler: async ({ params, body, headers, store, services }) => {
    const draft = await updateProfile(store, services.clock, params.id, body, {
      ifMatch: ifMatchOf(headers),
    });
    const response = profileResponse(draft);
    return {
      ...response,
      body: { ...(response.body as object), violations: await checkProfile(store, draft.profile) },
    };
  },
});

const profileDelete = defineTenantRoute({
  name: 'profileDelete',
  method: 'DELETE',
  route: 'api/admin/{org}/profiles/{id}',
  auth: 'admin',
  params: profileParams,
  summary: 'Delete a profile and its published versions; 409 while an app uses it.',
  errors: ['NotFound', 'Conflict'],
  handler: async ({ params, store }) => {
    await deleteProfile(store, params.id, await appsUsingProfile(store, params.id));
    return { status: 204 };
  },
});

const profileUsersChange = defineTenantRoute({
  name: 'profileUsersChange',
  method: 'POST',
  route: 'api/admin/{org}/profiles/{id}/users',
  auth: 'admin',
  params: profileParams,
  body: z
    .object({
      add: z.array(safeIdSchema(100)).max(1000).default([]),
      remove: z.array(safeIdSchema(100)).max(10_000).default([]),
    })
    .strict(),
  summary: 'Add and remove users of a profile draft; 409 naming the profile when a user is in another one.',
  response: profileResponseSchema,
  errors: ['NotFound', 'UserInAnotherProfile', 'Unprocessable'],
  handler: async ({ params, body, store, services }) =>
    profileResponse(await changeProfileUsers(store, services.clock, params.id, body)),
});

const profilePublish = defineTenantRoute({
  name: 'profilePublish',
  method: 'POST',
  route: 'api/admin/{org}/profiles/{id}/publish',
  auth: 'admin',
  params: profileParams,
  summary: 'Publish a profile: 200 { version } or 422 ProfileInvalid with every violation in details.',
  response: z.object({ version: z.number().int(), profile: publishedProfileSchema }),
  errors: ['NotFound', 'ProfileInvalid'],
  handler: async ({ params, store, services }) => {
    const profile = await publishProfile(store, services.clock, params.id);
    await prepareSyncLookups(store);
    return { body: { version: profile.version, profile } };
  },
});

const configurationExport = defineTenantRoute({
  name: 'configurationExport',
  method: 'GET',
  route: 'api/admin/{org}/export',
  auth: 'admin',
  params: orgParamsSchema,
  summary: 'Export profiles (without users) and the entity offline settings they use, as one JSON document.',
  response: exportDocumentSchema,
  handler: async ({ store, tenant, services }) => ({
    body: await exportConfiguration(store, services.clock, tenant.org),
  }),
});

const configurationImport = defineTenantRoute({
  name: 'configurationImport',
  method: 'POST',
  route: 'api/admin/{org}/import',
  auth: 'admin',
  params: orgParamsSchema,
  body: exportDocumentSchema,
  summary:
    'Import an export document: validated whole first (422, nothing changed); profiles arrive unpublished.',
  response: z.object({
    profiles: z.array(
      z.object({ id: z.string(), name: z.string(), outcome: z.enum(['created', 'updated', 'unchanged']) }),
    ),
    entities: z.array(z.object({ entity: z.string(), outcome: z.enum(['updated', 'unchanged']) })),
  }),
  errors: ['Conflict', 'UserInAnotherProfile', 'Unprocessable'],
  handler: async ({ body, store, services }) => ({
    body: await importConfiguration(store, services.clock, body),
  }),
});

const settingsGet = defineTenantRoute({
  name: 'settingsGet',
  method: 'GET',
  route: 'api/admin/{org}/settings',
  auth: 'admin',
  params: orgParamsSchema,
  summary: 'Tenant settings: conflict detection, sync interval, row limits, association limits.',
  response: tenantSettingsSchema,
  handler: async ({ store }) => ({ body: await getTenantSettings(store) }),
});

const settingsUpdate = defineTenantRoute({
  name: 'settingsUpdate',
  method: 'PUT',
  route: 'api/admin/{org}/settings',
  auth: 'admin',
  params: orgParamsSchema,
  body: tenantSettingsUpdateSchema,
  summary: 'Change tenant settings (any subset); 422 when soft row limit > hard row limit.',
  response: tenantSettingsSchema,
  errors: ['Unprocessable'],
  handler: async ({ body, store }) => ({ body: await updateTenantSettings(store, body) }),
});

const appsList = defineTenantRoute({
  name: 'appsList',
  method: 'GET',
  route: 'api/admin/{org}/apps',
  auth: 'admin',
  params: orgParamsSchema,
  summary: 'Every configured app module with its offline profiles, ordered by id.',
  response: z.object({ apps: z.array(appConfigSchema) }),
  handler: async ({ store }) => ({ body: { apps: await listApps(store) } }),
});

const appGet = defineTenantRoute({
  name: 'appGet',
  method: 'GET',
  route: 'api/admin/{org}/apps/{appId}',
  auth: 'admin',
  params: appParams,
  summary: 'An app module and its offline profiles.',
  response: appConfigSchema,
  errors: ['NotFound'],
  handler: async ({ params, store }) => ({ body: await getApp(store, params.appId) }),
});

const appPut = defineTenantRoute({
  name: 'appPut',
  method: 'PUT',
  route: 'api/admin/{org}/apps/{appId}',
  auth: 'admin',
  params: appParams,
  body: appConfigInputSchema,
  summary:
    'Configure an app module: { name, offlineEnabled, profiles }; offline needs at least one published profile.',
  response: appConfigSchema,
  successStatuses: [200, 201],
  errors: ['Unprocessable'],
  handler: async ({ params, body, store, services }) => {
    const { app, created } = await putApp(store, services.clock, params.appId, body);
    return { status: created ? 201 : 200, body: app };
  },
});

/** The admin configuration routes of SPEC §10 (entities, directory, profiles, export/import, settings, apps). */
export const adminConfigRoutes: RouteDefinition[] = [
  entitiesList,
  entityDeclare,
  entityOfflineSet,
  customizationsPublish,
  directoryReplace,
  directoryList,
  profilesList,
  profileCreate,
  profileGet,
  profileReplace,
  profileDelete,
  profileUsersChange,
  profilePublish,
  configurationExport,
  configurationImport,
  settingsGet,
  settingsUpdate,
  appsList,
  appGet,
  appPut,
];
