import { loadEntities } from '../../admin/entity-config';
import { getTenantSettings } from '../../admin/settings-store';
import type { Clock } from '../../clock';
import type { Directory } from '../../model/directory';
import type { EntityMetadata } from '../../model/entity';
import type { Tenant } from '../../model/tenant';
import type { UserContext } from '../../security/user-context';
import { resolveSyncCaller, type SyncCallerRef } from '../device-identity';
import type { Source } from '../../sources/port';
import type { TenantStore } from '../../store/port';
import type { IdFormat } from './validate-upload-row';

/** What an upload needs from the host: the tenant, its store and source, and the clock. */
export interface UploadDependencies {
  tenant: Tenant;
  store: TenantStore;
  /** The tenant's Source (only used for `dataverse` tenants). */
  sourceFor: (tenant: Tenant) => Source;
  clock: Clock;
}

/**
 * Everything the operations of one batch share, loaded once: the caller's user context and profile,
 * the published metadata, the directory and the conflict detection setting.
 */
export interface UploadSession {
  readonly store: TenantStore;
  readonly clock: Clock;
  /** The Dataverse source of a `dataverse` tenant; undefined for `local` tenants (the store is the source). */
  readonly source: Source | undefined;
  readonly conflictDetection: boolean;
  readonly idFormat: IdFormat;
  /** Published entities by logical name. */
  readonly entities: ReadonlyMap<string, EntityMetadata>;
  readonly directory: Directory;
  readonly user: UserContext;
  /** The user's Entra object id (the Dataverse `CallerObjectId`). */
  readonly entraObjectId: string;
  /** Entities of the user's published profile for the app. */
  readonly profileEntities: ReadonlySet<string>;
  readonly app: string;
  readonly deviceId: string;
}

/** Whose session: the token's object id (device uploads) or a systemuser id (admin retries). */
export type UploadCallerRef = SyncCallerRef;

/**
 * Opens the session of one upload: the caller must be a directory user (403 `Forbidden`), may sync at
 * all (403 `PrivilegeDenied`), and has a published profile in the app (404 app, 403 `NoProfile`).
 */
export async function openUploadSession(
  deps: UploadDependencies,
  caller: UploadCallerRef,
  app: string,
  deviceId: string,
): Promise<UploadSession> {
  const { store, tenant } = deps;
  const [caller_, entities, settings] = await Promise.all([
    resolveSyncCaller(store, caller, app),
    loadEntities(store),
    getTenantSettings(store),
  ]);
  const { directory, user, context, profile } = caller_;
  return {
    store,
    clock: deps.clock,
    source: tenant.source.kind === 'dataverse' ? deps.sourceFor(tenant) : undefined,
    conflictDetection: settings.conflictDetection,
    idFormat: tenant.source.kind === 'dataverse' ? 'guid' : 'identifier',
    entities: new Map(entities.map((e) => [e.metadata.logicalName, e.metadata])),
    directory,
    user: context,
    entraObjectId: user.entraObjectId,
    profileEntities: new Set(profile.items.map((item) => item.entity)),
    app,
    deviceId,
  };
}
