import { buildOpenApiDocument } from './http/openapi';
import type { RouteDefinition } from './http/route-definition';
import { adminConfigRoutes } from './http/routes/admin-config-routes';
import { apiViewerRoutes } from './http/routes/api-viewer-routes';
import { consoleRoutes } from './http/routes/console-routes';
import { ingestRoutes } from './http/routes/ingest-routes';
import { profilePreviewRoutes } from './http/routes/profile-preview-routes';
import { operationsRoutes } from './http/routes/operations-routes';
import { provisioningRoutes } from './http/routes/provisioning-routes';
import { replicationRoutes } from './http/routes/replication-routes';
import { syncDownloadRoutes } from './http/routes/sync-download-routes';
import { syncUploadRoutes } from './http/routes/sync-upload-routes';
import { healthRoute, openApiRoute } from './http/routes/system-routes';
import {
  listTenantsRoute,
  registerTenantRoute,
  tenantUsageRoute,
} from './http/routes/tenant-registry-routes';

/**
 * The route table: the single list of HTTP endpoints. `functions/index.ts` registers each with
 * `app.http`; the local host serves the same list. Order matters only for readability: templates
 * are matched literal segments first.
 */
const featureRoutes: RouteDefinition[] = [
  healthRoute,
  listTenantsRoute,
  registerTenantRoute,
  tenantUsageRoute,
  ...adminConfigRoutes,
  ...profilePreviewRoutes,
  ...provisioningRoutes,
  ...replicationRoutes,
  ...syncDownloadRoutes,
  ...syncUploadRoutes,
  ...ingestRoutes,
  ...operationsRoutes,
];

let openApiDocument: unknown;

export const routes: readonly RouteDefinition[] = [
  ...featureRoutes,
  openApiRoute(() => (openApiDocument ??= buildOpenApiDocument(routes))),
  ...apiViewerRoutes,
  ...consoleRoutes,
];
