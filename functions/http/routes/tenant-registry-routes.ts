import { z } from 'zod';
import { tenantRegistrationSchema, tenantSchema } from '../../../shared/model/tenant';
import { listTenants, registerTenant } from '../../../shared/tenants/tenant-registry';
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
