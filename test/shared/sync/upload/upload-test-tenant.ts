import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { putApp } from '../../../../shared/admin/app-config';
import { replaceDirectory } from '../../../../shared/admin/directory-store';
import {
  declareEntityMetadata,
  publishCustomizations,
  setEntityOfflineSettings,
} from '../../../../shared/admin/entity-config';
import { createProfile, publishProfile, updateProfile } from '../../../../shared/admin/profile-service';
import { updateTenantSettings } from '../../../../shared/admin/settings-store';
import { ManualClock } from '../../../../shared/clock';
import type { Directory } from '../../../../shared/model/directory';
import type { EntityMetadata } from '../../../../shared/model/entity';
import type { Tenant, TenantSource } from '../../../../shared/model/tenant';
import type { Source } from '../../../../shared/sources/port';
import type { Store, TenantStore } from '../../../../shared/store/port';
import { createSqliteStore } from '../../../../shared/store/sqlite';
import type { UploadDependencies } from '../../../../shared/sync/upload/upload-session';
import { testEntities } from '../../../support/offline-config-fixtures';

/** A tenant configured for upload tests over a real SQLite store. */

export const ORG = 'contoso';
export const APP = 'field-app';
export const DEVICE = 'device-1';

/** Entra object id of test user n. */
export const oid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
/** A GUID-shaped record id. */
export const guid = (n: number): string => `aaaaaaaa-0000-4000-8000-${String(n).padStart(12, '0')}`;

const SYNC = { mobileofflineprofile: { read: 'organization' } } as const;

/**
 * Business units root → east, west. Users:
 * - u1 (east): account create/write/delete at user level;
 * - u2 (east): account at business-unit level;
 * - u3 (west): account at organization level, may read the secured `creditlimit`;
 * - u4 (east): account at user level but no Read on offline profiles (cannot sync);
 * - u5 (west): may sync, account read only.
 * Team t1 (east) has u1 as member.
 */
export function testDirectory(): Directory {
  const user = (n: number, businessUnitId: string, roleIds: string[], securedColumns: string[] = []) => ({
    id: `u${n}`,
    entraObjectId: oid(n),
    userName: `user${n}`,
    fullName: `User ${n}`,
    businessUnitId,
    managerId: null,
    languageId: 1033,
    roleIds,
    securedColumns,
  });
  const accountAt = (level: 'user' | 'businessUnit' | 'organization') => ({
    read: level,
    create: level,
    write: level,
    delete: level,
  });
  return {
    businessUnits: [
      { id: 'root', name: 'Contoso', parentId: null },
      { id: 'east', name: 'East', parentId: 'root' },
      { id: 'west', name: 'West', parentId: 'root' },
    ],
    users: [
      user(1, 'east', ['sync', 'user-level']),
      user(2, 'east', ['sync', 'bu-level']),
      user(3, 'west', ['sync', 'org-level'], ['account.creditlimit']),
      user(4, 'east', ['user-level']),
      user(5, 'west', ['sync', 'read-only']),
    ],
    teams: [{ id: 't1', name: 'Team East', businessUnitId: 'east', memberIds: ['u1'], roleIds: [] }],
    roles: [
      { id: 'sync', name: 'Offline sync', privileges: { ...SYNC } },
      {
        id: 'user-level',
        name: 'Sales user',
        privileges: { account: accountAt('user'), contact: accountAt('user'), territory: accountAt('user') },
      },
      {
        id: 'bu-level',
        name: 'Sales manager',
        privileges: { account: accountAt('businessUnit'), contact: accountAt('businessUnit') },
      },
      {
        id: 'org-level',
        name: 'Sales director',
        privileges: { account: accountAt('organization'), contact: accountAt('organization') },
      },
      { id: 'read-only', name: 'Reader', privileges: { account: { read: 'organization' } } },
    ],
  };
}

/** The fixture entities, with `account.name` required and a secured `account.creditlimit`. */
export function uploadTestEntities(): EntityMetadata[] {
  return testEntities().map((entity) =>
    entity.logicalName === 'account'
      ? {
          ...entity,
          attributes: [
            ...entity.attributes.map((a) => (a.name === 'name' ? { ...a, required: true } : a)),
            { name: 'creditlimit', type: 'money', required: false, secured: true },
            { name: 'description', type: 'memo', maxLength: 20, required: false, secured: false },
            { name: 'lastvisit', type: 'datetime', required: false, secured: false },
          ],
        }
      : entity,
  );
}

export interface UploadTestTenant {
  store: Store;
  tenantStore: TenantStore;
  clock: ManualClock;
  tenant: Tenant;
  deps: UploadDependencies;
  setConflictDetection(on: boolean): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates the tenant: entities declared, enabled and published; the directory; a published profile
 * (account: all rows, contact: mine) holding u1, u2, u3, u4, u5; and the app using it.
 */
export async function createUploadTestTenant(
  options: { source?: TenantSource; sourceFor?: (tenant: Tenant) => Source } = {},
): Promise<UploadTestTenant> {
  const dataDir = mkdtempSync(join(tmpdir(), 'offline-sync-upload-'));
  const clock = new ManualClock('2026-01-15T12:00:00.000Z');
  const store = createSqliteStore({ dataDir, clock });
  await store.createTenantDatabase(ORG);
  const tenantStore = store.tenant(ORG);
  for (const metadata of uploadTestEntities()) await declareEntityMetadata(tenantStore, clock, metadata);
  for (const entity of ['account', 'contact', 'territory']) {
    await setEntityOfflineSettings(tenantStore, clock, entity, {
      enabled: true,
      orgFilter: [],
      required: false,
    });
  }
  await publishCustomizations(tenantStore, clock);
  await replaceDirectory(tenantStore, testDirectory(), clock);
  await createProfile(tenantStore, clock, { id: 'sales', name: 'Sales', description: '' });
  await updateProfile(tenantStore, clock, 'sales', {
    name: 'Sales',
    description: '',
    items: [
      { entity: 'account', rule: 'all', mine: false, team: false, businessUnit: false, associations: [] },
      { entity: 'contact', rule: 'other', mine: true, team: false, businessUnit: false, associations: [] },
    ],
    users: ['u1', 'u2', 'u3', 'u4', 'u5'],
  });
  await publishProfile(tenantStore, clock, 'sales');
  await putApp(tenantStore, clock, APP, { name: 'Field', offlineEnabled: true, profiles: ['sales'] });

  const now = clock.now().toISOString();
  const tenant: Tenant = {
    org: ORG,
    displayName: 'Contoso',
    entraTenantId: '11111111-1111-4111-8111-111111111111',
    source: options.source ?? { kind: 'local' },
    state: 'active',
    createdAt: now,
    updatedAt: now,
  };
  const sourceFor =
    options.sourceFor ??
    (() => {
      throw new Error('no source in this test');
    });
  return {
    store,
    tenantStore,
    clock,
    tenant,
    deps: { tenant, store: tenantStore, sourceFor, clock },
    async setConflictDetection(on) {
      await updateTenantSettings(tenantStore, { conflictDetection: on });
    },
    async close() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
