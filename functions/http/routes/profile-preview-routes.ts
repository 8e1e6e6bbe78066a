import { z } from 'zod';
import { profileIdSchema } from '../../../shared/model/profile';
import { orgSchema } from '../../../shared/model/tenant';
import {
  previewProfileDraft,
  profilePreviewRequestSchema,
  profilePreviewSchema,
} from '../../../shared/sync/publish-preview';
import { defineTenantRoute, type RouteDefinition } from '../route-definition';

/**
 * `POST api/admin/{org}/profiles/{id}/preview`: for the profile's draft, before it is published, what
 * each of its users would download: rows per entity, estimated bytes, and who passes the soft or hard
 * row limit (shared/sync/publish-preview.ts). Reads only; POST because it computes.
 */
export const profilePreviewRoute = defineTenantRoute({
  name: 'profilePreview',
  method: 'POST',
  route: 'api/admin/{org}/profiles/{id}/preview',
  auth: 'admin',
  params: z.object({ org: orgSchema, id: profileIdSchema }),
  body: profilePreviewRequestSchema,
  summary:
    "Preview a profile draft before publishing: per user, rows per entity and estimated bytes, users past the soft or hard row limit marked. Body { users? } (default: all the draft's users).",
  response: profilePreviewSchema,
  errors: ['NotFound', 'ProfileInvalid'],
  handler: async ({ params, body, store, services }) => ({
    body: await previewProfileDraft(store, services.clock, params.id, body.users),
  }),
});

export const profilePreviewRoutes: RouteDefinition[] = [profilePreviewRoute];
