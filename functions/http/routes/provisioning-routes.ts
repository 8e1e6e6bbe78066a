import { z } from 'zod';
import { AppError } from '../../../shared/errors';
import {
  checkProvisioningStatus,
  requestProvisioningAction,
} from '../../../shared/provisioning/provisioning-requests';
import {
  provisioningActionSchema,
  provisioningStatusSchema,
} from '../../../shared/provisioning/provisioning-status';
import { defineTenantRoute, orgParamsSchema, type RouteDefinition } from '../route-definition';

/** Body of `POST admin/{org}/provisioning`. */
export const provisioningRequestSchema = z.object({ action: provisioningActionSchema }).strict();

/** `GET api/admin/{org}/provisioning`: the status document, stamped with when it was checked. */
export const provisioningStatusRoute = defineTenantRoute({
  name: 'provisioningStatus',
  method: 'GET',
  route: 'api/admin/{org}/provisioning',
  auth: 'admin',
  params: orgParamsSchema,
  summary: 'Provisioning status: state, current step, per-step status, download progress with ETA, messages.',
  response: provisioningStatusSchema,
  // Reading the status reconciles it with the orchestration's runtime status (a terminated or lost
  // instance is reported failed), which needs the Durable client.
  durableClient: true,
  handler: async ({ services, tenant }) => ({ body: await checkProvisioningStatus(services, tenant) }),
});

/** `POST api/admin/{org}/provisioning`: provision, stop, deprovision or retry; 202, or 409 saying why. */
export const provisioningActionRoute = defineTenantRoute({
  name: 'provisioningAction',
  method: 'POST',
  route: 'api/admin/{org}/provisioning',
  auth: 'admin',
  durableClient: true,
  params: orgParamsSchema,
  body: provisioningRequestSchema,
  summary: 'Provision, stop, deprovision or retry; answers 202 with the status, or 409 with the reason.',
  response: provisioningStatusSchema,
  successStatuses: [202],
  errors: ['Conflict'],
  handler: async ({ services, tenant, body, log }) => {
    const runner = services.provisioning;
    if (!runner) throw new AppError('Unavailable', 'This host does not run provisioning orchestrations.');
    const status = await requestProvisioningAction(services, runner, tenant, body.action);
    log('provisioning action accepted', { org: tenant.org, action: body.action, state: status.state });
    return { status: 202, body: status };
  },
});

/** The provisioning routes, for the route table. */
export const provisioningRoutes: RouteDefinition[] = [provisioningStatusRoute, provisioningActionRoute];
