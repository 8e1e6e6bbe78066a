import { putApp } from '../../shared/admin/app-config';
import { replaceDirectory } from '../../shared/admin/directory-store';
import {
  declareEntityMetadata,
  publishCustomizations,
  setEntityOfflineSettings,
} from '../../shared/admin/entity-config';
import {
  changeProfileUsers,
  createProfile,
  getProfile,
  publishProfile,
  updateProfile,
} from '../../shared/admin/profile-service';
import { AppError } from '../../shared/errors';
import type { AppServices } from '../../shared/app-services';
import type { Directory } from '../../shared/model/directory';
import type { ProfileContent } from '../../shared/model/profile';
import type { RecordWrite, TenantStore } from '../../shared/store/port';
import { prepareSyncLookups } from '../../shared/sync/lookup-specs';
import { getTenant, registerTenant, setTenantState } from '../../shared/tenants/tenant-registry';
import {
  buildDemoDirectory,
  DEMO_ENTRA_TENANT_ID,
  DEMO_ORG,
  REFERENCE_ENTITIES,
  SALES_ENTITIES,
} from './demo-directory';
import { buildDemoEntities } from './demo-entities';
import { generateDemoRecords } from './demo-records';

/** The demo's app module and its two profiles. */
export const DEMO_APP_ID = 'field-sales';
export const DEMO_PROFILES = { sellers: 'field-sellers', managers: 'sales-managers' } as const;

const SEEDED_KIND = 'demo';
const SEEDED_ID = 'seeded';
/** The demo widens the default `modifiedon last-x-days 10` so its generated rows stay visible for a year. */
const DEMO_ORG_FILTER_DAYS = 365;
const WRITE_CHUNK = 2000;

/**
 * Creates the demo tenant `contoso` on first start, through the same services the admin routes use:
 * registration, directory, entity metadata and offline settings, publish, two profiles, an app, and
 * generated rows. Every step is idempotent, and a marker written last records completion, so a start
 * interrupted mid-way (Ctrl-C while seeding 200,000 rows) finishes the job on the next start.
 */
export async function ensureDemoTenant(
  services: AppServices,
  options: { log: (line: string) => void },
): Promise<void> {
  const { store, clock, settings } = services;
  const existing = await getTenant(store, DEMO_ORG);
  if (existing && existing.state === 'deprovisioned') return; // The admin took it down: leave it so.
  if (existing && (await store.tenant(DEMO_ORG).getDoc(SEEDED_KIND, SEEDED_ID))) return;

  options.log(
    `Creating the demo tenant '${DEMO_ORG}' with ${settings.DEMO_ROWS} rows (seed ${settings.DEMO_SEED})…`,
  );
  if (!existing) {
    await registerTenant(store, clock, DEMO_ORG, {
      displayName: 'Contoso (demo)',
      entraTenantId: DEMO_ENTRA_TENANT_ID,
      source: { kind: 'local' },
    });
  }
  const tenant = store.tenant(DEMO_ORG);
  const directory = buildDemoDirectory(settings.DEMO_SEED);
  await replaceDirectory(tenant, directory, clock);
  await configureEntities(services, tenant);
  await configureProfiles(services, tenant, directory);

  let written = 0;
  let chunk: RecordWrite[] = [];
  const flush = async (): Promise<void> => {
    await tenant.applyRecordWrites(chunk);
    written += chunk.length;
    chunk = [];
    if (settings.DEMO_ROWS >= 20_000 && written % 20_000 < WRITE_CHUNK)
      options.log(`  … ${written} rows written`);
  };
  for (const write of generateDemoRecords(directory, {
    seed: settings.DEMO_SEED,
    rows: settings.DEMO_ROWS,
    now: clock.now(),
  })) {
    chunk.push(write);
    if (chunk.length >= WRITE_CHUNK) await flush();
  }
  if (chunk.length > 0) await flush();

  await setTenantState(store, clock, DEMO_ORG, 'active');
  await tenant.putDoc(SEEDED_KIND, SEEDED_ID, { seededAt: clock.now().toISOString(), rows: written });
  options.log(`Demo tenant '${DEMO_ORG}' ready: ${written} rows.`);
}

/**
 * Re-creates the demo tenant's configuration — directory, entity metadata and offline settings,
 * profiles and the app — when a provisioning run starts and the demo's database lacks it (it was
 * deprovisioned: deprovisioning deletes the database, the declared configuration included). The
 * rows are not written here: the demo source generates them in step 5, with progress. Leaves the
 * tenant state to the run; does nothing when the configuration is there.
 */
export async function restoreDemoConfiguration(
  services: AppServices,
  options: { log: (line: string) => void },
): Promise<boolean> {
  const { store, clock, settings } = services;
  if (!(await getTenant(store, DEMO_ORG))) return false;
  if (await store.tenantDatabaseExists(DEMO_ORG)) {
    if (await store.tenant(DEMO_ORG).getDoc(SEEDED_KIND, SEEDED_ID)) return false;
  } else {
    await store.createTenantDatabase(DEMO_ORG);
  }
  options.log(`Re-creating the demo tenant's configuration for provisioning…`);
  const tenant = store.tenant(DEMO_ORG);
  const directory = buildDemoDirectory(settings.DEMO_SEED);
  await replaceDirectory(tenant, directory, clock);
  await configureEntities(services, tenant);
  await configureProfiles(services, tenant, directory);
  // Marked seeded: a later host start must not write the rows directly; step 5 brings them.
  await tenant.putDoc(SEEDED_KIND, SEEDED_ID, { seededAt: clock.now().toISOString(), rows: 0 });
  return true;
}

async function configureEntities(services: AppServices, tenant: TenantStore): Promise<void> {
  for (const metadata of buildDemoEntities()) {
    await declareEntityMetadata(tenant, services.clock, metadata);
    const business = (SALES_ENTITIES as readonly string[]).includes(metadata.logicalName);
    await setEntityOfflineSettings(tenant, services.clock, metadata.logicalName, {
      enabled: true,
      orgFilter: business
        ? [{ attribute: 'modifiedon', operator: 'last-x-days', value: DEMO_ORG_FILTER_DAYS }]
        : [],
      // Devices may start once the reference data they need to show ownership is down.
      required: (REFERENCE_ENTITIES as readonly string[]).includes(metadata.logicalName),
    });
  }
  await publishCustomizations(tenant, services.clock);
}

/** Sellers get their own and their team's rows; managers their business unit's. */
export function profileContent(
  name: string,
  description: string,
  scope: 'seller' | 'manager',
  users: string[],
): ProfileContent {
  const own =
    scope === 'seller'
      ? { mine: true, team: true, businessUnit: false }
      : { mine: false, team: false, businessUnit: true };
  return {
    name,
    description,
    users,
    items: [
      {
        entity: 'account',
        rule: 'other',
        ...own,
        associations: [{ relationship: 'contact_customer_accounts' }],
      },
      { entity: 'contact', rule: 'other', ...own, associations: [] },
      {
        entity: 'opportunity',
        rule: 'other',
        ...own,
        associations: [{ relationship: 'opportunity_customer_accounts' }],
      },
      { entity: 'lead', rule: 'other', ...own, associations: [] },
      {
        entity: 'task',
        rule: 'other',
        mine: true,
        team: false,
        businessUnit: scope === 'manager',
        associations: [],
      },
      { entity: 'systemuser', rule: 'all', mine: false, team: false, businessUnit: false, associations: [] },
      { entity: 'team', rule: 'all', mine: false, team: false, businessUnit: false, associations: [] },
      {
        entity: 'businessunit',
        rule: 'all',
        mine: false,
        team: false,
        businessUnit: false,
        associations: [],
      },
    ],
  };
}

async function configureProfiles(
  services: AppServices,
  tenant: TenantStore,
  directory: Directory,
): Promise<void> {
  const { clock } = services;
  const managers = directory.users
    .filter((u) => u.managerId === null || u.managerId === 'user-001')
    .map((u) => u.id);
  const sellers = directory.users.filter((u) => !managers.includes(u.id)).map((u) => u.id);
  const definitions = [
    {
      id: DEMO_PROFILES.sellers,
      content: profileContent('Field Sellers', 'Own and team rows for salespeople.', 'seller', []),
      users: sellers,
    },
    {
      id: DEMO_PROFILES.managers,
      content: profileContent('Sales Managers', 'Business-unit rows for managers.', 'manager', []),
      users: managers,
    },
  ];
  for (const { id, content, users } of definitions) {
    const exists = await getProfile(tenant, id).then(
      () => true,
      (error: unknown) => {
        if (error instanceof AppError && error.code === 'NotFound') return false;
        throw error;
      },
    );
    if (!exists)
      await createProfile(tenant, clock, { id, name: content.name, description: content.description });
    await updateProfile(tenant, clock, id, content);
    await changeProfileUsers(tenant, clock, id, { add: users, remove: [] });
    await publishProfile(tenant, clock, id);
  }
  await prepareSyncLookups(tenant);
  await putApp(tenant, clock, DEMO_APP_ID, {
    name: 'Field Sales',
    offlineEnabled: true,
    profiles: [DEMO_PROFILES.sellers, DEMO_PROFILES.managers],
  });
}
