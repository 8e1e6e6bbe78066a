import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RouteDefinition, TenantRouteContext } from '../../functions/http/route-definition';
import type { AppServices } from '../../shared/app-services';
import { ManualClock } from '../../shared/clock';
import { toErrorResponse } from '../../shared/errors';
import type { Tenant, TenantSource } from '../../shared/model/tenant';
import type { Store } from '../../shared/store/port';
import { createSqliteStore } from '../../shared/store/sqlite';

/** What a route answered: its status and body, errors mapped as the HTTP adapter maps them. */
export interface RouteAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON answers
  body: any;
  headers: Record<string, string>;
}

/** Calls tenant routes' handlers directly over a real SQLite store, validating inputs as the adapter does. */
export interface AdminRouteHarness {
  store: Store;
  clock: ManualClock;
  call(
    routes: readonly RouteDefinition[],
    name: string,
    input: { org: string; params?: Record<string, string>; body?: unknown; headers?: Record<string, string> },
  ): Promise<RouteAnswer>;
  addTenant(org: string, source?: TenantSource): Promise<Tenant>;
  close(): Promise<void>;
}

export async function createAdminRouteHarness(): Promise<AdminRouteHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'offline-sync-admin-'));
  const clock = new ManualClock();
  const store = createSqliteStore({ dataDir, clock });
  // Only the store and the clock are used by admin configuration routes.
  const services = { store, clock } as unknown as AppServices;
  const tenants = new Map<string, Tenant>();

  return {
    store,
    clock,
    async addTenant(org, source = { kind: 'local' }) {
      await store.createTenantDatabase(org);
      const now = clock.now().toISOString();
      const tenant: Tenant = {
        org,
        displayName: org,
        entraTenantId: '11111111-1111-4111-8111-111111111111',
        source,
        state: 'registered',
        createdAt: now,
        updatedAt: now,
      };
      tenants.set(org, tenant);
      return tenant;
    },
    async call(routes, name, input) {
      const route = routes.find((r) => r.name === name);
      if (route === undefined) throw new Error(`no route ${name}`);
      const tenant = tenants.get(input.org);
      if (tenant === undefined) throw new Error(`no tenant ${input.org}`);
      const params = { org: input.org, ...input.params };
      const parsedParams = route.params ? route.params.safeParse(params) : { success: true, data: params };
      const parsedBody = route.body
        ? route.body.safeParse(input.body ?? {})
        : { success: true, data: undefined };
      if (!parsedParams.success || !parsedBody.success) {
        return { status: 400, body: { error: { code: 'ValidationFailed' } }, headers: {} };
      }
      const ctx: TenantRouteContext<unknown, unknown, unknown> = {
        params: parsedParams.data,
        query: {},
        body: parsedBody.data,
        principal: {
          objectId: 'admin',
          tenantId: tenant.entraTenantId,
          roles: ['OfflineSync.Admin'],
          issuer: 'local',
        },
        services,
        headers: new Headers(input.headers ?? {}),
        traceId: 'test',
        log: () => undefined,
        tenant,
        store: store.tenant(input.org),
      };
      try {
        const response = await route.handler(ctx);
        return {
          status: response.status ?? (response.body === undefined ? 204 : 200),
          body: response.body,
          headers: response.headers ?? {},
        };
      } catch (error) {
        const { status, body } = toErrorResponse(error);
        if (status === 500) throw error;
        return { status, body, headers: {} };
      }
    },
    async close() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
