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
import type { Principal } from '../../../../shared/auth/principal';
import { ManualClock } from '../../../../shared/clock';
import type { Condition } from '../../../../shared/model/condition';
import type { Directory } from '../../../../shared/model/directory';
import type { Attribute, EntityMetadata, Relationship } from '../../../../shared/model/entity';
import type { ProfileItem } from '../../../../shared/model/profile';
import type { TenantSettingsUpdate } from '../../../../shared/model/settings';
import { newReadMeter, type ReadMeter, type Store, type TenantStore } from '../../../../shared/store/port';
import { newDownloadCounters, type DownloadCounters } from '../../../../shared/sync/sync-work';
import { createCosmosStore } from '../../../../shared/store/cosmos';
import { createSqliteStore } from '../../../../shared/store/sqlite';
import { downloadChanges } from '../../../../shared/sync/download';
import { fromTablesResponse, toTablesResponse } from '../../../../shared/sync/download-tables';
import type { DownloadFormat, DownloadResponse } from '../../../../shared/sync/sync-protocol';
import { cosmosTestOptions } from '../../../support/cosmos-test-options';
import { attribute as attr, lookupRelationship } from '../../../../shared/entities/metadata-builders';

/** A tenant configured for download tests: entities with every kind of association, a directory, profiles, an app. */

export const ORG = 'contoso';
export const APP = 'field-app';
export const oid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

const owner = [
  attr('ownerid', 'owner', { targets: ['systemuser', 'team'] }),
  attr('owningbusinessunit', 'lookup', { targets: ['businessunit'] }),
];
const lookup = lookupRelationship;
const entity = (
  logicalName: string,
  ownership: EntityMetadata['ownership'],
  attributes: Attribute[],
  relationships: Relationship[] = [],
): EntityMetadata => ({
  logicalName,
  primaryIdAttribute: `${logicalName}id`,
  primaryNameAttribute: 'name',
  ownership,
  attributes: [attr(`${logicalName}id`, 'uniqueidentifier'), attr('name', 'string'), ...attributes],
  relationships,
});

/**
 * account (user) —one-to-many→ contact (user) —one-to-many→ note (none);
 * account —many-to-one→ currency (organization); account ⇄ tag (organization) through accounttag;
 * task (user, custom filter, clock-dependent org filter) and lead (business) stand alone; invoice
 * (user) is in no profile.
 * account.secret is a secured column.
 */
export function downloadTestEntities(): EntityMetadata[] {
  return [
    entity(
      'account',
      'user',
      [
        ...owner,
        attr('secret', 'string', { secured: true }),
        attr('currencyid', 'lookup', { targets: ['currency'] }),
        attr('revenue', 'integer'),
      ],
      [
        lookup('account_contacts', 'one-to-many', 'account', 'contact', 'parentaccountid'),
        lookup('account_currency', 'many-to-one', 'currency', 'account', 'currencyid'),
        {
          name: 'account_tags',
          kind: 'many-to-many',
          intersectEntity: 'accounttag',
          entity1: 'account',
          entity1Attribute: 'accountid',
          entity2: 'tag',
          entity2Attribute: 'tagid',
        },
      ],
    ),
    entity(
      'contact',
      'user',
      [...owner, attr('parentaccountid', 'lookup', { targets: ['account'] })],
      [
        lookup('account_contacts', 'many-to-one', 'account', 'contact', 'parentaccountid'),
        lookup('contact_notes', 'one-to-many', 'contact', 'note', 'objectid'),
      ],
    ),
    entity(
      'note',
      'none',
      [attr('objectid', 'lookup', { targets: ['contact'] })],
      [lookup('contact_notes', 'many-to-one', 'contact', 'note', 'objectid')],
    ),
    entity(
      'currency',
      'organization',
      [],
      [lookup('account_currency', 'one-to-many', 'currency', 'account', 'currencyid')],
    ),
    entity('tag', 'organization', []),
    entity('accounttag', 'none', [
      attr('accountid', 'lookup', { targets: ['account'] }),
      attr('tagid', 'lookup', { targets: ['tag'] }),
    ]),
    entity('task', 'user', [...owner, attr('modifiedon', 'datetime'), attr('scheduledend', 'datetime')]),
    entity('lead', 'business', [
      attr('owningbusinessunit', 'lookup', { targets: ['businessunit'] }),
      attr('score', 'integer'),
    ]),
    // Offline-enabled, in no profile: its changes must cost the devices nothing.
    entity('invoice', 'user', [...owner]),
  ];
}

/** Org filters per entity: task rows modified in the last 3 days. */
export const orgFilters: Record<string, Condition[]> = {
  task: [{ attribute: 'modifiedon', operator: 'last-x-days', value: 3 }],
};

/** Profile P1: accounts mine or my teams', their contacts and notes, currency and tags; my hierarchy's tasks; my BU's leads. */
export function profileOneItems(
  options: { accountBusinessUnit?: boolean; withLeads?: boolean; withTasks?: boolean } = {},
): ProfileItem[] {
  const items: ProfileItem[] = [
    {
      entity: 'account',
      rule: 'other',
      mine: true,
      team: true,
      businessUnit: options.accountBusinessUnit ?? false,
      associations: [
        { relationship: 'account_contacts' },
        { relationship: 'account_currency' },
        { relationship: 'account_tags' },
      ],
    },
    {
      entity: 'contact',
      rule: 'related',
      mine: false,
      team: false,
      businessUnit: false,
      associations: [{ relationship: 'contact_notes' }],
    },
    related('note'),
    related('currency'),
    related('tag'),
    {
      entity: 'task',
      rule: 'other',
      mine: false,
      team: false,
      businessUnit: false,
      customFilter: {
        type: 'or',
        conditions: [{ attribute: 'ownerid', operator: 'eq-useroruserhierarchy' }],
        filters: [],
      },
      associations: [],
    },
  ];
  if (options.withTasks === false)
    items.splice(
      items.findIndex((item) => item.entity === 'task'),
      1,
    );
  if (options.withLeads ?? true) {
    items.push({
      entity: 'lead',
      rule: 'other',
      mine: false,
      team: false,
      businessUnit: true,
      associations: [],
    });
  }
  return items;
}

/** Profile P2: contacts I own with their notes; every lead; the 20-minute interval. */
export function profileTwoItems(): ProfileItem[] {
  return [
    {
      entity: 'contact',
      rule: 'other',
      mine: true,
      team: false,
      businessUnit: false,
      associations: [{ relationship: 'contact_notes' }],
      syncIntervalMinutes: 20,
    },
    related('note'),
    { entity: 'lead', rule: 'all', mine: false, team: false, businessUnit: false, associations: [] },
  ];
}

function related(name: string): ProfileItem {
  return { entity: name, rule: 'related', mine: false, team: false, businessUnit: false, associations: [] };
}

const everyEntity = [
  'account',
  'contact',
  'note',
  'currency',
  'tag',
  'accounttag',
  'task',
  'lead',
  'invoice',
];

/** A role reading every entity at one level, with Read on offline profiles. */
export function readRole(id: string, level: 'user' | 'businessUnit' | 'parentChild' | 'organization') {
  return {
    id,
    name: id,
    privileges: {
      mobileofflineprofile: { read: 'organization' as const },
      ...Object.fromEntries(everyEntity.map((e) => [e, { read: level }])),
    },
  };
}

/**
 * Business units root → east → east-sub, root → west. Users u1 (east, user level, leads at business
 * unit level, reads the secret),
 * u2 (east, business-unit level, reports to u1), u3 (west, organization level), u4 (east-sub,
 * parent-child level, reports to u2), u5 (east, no Read on offline profiles). Team t1 (east) holds u1,
 * team t2 (west) holds u3.
 */
export function baseDirectory(): Directory {
  const user = (n: number, businessUnitId: string, roleIds: string[], managerId: string | null = null) => ({
    id: `u${n}`,
    entraObjectId: oid(n),
    userName: `user${n}`,
    fullName: `User ${n}`,
    businessUnitId,
    managerId,
    languageId: 1033,
    roleIds,
    securedColumns: n === 1 ? ['account.secret'] : [],
  });
  return {
    businessUnits: [
      { id: 'root', name: 'Root', parentId: null },
      { id: 'east', name: 'East', parentId: 'root' },
      { id: 'east-sub', name: 'East sub', parentId: 'east' },
      { id: 'west', name: 'West', parentId: 'root' },
    ],
    users: [
      user(1, 'east', ['r-user', 'r-lead']),
      user(2, 'east', ['r-bu'], 'u1'),
      user(3, 'west', ['r-org']),
      user(4, 'east-sub', ['r-pc'], 'u2'),
      {
        ...user(5, 'east', []),
      },
    ],
    teams: [
      { id: 't1', name: 'East team', businessUnitId: 'east', memberIds: ['u1'], roleIds: [] },
      { id: 't2', name: 'West team', businessUnitId: 'west', memberIds: ['u3'], roleIds: [] },
    ],
    roles: [
      readRole('r-user', 'user'),
      readRole('r-bu', 'businessUnit'),
      readRole('r-org', 'organization'),
      readRole('r-pc', 'parentChild'),
      { id: 'r-lead', name: 'Leads of my unit', privileges: { lead: { read: 'businessUnit' as const } } },
    ],
  };
}

/** A store for one test: SQLite in a temp folder, or the Cosmos test endpoint. */
export interface TestStore {
  store: Store;
  tenant: TenantStore;
  clock: ManualClock;
  /** How the engine worked device sets out, summed over every download of the test. */
  counters: DownloadCounters;
  /** What every download of the test read from the store. */
  meter: ReadMeter;
  close(): Promise<void>;
}

export async function openTestStore(kind: 'sqlite' | 'cosmos'): Promise<TestStore> {
  const clock = new ManualClock('2026-03-10T12:00:00.000Z');
  let store: Store;
  let dataDir: string | undefined;
  if (kind === 'sqlite') {
    dataDir = mkdtempSync(join(tmpdir(), 'sync-download-'));
    store = createSqliteStore({ dataDir, clock });
  } else {
    store = createCosmosStore(cosmosTestOptions());
  }
  await store.createTenantDatabase(ORG);
  return {
    store,
    tenant: store.tenant(ORG),
    clock,
    counters: newDownloadCounters(),
    meter: newReadMeter(),
    async close() {
      await store.dropTenantDatabase(ORG);
      await store.close();
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Declares and publishes the entities, the directory, settings, profiles P1 (u1, u2, u4, u5) and P2 (u3), and the app. */
export async function configureDownloadTenant(
  t: TestStore,
  options: {
    settings?: TenantSettingsUpdate;
    directory?: Directory;
    /** The date attribute of task's 3-day window (default `modifiedon`, a write stamp). */
    taskWindow?: 'modifiedon' | 'scheduledend';
  } = {},
): Promise<void> {
  const { tenant, clock } = t;
  for (const metadata of downloadTestEntities()) {
    await declareEntityMetadata(tenant, clock, metadata);
    const orgFilter =
      metadata.logicalName === 'task' && options.taskWindow !== undefined
        ? [{ attribute: options.taskWindow, operator: 'last-x-days' as const, value: 3 }]
        : (orgFilters[metadata.logicalName] ?? []);
    await setEntityOfflineSettings(tenant, clock, metadata.logicalName, {
      enabled: true,
      orgFilter,
      required: false,
    });
  }
  await publishCustomizations(tenant, clock);
  await replaceDirectory(tenant, options.directory ?? baseDirectory(), clock);
  if (options.settings !== undefined) await updateTenantSettings(tenant, options.settings);
  await createProfile(tenant, clock, { id: 'p1', name: 'P1', description: '' });
  await updateProfile(tenant, clock, 'p1', {
    name: 'P1',
    description: '',
    items: profileOneItems(),
    users: ['u1', 'u2', 'u4', 'u5'],
  });
  await publishProfile(tenant, clock, 'p1');
  await createProfile(tenant, clock, { id: 'p2', name: 'P2', description: '' });
  await updateProfile(tenant, clock, 'p2', {
    name: 'P2',
    description: '',
    items: profileTwoItems(),
    users: ['u3'],
  });
  await publishProfile(tenant, clock, 'p2');
  await putApp(tenant, clock, APP, { name: 'Field', offlineEnabled: true, profiles: ['p1', 'p2'] });
}

/** The principal of test user n. */
export function principalOf(n: number): Principal {
  return { objectId: oid(n), tenantId: '11111111-1111-4111-8111-111111111111', roles: [], issuer: 'local' };
}

/** A device's local database as the client SDK keeps it. */
export class DeviceReplica {
  rows = new Map<string, { version: string; row: Record<string, unknown> }>();
  checkpoint: string | undefined;
  constructor(
    readonly deviceId: string,
    readonly user: number,
    /** `tables`: each answer goes through the tables format and back, as the SDK reads it. */
    readonly format: DownloadFormat = 'changes',
  ) {}

  /** Applies one answer (a download without a checkpoint starts from an empty database). */
  apply(response: DownloadResponse, sentWithoutCheckpoint: boolean): void {
    if (sentWithoutCheckpoint) this.rows.clear();
    for (const change of response.changes) {
      const key = `${change.entity}/${change.id}`;
      if (change.op === 'remove') this.rows.delete(key);
      else this.rows.set(key, { version: change.version, row: change.row ?? {} });
    }
    this.checkpoint = response.checkpoint;
  }

  /** Asks for one page; the answer is applied unless `drop` (the response was lost). */
  async step(t: TestStore, options: { drop?: boolean; pageSize?: number } = {}): Promise<DownloadResponse> {
    const sentWithoutCheckpoint = this.checkpoint === undefined;
    const response = await downloadChanges(
      {
        store: t.tenant,
        principal: principalOf(this.user),
        clock: t.clock,
        counters: t.counters,
        meter: t.meter,
      },
      {
        app: APP,
        deviceId: this.deviceId,
        pageSize: options.pageSize ?? 1000,
        ...(this.checkpoint === undefined ? {} : { checkpoint: this.checkpoint }),
      },
    );
    const read =
      this.format === 'tables'
        ? { ...response, changes: fromTablesResponse(toTablesResponse(response)) }
        : response;
    if (options.drop !== true) this.apply(read, sentWithoutCheckpoint);
    return read;
  }

  /** Downloads until an answer has no changes and no more pages. */
  async syncToEnd(t: TestStore, pageSize = 1000): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const response = await this.step(t, { pageSize });
      if (!response.more && response.changes.length === 0) return;
    }
    throw new Error('download did not settle');
  }

  /** `entity/id` → version. */
  versions(): Map<string, string> {
    return new Map([...this.rows].map(([key, { version }]) => [key, version]));
  }
}
