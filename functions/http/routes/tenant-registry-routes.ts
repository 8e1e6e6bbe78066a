import { z } from 'zod';
import { tenantRegistrationSchema, tenantSchema } from '../../../shared/model/tenant';
import { AppError } from '../../../shared/errors';
import { readTenantUsage, tenantUsageQuerySchema, tenantUsageSchema } from '../../../shared/sync/sync-usage';
import { getTenant, listTenants, registerTenant } from '../../../shared/tenants/tenant-registry';
import { defineRoute, orgParamsSchema } from '../route-definition';

/** `PUT api/admin/tenants/{org}`: register a tenant or update its registration (operator). */
export const registerTenantRoute = defineRoute({
  name: 'tenantRegister',
  method: 'PUT',
  route: 'api/admin/tenants/{org}',
  auth: 'operator',
  params: orgParamsSchema,
  body: tenantRegistrationSchema,
  summary: 'Register a tenant: display name, Entra tenant id, source (local, or dataverse with its URL).',
  response: tenantSchema,
  successStatuses: [200, 201],
  errors: ['Conflict'],
  handler: async ({ params, body, services }) => {
    const { tenant, created } = await registerTenant(services.store, services.clock, params.org, body);
    return { status: created ? 201 : 200, body: tenant };
  },
});

/** `GET api/admin/tenants`: every registered tenant with its state (operator). */
export const listTenantsRoute = defineRoute({
  name: 'tenantList',
  method: 'GET',
  route: 'api/admin/tenants',
  auth: 'operator',
  summary: 'List tenants with their state.',
  response: z.object({ tenants: z.array(tenantSchema) }),
  handler: async ({ services }) => ({ body: { tenants: await listTenants(services.store) } }),
});

/**
 * `GET api/admin/tenants/{org}/usage?days=`: a tenant's sync usage (operator) — devices active in
 * the last day, 30 and 90 days, rows they hold, syncs completed per day. Read from the few usage
 * documents each completed sync updates (shared/sync/sync-usage.ts), never from the device states.
 */
export const tenantUsageRoute = defineRoute({
  name: 'tenantUsage',
  method: 'GET',
  route: 'api/admin/tenants/{org}/usage',
  auth: 'operator',
  params: orgParamsSchema,
  query: tenantUsageQuerySchema,
  summary: "A tenant's sync usage: active devices, rows held, syncs per day (the last `days` days).",
  response: tenantUsageSchema,
  // TenantNotProvisioned: the tenant's database was dropped (deprovisioned).
  errors: ['TenantNotFound', 'TenantNotProvisioned'],
  handler: async ({ params, query, services }) => {
    const tenant = await getTenant(services.store, params.org);
    if (!tenant) throw new AppError('TenantNotFound', `No tenant '${params.org}' is registered.`);
    const usage = await readTenantUsage(services.store.tenant(tenant.org), services.clock, query.days);
    return { body: usage };
  },
});
