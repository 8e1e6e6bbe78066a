import { putApp } from '../../../shared/admin/app-config';
import { publishCustomizations, setEntityOfflineSettings } from '../../../shared/admin/entity-config';
import { publishProfile, updateProfile } from '../../../shared/admin/profile-service';
import { updateTenantSettings } from '../../../shared/admin/settings-store';
import { AppError } from '../../../shared/errors';
import type { RecordWrite } from '../../../shared/store/port';
import {
  APP,
  configureDownloadTenant,
  DeviceReplica,
  openTestStore,
  profileOneItems,
  type TestStore,
} from './download/download-test-tenant';

/**
 * Device requests reuse what earlier requests parsed and compiled (per store handle). Each test syncs
 * a device to the end (so every cache is warm), changes one piece of configuration through the admin
 * functions, and checks that the very next download follows the change.
 */
let t: TestStore;
let version = 0;
const write = (entity: string, id: string, attributes: Record<string, unknown>): RecordWrite => ({
  entity,
  id,
  version: String(++version),
  deleted: false,
  attributes,
});
const keys = (d: DeviceReplica) => [...d.rows.keys()].sort();

beforeEach(async () => {
  t = await openTestStore('sqlite');
  await configureDownloadTenant(t);
  await t.tenant.applyRecordWrites([
    write('account', 'a1', { name: 'mine', ownerid: 'u1', owningbusinessunit: 'east' }),
    write('lead', 'l1', { name: 'l1', owningbusinessunit: 'east' }),
    write('lead', 'l2', { name: 'l2', owningbusinessunit: 'west' }),
  ]);
});
afterEach(async () => {
  await t.close();
});

async function warmDevice(): Promise<DeviceReplica> {
  const d = new DeviceReplica('d1', 1);
  await d.syncToEnd(t);
  // Twice: the second run answers from the caches the first one filled.
  await d.syncToEnd(t);
  expect(keys(d)).toEqual(['account/a1', 'lead/l1']);
  return d;
}

it('follows a republished profile at once', async () => {
  const d = await warmDevice();
  await updateProfile(t.tenant, t.clock, 'p1', {
    name: 'P1',
    description: '',
    items: profileOneItems({ withLeads: false }),
    users: ['u1', 'u2', 'u4', 'u5'],
  });
  await publishProfile(t.tenant, t.clock, 'p1');
  await d.syncToEnd(t);
  expect(keys(d)).toEqual(['account/a1']);
});

it('follows published customizations at once', async () => {
  const d = await warmDevice();
  await setEntityOfflineSettings(t.tenant, t.clock, 'lead', {
    enabled: true,
    orgFilter: [{ attribute: 'name', operator: 'eq', value: 'nobody' }],
    required: false,
  });
  await publishCustomizations(t.tenant, t.clock);
  await d.syncToEnd(t);
  expect(keys(d)).toEqual(['account/a1']);
});

it('follows changed settings and a changed app at once', async () => {
  const d = await warmDevice();
  await updateTenantSettings(t.tenant, { softRowLimit: 1, hardRowLimit: 2 });
  const warned = await d.step(t);
  expect(warned.warnings?.[0]).toMatchObject({ code: 'SoftRowLimitExceeded', details: { softRowLimit: 1 } });
  await putApp(t.tenant, t.clock, APP, { name: 'Field', offlineEnabled: false, profiles: ['p1', 'p2'] });
  const refused = await d.step(t).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(refused).toBeInstanceOf(AppError);
  expect((refused as AppError).code).toBe('NoProfile');
});

it('re-reads the clock for every sync even when the compiled profile is reused', async () => {
  await t.tenant.applyRecordWrites([
    write('task', 'k1', {
      name: 'k1',
      ownerid: 'u1',
      owningbusinessunit: 'east',
      modifiedon: '2026-03-09T00:00:00Z',
    }),
  ]);
  const d = new DeviceReplica('d1', 1);
  await d.syncToEnd(t);
  await d.syncToEnd(t);
  expect(d.rows.has('task/k1')).toBe(true);
  // Four days on, k1 falls out of last-x-days 3 while nothing else changed.
  t.clock.advance(4 * 86_400_000);
  await d.syncToEnd(t);
  expect(d.rows.has('task/k1')).toBe(false);
});
