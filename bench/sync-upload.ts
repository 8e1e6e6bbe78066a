import { DEMO_APP_ID } from '../local/demo/seed-demo-tenant';
import type { UploadOperation, UploadResponse } from '../shared/sync/upload/upload-protocol';
import { expectStatus, type BenchHttpClient, type BenchResponse } from './http-client';

/** Sends one upload batch for a device and checks the HTTP status (not the per-operation results). */
export async function uploadBatch(
  client: BenchHttpClient,
  options: { token: string; org: string; deviceId: string; operations: UploadOperation[] },
): Promise<BenchResponse<UploadResponse>> {
  return expectStatus(
    await client.send<UploadResponse>('POST', `/api/sync/${options.org}/upload`, {
      token: options.token,
      body: { app: DEMO_APP_ID, deviceId: options.deviceId, operations: options.operations },
    }),
    200,
    `upload for ${options.deviceId}`,
  );
}

/** Counts the results of an upload by status. */
export function countResults(response: UploadResponse): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of response.results) counts[result.status] = (counts[result.status] ?? 0) + 1;
  return counts;
}

/** Changes the settings of a tenant as its admin. */
export async function putTenantSettings(
  client: BenchHttpClient,
  options: { adminToken: string; org: string; settings: Record<string, unknown> },
): Promise<void> {
  expectStatus(
    await client.send('PUT', `/api/admin/${options.org}/settings`, {
      token: options.adminToken,
      body: options.settings,
    }),
    200,
    'PUT settings',
  );
}
