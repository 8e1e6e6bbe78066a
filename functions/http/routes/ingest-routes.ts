import { z } from 'zod';
import {
  ingestAcceptedSchema,
  ingestChanges,
  ingestChangesSchema,
  ingestDataverseContext,
} from '../../../shared/ingest/ingest-changes';
import { getTenantSettings } from '../../../shared/admin/settings-store';
import { rotateIngestKey } from '../../../shared/ingest/ingest-key';
import { defineTenantRoute, type RouteDefinition } from '../route-definition';

/**
 * Ingest routes: source systems push changes; each is queued for the replication handler (202).
 * Callers authenticate with a token holding `OfflineSync.Ingest` (or `OfflineSync.Admin`) of the
 * tenant's Entra tenant, or with the tenant's ingest key in `x-ingest-key` (for webhooks that cannot
 * fetch tokens).
 */
export const ingestRoutes: RouteDefinition[] = [
  defineTenantRoute({
    name: 'ingestChanges',
    method: 'POST',
    route: 'api/ingest/{org}/changes',
    auth: 'ingest',
    body: ingestChangesSchema,
    summary:
      'Queue changes from a system of record: [{ entity, id, op: upsert|delete, attributes, version }].',
    response: ingestAcceptedSchema,
    successStatuses: [202],
    errors: ['Unprocessable'],
    handler: async ({ body, store, tenant, services }) => ({
      status: 202,
      body: await ingestChanges(store, services.queue, tenant.org, body),
    }),
  }),
  defineTenantRoute({
    name: 'ingestDataverse',
    method: 'POST',
    route: 'api/ingest/{org}/dataverse',
    auth: 'ingest',
    body: z.unknown(),
    summary:
      'Queue what a Dataverse webhook posts (RemoteExecutionContext JSON: Create, Update, Delete, Assign, SetState).',
    response: ingestAcceptedSchema,
    successStatuses: [202],
    handler: async ({ body, tenant, store, services }) => ({
      status: 202,
      body: await ingestDataverseContext(services.queue, tenant.org, body, {
        postImageName: (await getTenantSettings(store)).dataversePostImageName,
      }),
    }),
  }),
  defineTenantRoute({
    name: 'ingestKeyRotate',
    method: 'POST',
    route: 'api/admin/{org}/ingest-key',
    auth: 'admin',
    summary: 'Create or replace the tenant ingest key (returned once; only its hash is kept).',
    response: z.object({ key: z.string(), createdAt: z.iso.datetime() }),
    successStatuses: [201],
    handler: async ({ store, services }) => ({
      status: 201,
      body: await rotateIngestKey(store, services.clock),
    }),
  }),
];
