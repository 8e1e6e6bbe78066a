import { putApp } from '../shared/admin/app-config';
import { replaceDirectory } from '../shared/admin/directory-store';
import {
  declareEntityMetadata,
  publishCustomizations,
  setEntityOfflineSettings,
} from '../shared/admin/entity-config';
import { createProfile, publishProfile, updateProfile } from '../shared/admin/profile-service';
import type { Principal } from '../shared/auth/principal';
import type { Clock } from '../shared/clock';
import { attribute as attr } from '../shared/entities/metadata-builders';
import { OFFLINE_PROFILE_ENTITY, type Directory } from '../shared/model/directory';
import type { EntityMetadata } from '../shared/model/entity';
import { newReadMeter, type RecordWrite, type TenantStore } from '../shared/store/port';
import { downloadChanges } from '../shared/sync/download';
import { prepareSyncLookups } from '../shared/sync/lookup-specs';
import { addStoreReads, noStoreReads, storeReadsOfMeter, type StoreReads } from './store-reads';

/*
 * A tenant the bench configures in its own process, through the admin functions the routes call
 * (the shape of test/shared/sync/download/download-test-tenant.ts): one user-owned entity, `visit`,
 * with an org filter `scheduledstart last-x-days N`; users u1…u10 reading their own visits; one profile
 * (`mine`) for u1, the measured user; one app. For what a host in a child process cannot do: a
 * clock the bench moves (the host runs on the system clock), or a store the bench counts directly.
 */

/** A day, in ms (the tenants' dates are spread over days). */
export const DAY_MS = 24 * 60 * 60_000;

/** The entity of the in-process tenants. */
export const VISIT = 'visit';
/** Users of the in-process tenants: u1 is the measured one, the others own the rest of the tenant. */
export const VISIT_USERS = 10;
const APP = 'field-visits';
const PROFILE = 'visits';
const ROLE = 'visit-reader';

/** The Entra object id of user n. */
function objectIdOf(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** The directory id of user n. */
export function visitUserId(n: number): string {
  return `u${n}`;
}

/** The principal of user n, as a local token would carry it. */
export function visitPrincipal(n: number): Principal {
  return {
    objectId: objectIdOf(n),
    tenantId: '11111111-1111-4111-8111-111111111111',
    roles: [],
    issuer: 'local',
  };
}

function visitMetadata(): EntityMetadata {
  return {
    logicalName: VISIT,
    primaryIdAttribute: 'visitid',
    primaryNameAttribute: 'name',
    ownership: 'user',
    attributes: [
      attr('visitid', 'uniqueidentifier', { required: true }),
      attr('name', 'string', { maxLength: 200 }),
      attr('ownerid', 'owner', { targets: ['systemuser', 'team'] }),
      attr('owningbusinessunit', 'lookup', { targets: ['businessunit'] }),
      attr('modifiedon', 'datetime'),
      attr('scheduledstart', 'datetime'),
      attr('notes', 'memo', { maxLength: 2000 }),
    ],
    relationships: [],
  };
}

function visitDirectory(): Directory {
  return {
    businessUnits: [{ id: 'root', name: 'Root', parentId: null }],
    users: Array.from({ length: VISIT_USERS }, (_, i) => ({
      id: visitUserId(i + 1),
      entraObjectId: objectIdOf(i + 1),
      userName: `user${i + 1}`,
      fullName: `User ${i + 1}`,
      businessUnitId: 'root',
      managerId: null,
      languageId: 1033,
      roleIds: [ROLE],
      securedColumns: [],
    })),
    teams: [],
    roles: [
      {
        id: ROLE,
        name: 'Reads own visits',
        privileges: { [OFFLINE_PROFILE_ENTITY]: { read: 'organization' }, [VISIT]: { read: 'user' } },
      },
    ],
  };
}

/**
 * Declares and publishes `visit` with the org filter `scheduledstart last-x-days days` (when the
 * visit is planned: a planned date, so the day the window gains holds visits already stored), prepares the
 * look-ups (as the publish routes do), and sets the directory, u1's profile and the app.
 */
export async function configureVisitTenant(
  tenant: TenantStore,
  clock: Clock,
  options: { days: number },
): Promise<void> {
  await declareEntityMetadata(tenant, clock, visitMetadata());
  await setEntityOfflineSettings(tenant, clock, VISIT, {
    enabled: true,
    orgFilter: [{ attribute: 'scheduledstart', operator: 'last-x-days', value: options.days }],
    required: false,
  });
  await publishCustomizations(tenant, clock);
  await replaceDirectory(tenant, visitDirectory(), clock);
  await createProfile(tenant, clock, { id: PROFILE, name: 'Visits', description: 'My visits.' });
  await updateProfile(tenant, clock, PROFILE, {
    name: 'Visits',
    description: 'My visits.',
    items: [{ entity: VISIT, rule: 'other', mine: true, team: false, businessUnit: false, associations: [] }],
    users: [visitUserId(1)],
  });
  await publishProfile(tenant, clock, PROFILE);
  await prepareSyncLookups(tenant);
  await putApp(tenant, clock, APP, { name: 'Field visits', offlineEnabled: true, profiles: [PROFILE] });
}

/** One visit row of user `owner`, planned at `scheduledstart`, at `version`. */
export function visitWrite(id: string, owner: number, scheduledstart: Date, version: number): RecordWrite {
  return {
    entity: VISIT,
    id,
    version: String(version),
    deleted: false,
    attributes: {
      visitid: id,
      name: `Visit ${id}`,
      ownerid: visitUserId(owner),
      owningbusinessunit: 'root',
      scheduledstart: scheduledstart.toISOString(),
      notes: `version ${version}`,
    },
  };
}

/** Writes rows in chunks (one transaction or bulk request each). */
export async function writeVisits(tenant: TenantStore, writes: readonly RecordWrite[]): Promise<void> {
  const CHUNK = 2000;
  for (let start = 0; start < writes.length; start += CHUNK) {
    await tenant.applyRecordWrites(writes.slice(start, start + CHUNK));
  }
}

/** A device of user u1 and the checkpoint of the last page it applied. */
export interface VisitDevice {
  id: string;
  checkpoint: string | undefined;
}

/** What one sync (requests until `more` is false) sent and read. */
export interface InProcessSync {
  upserts: number;
  removals: number;
  pages: number;
  /** What the requests read, each counted by a meter of its own, summed. */
  reads: StoreReads;
  /** Wall time of the requests in this process (the engine's own time: no HTTP, no compression). */
  ms: number;
}

/** Most pages one sync may take: a guard against a download that never ends. */
const MAX_PAGES = 1000;

/**
 * Syncs u1's device as the SDK does: pages of `pageSize` until the answer has no more, each
 * request acknowledging the page before it, each with its own read meter (what the route does).
 */
export async function syncVisits(
  tenant: TenantStore,
  clock: Clock,
  device: VisitDevice,
  pageSize = 5000,
): Promise<InProcessSync> {
  const sync: InProcessSync = { upserts: 0, removals: 0, pages: 0, reads: noStoreReads(), ms: 0 };
  const started = performance.now();
  for (;;) {
    if (sync.pages >= MAX_PAGES)
      throw new Error(`The sync of ${device.id} did not end in ${MAX_PAGES} pages.`);
    const meter = newReadMeter();
    const page = await downloadChanges(
      { store: tenant, principal: visitPrincipal(1), clock, meter },
      {
        app: APP,
        deviceId: device.id,
        pageSize,
        ...(device.checkpoint === undefined ? {} : { checkpoint: device.checkpoint }),
      },
    );
    sync.pages += 1;
    addStoreReads(sync.reads, storeReadsOfMeter(meter));
    for (const change of page.changes) {
      if (change.op === 'upsert') sync.upserts += 1;
      else sync.removals += 1;
    }
    device.checkpoint = page.checkpoint;
    if (!page.more) break;
  }
  sync.ms = performance.now() - started;
  return sync;
}
