import { AppError } from '../errors';
import {
  tenantSchema,
  type Org,
  type Tenant,
  type TenantRegistration,
  type TenantState,
} from '../model/tenant';
import type { Clock } from '../clock';
import { ParsedDocCache } from '../store/parsed-doc-cache';
import { retryOnWriteRace, type Store } from '../store/port';

/** Doc kind of tenant registrations in the control store. */
const TENANT_KIND = 'tenant';

/** Every request reads its tenant's registration: each stored version is validated once per store. */
const registrations = new ParsedDocCache(TENANT_KIND, (value) => tenantSchema.parse(value));

/** The registered tenant, or undefined. Shared and frozen: do not change it. */
export async function getTenant(store: Store, org: Org): Promise<Tenant | undefined> {
  return (await registrations.get(store.control, org))?.value;
}

export async function listTenants(store: Store): Promise<Tenant[]> {
  const docs = await store.control.listDocs(TENANT_KIND);
  return docs.map((doc) => tenantSchema.parse(doc.value));
}

/**
 * Registers a tenant, or updates its registration. A new tenant gets its database at once, so that
 * admins can configure entities and profiles before provisioning; it starts in state `registered`.
 * Changing the Entra tenant or the source kind of a provisioned tenant is refused (409).
 */
export async function registerTenant(
  store: Store,
  clock: Clock,
  org: Org,
  registration: TenantRegistration,
): Promise<{ tenant: Tenant; created: boolean }> {
  const now = clock.now().toISOString();
  const existing = await store.control.getDoc<unknown>(TENANT_KIND, org);
  if (existing) {
    const current = tenantSchema.parse(existing.value);
    const identityChanged =
      current.entraTenantId !== registration.entraTenantId ||
      current.source.kind !== registration.source.kind;
    if (identityChanged && current.state !== 'registered' && current.state !== 'deprovisioned') {
      throw new AppError(
        'Conflict',
        `Tenant '${org}' is ${current.state}: deprovision it before changing its Entra tenant or source kind.`,
      );
    }
    const tenant: Tenant = { ...current, ...registration, updatedAt: now };
    await store.control.putDoc(TENANT_KIND, org, tenant, { ifMatch: existing.etag });
    return { tenant, created: false };
  }
  const tenant: Tenant = { ...registration, org, state: 'registered', createdAt: now, updatedAt: now };
  await store.createTenantDatabase(org);
  await store.control.putDoc(TENANT_KIND, org, tenant, { ifNoneMatch: '*' });
  return { tenant, created: true };
}

/** Moves a tenant to a lifecycle state (optimistic concurrency on the registry document). */
export async function setTenantState(
  store: Store,
  clock: Clock,
  org: Org,
  state: TenantState,
): Promise<Tenant> {
  return retryOnWriteRace(6, async () => {
    const doc = await store.control.getDoc<unknown>(TENANT_KIND, org);
    if (!doc) throw new AppError('TenantNotFound', `No tenant '${org}' is registered.`);
    const tenant: Tenant = { ...tenantSchema.parse(doc.value), state, updatedAt: clock.now().toISOString() };
    await store.control.putDoc(TENANT_KIND, org, tenant, { ifMatch: doc.etag });
    return tenant;
  });
}
