import { newReadMeter, type ReadMeter } from '../../../shared/store/port';
import { z } from 'zod';
import { downloadChanges } from '../../../shared/sync/download';
import { toTablesResponse } from '../../../shared/sync/download-tables';
import { getSyncMetadata } from '../../../shared/sync/metadata';
import {
  downloadRequestSchema,
  downloadResponseSchema,
  downloadTablesResponseSchema,
  NEXT_CHECKPOINT_HEADER,
  metadataQuerySchema,
  syncMetadataResponseSchema,
} from '../../../shared/sync/sync-protocol';
import { defineTenantRoute, orgParamsSchema, type RouteDefinition } from '../route-definition';

/** `GET api/sync/{org}/metadata?app=`: the device's profile entities, versions and sync interval. */
export const syncMetadataRoute = defineTenantRoute({
  name: 'syncMetadata',
  method: 'GET',
  route: 'api/sync/{org}/metadata',
  auth: 'device',
  requireActiveTenant: true,
  params: orgParamsSchema,
  query: metadataQuerySchema,
  summary:
    "The entities, attributes and relationships of the caller's offline profile; versions; sync interval.",
  response: syncMetadataResponseSchema,
  errors: ['NotFound', 'NoProfile', 'PrivilegeDenied', 'ProfileInvalid'],
  handler: async ({ store, principal, services, query }) => ({
    body: await getSyncMetadata(store, principal, services.clock, query.app),
  }),
});

/**
 * What the request read from the store, as the adapters counted it: `rows=…, docs=…, changes=…,
 * keys=…, ru=…` (record rows, documents, change entries, index entries read without their rows,
 * Cosmos request units). For operators and the bench:
 * a download's cost should follow what its user holds and what changed for them (SPEC §12).
 */
export const STORE_READS_HEADER = 'x-store-reads';

export function formatReadMeter(meter: ReadMeter): string {
  return `rows=${meter.rows}, docs=${meter.docs}, changes=${meter.changes}, keys=${meter.keys}, ru=${meter.requestCharge.toFixed(1)}`;
}

/**
 * `POST api/sync/{org}/download`: the next page of upserts and removals for a device, as a list of
 * changes or (`format: "tables"`) by entity and column.
 */
export const syncDownloadRoute = defineTenantRoute({
  name: 'syncDownload',
  method: 'POST',
  route: 'api/sync/{org}/download',
  auth: 'device',
  requireActiveTenant: true,
  params: orgParamsSchema,
  body: downloadRequestSchema,
  summary:
    'Download the rows the device may hold: all of them first, then only changes since the checkpoint.',
  response: z.union([downloadResponseSchema, downloadTablesResponseSchema]),
  errors: ['NotFound', 'NoProfile', 'PrivilegeDenied', 'Conflict', 'ProfileInvalid', 'RowLimitExceeded'],
  handler: async ({ store, principal, services, body }) => {
    const meter = newReadMeter();
    const page = await downloadChanges({ store, principal, clock: services.clock, meter }, body);
    return {
      body: body.format === 'tables' ? toTablesResponse(page) : page,
      headers: {
        [STORE_READS_HEADER]: formatReadMeter(meter),
        ...(page.more ? { [NEXT_CHECKPOINT_HEADER]: page.checkpoint } : {}),
      },
    };
  },
});

/** The download side of device sync, for the route table. */
export const syncDownloadRoutes: RouteDefinition[] = [syncMetadataRoute, syncDownloadRoute];
