import { z } from 'zod';
import { orgSchema } from '../../../shared/model/tenant';
import { listSyncErrors } from '../../../shared/sync/sync-errors/sync-error-log';
import { retrySyncError } from '../../../shared/sync/sync-errors/retry-sync-error';
import { processUploadBatch } from '../../../shared/sync/upload/process-upload-batch';
import {
  deviceSyncErrorsQuerySchema,
  MAX_SYNC_ERROR_LIST,
  syncErrorRetryResponseSchema,
  syncErrorsListQuerySchema,
  syncErrorsResponseSchema,
  uploadRequestSchema,
  uploadResponseSchema,
} from '../../../shared/sync/upload/upload-protocol';
import { findDirectoryUser } from '../../../shared/sync/device-identity';
import type { UploadDependencies } from '../../../shared/sync/upload/upload-session';
import {
  defineTenantRoute,
  orgParamsSchema,
  type RouteDefinition,
  type TenantRouteContext,
} from '../route-definition';

const errorParams = z.object({
  org: orgSchema,
  errorId: z.string().regex(/^[0-9]{15}-[0-9a-f-]{36}$/, 'a sync error id'),
});

function uploadDependencies(ctx: TenantRouteContext<unknown, unknown, unknown>): UploadDependencies {
  return {
    tenant: ctx.tenant,
    store: ctx.store,
    sourceFor: (tenant) => ctx.services.sourceFor(tenant),
    clock: ctx.services.clock,
  };
}

/** The device upload route and the sync error log routes (SPEC §6, §10). */
export const syncUploadRoutes: RouteDefinition[] = [
  defineTenantRoute({
    name: 'syncUpload',
    method: 'POST',
    route: 'api/sync/{org}/upload',
    auth: 'device',
    requireActiveTenant: true,
    params: orgParamsSchema,
    body: uploadRequestSchema,
    // Rows are free-form and each is bounded per operation (uploadRowContentSchema): a row nested too
    // deep is rejected alone, so the batch around it must get through the adapter.
    maxBodyDepth: Number.POSITIVE_INFINITY,
    response: uploadResponseSchema,
    summary:
      'Upload offline creates, updates and deletes: one result per operation (applied, conflict, rejected or duplicate).',
    errors: ['NotFound', 'NoProfile', 'PrivilegeDenied', 'ProfileInvalid', 'SourceUnavailable'],
    async handler(ctx) {
      const body = await processUploadBatch(
        uploadDependencies(ctx),
        ctx.principal.objectId,
        ctx.body,
        ctx.log,
      );
      return { body };
    },
  }),
  defineTenantRoute({
    name: 'syncErrorsDevice',
    method: 'GET',
    route: 'api/sync/{org}/errors',
    auth: 'device',
    requireActiveTenant: true,
    params: orgParamsSchema,
    query: deviceSyncErrorsQuerySchema,
    response: syncErrorsResponseSchema,
    summary: "The sync error log entries of the caller's own operations from this device, newest first.",
    async handler(ctx) {
      const user = await findDirectoryUser(ctx.store, ctx.principal);
      const errors = await listSyncErrors(ctx.store, {
        userId: user.id,
        deviceId: ctx.query.deviceId,
        limit: MAX_SYNC_ERROR_LIST,
      });
      return { body: { errors } };
    },
  }),
  defineTenantRoute({
    name: 'syncErrorsList',
    method: 'GET',
    route: 'api/admin/{org}/sync-errors',
    auth: 'admin',
    params: orgParamsSchema,
    query: syncErrorsListQuerySchema,
    response: syncErrorsResponseSchema,
    summary: "The tenant's sync error log, newest first, filtered by user and entity.",
    async handler(ctx) {
      const errors = await listSyncErrors(ctx.store, {
        ...(ctx.query.user === undefined ? {} : { userId: ctx.query.user }),
        ...(ctx.query.entity === undefined ? {} : { entity: ctx.query.entity }),
        limit: ctx.query.limit,
      });
      return { body: { errors } };
    },
  }),
  defineTenantRoute({
    name: 'syncErrorRetry',
    method: 'POST',
    route: 'api/admin/{org}/sync-errors/{errorId}/retry',
    auth: 'admin',
    params: errorParams,
    response: syncErrorRetryResponseSchema,
    summary: 'Retry a logged operation as its user; answers the new result and marks the entry.',
    errors: ['NotFound', 'PreconditionFailed', 'ProfileInvalid', 'SourceUnavailable'],
    async handler(ctx) {
      return { body: await retrySyncError(uploadDependencies(ctx), ctx.params.errorId) };
    },
  }),
];
