import type { HostFixture } from '../support/local-host-fixture';

/**
 * The local host on SQLite and the embedded queue, without an OTLP endpoint, loads none of the Azure
 * SDKs, Durable Functions or the OTLP/trace SDK: they are loaded by the adapters that use them. Each
 * is replaced by a factory that records it was loaded; the host starts, provisions the demo tenant,
 * answers a device's sync and an admin's provisioning status, and closes.
 */

const NOT_LOADED = [
  '@azure/cosmos',
  '@azure/arm-cosmosdb',
  '@azure/identity',
  '@azure/service-bus',
  '@azure/keyvault-secrets',
  'durable-functions',
  '@opentelemetry/exporter-metrics-otlp-http',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/sdk-trace-node',
] as const;

const loaded: string[] = [];
for (const name of NOT_LOADED) {
  jest.doMock(name, () => {
    loaded.push(name);
    return {};
  });
}

describe('the local host loads only what it uses', () => {
  let f: HostFixture;

  afterAll(() => f?.close());

  it('serves a sync and the admin routes without loading an Azure SDK, Durable or OTLP', async () => {
    const { startHostFixture } = await import('../support/local-host-fixture');
    const { DEMO_ENTRA_TENANT_ID, DEMO_ORG } = await import('../../local/demo/demo-directory');
    const { loadDirectory } = await import('../../shared/admin/directory-store');
    const { ADMIN_ROLE } = await import('../../shared/auth/principal');
    f = await startHostFixture();
    const directory = await loadDirectory(f.host.runtime.services.store.tenant(DEMO_ORG));
    const dave = directory.users.find((u) => u.userName === 'dave')!;
    const alice = directory.users.find((u) => u.userName === 'alice')!;
    const token = await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
    const admin = await f.token({ oid: alice.entraObjectId, tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] });

    const page = await f.request('POST', `/api/sync/${DEMO_ORG}/download`, {
      token,
      body: { app: 'field-sales', deviceId: 'modules-1', pageSize: 50 },
    });
    expect(page.status).toBe(200);
    expect(page.body.changes.length).toBeGreaterThan(0);
    const status = await f.request('GET', `/api/admin/${DEMO_ORG}/provisioning`, { token: admin });
    expect(status.status).toBe(200);
    await f.close();
    expect(loaded).toEqual([]);
  });

  it('is a test that can fail: loading one of them is seen', async () => {
    await import('@azure/service-bus');
    expect(loaded).toEqual(['@azure/service-bus']);
  });
});
