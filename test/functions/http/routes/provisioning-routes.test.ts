import type { RouteDefinition } from '../../../../functions/http/route-definition';
import {
  provisioningActionRoute,
  provisioningRoutes,
  provisioningStatusRoute,
} from '../../../../functions/http/routes/provisioning-routes';
import {
  createLocalProvisioningDriver,
  type LocalProvisioningDriver,
} from '../../../../local/provisioning-driver';
import type { AppServices } from '../../../../shared/app-services';
import { ADMIN_ROLE, type Principal } from '../../../../shared/auth/principal';
import type { TokenVerifier } from '../../../../shared/auth/token-verifier';
import type { ProvisioningStatus } from '../../../../shared/provisioning/provisioning-status';
import { setTenantState } from '../../../../shared/tenants/tenant-registry';
import { callRoute } from '../../../support/call-route';
import {
  createProvisioningFixture,
  FakeSource,
  ORG,
  rowsOf,
  type ProvisioningFixture,
} from '../../../shared/provisioning/support/provisioning-fixture';

/** What these tests read of a response body: a status document or an error. */
type ResponseBody = Partial<ProvisioningStatus> & { error?: { code: string; message: string } };

const TID = '22222222-2222-4222-8222-222222222222';
const admin: Principal = { objectId: 'a', tenantId: TID, roles: [ADMIN_ROLE], issuer: 'local' };
/** Accepts the token `admin` only: the routes' own logic is under test here, not token checks. */
const verifier: TokenVerifier = {
  verify: (token) => (token === 'admin' ? Promise.resolve(admin) : Promise.reject(new Error('bad token'))),
};

describe('provisioning routes', () => {
  let fixture: ProvisioningFixture;
  let services: AppServices;
  let driver: LocalProvisioningDriver;

  beforeEach(async () => {
    fixture = await createProvisioningFixture();
    const opened = fixture.services(
      new FakeSource(
        new Map([
          ['systemuser', rowsOf('systemuser', 1)],
          ['account', rowsOf('account', 3)],
        ]),
      ),
    );
    driver = createLocalProvisioningDriver(opened.services, {
      sleep: () => Promise.resolve(),
      log: () => undefined,
    });
    services = { ...opened.services, provisioning: driver };
  });
  afterEach(async () => {
    await driver.whenIdle();
    await fixture.close();
  });

  async function call(
    route: RouteDefinition,
    body?: unknown,
    withServices = services,
  ): Promise<{ status: number; body: ResponseBody }> {
    const answer = await callRoute<ResponseBody>(route, { services: withServices, verifier }, 'admin', {
      params: { org: ORG },
      ...(body === undefined ? {} : { body }),
    });
    return { status: answer.status, body: answer.body };
  }

  it('answers the status of a tenant never provisioned, stamped with when it was checked', async () => {
    const res = await call(provisioningStatusRoute);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      org: ORG,
      state: 'idle',
      steps: [],
      lastCheckedAt: '2026-01-15T12:00:00.000Z',
    });
  });

  it('answers 202 with the status for an accepted action and 409 with the reason otherwise', async () => {
    const accepted = await call(provisioningActionRoute, { action: 'provision' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ state: 'provisioning', action: 'provision' });
    const again = await call(provisioningActionRoute, { action: 'provision' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'Conflict', message: 'Provisioning is already running.' });
    await driver.whenIdle();
    const status = await call(provisioningStatusRoute);
    expect(status.body.state).toBe('provisioned');
    expect(status.body.steps).toHaveLength(7);
    const retry = await call(provisioningActionRoute, { action: 'retry' });
    expect(retry.status).toBe(409);
  });

  it('treats a tenant activated without a run (the demo seed) as provisioned, so it can be deprovisioned', async () => {
    await setTenantState(services.store, fixture.clock, ORG, 'active');
    const status = await call(provisioningStatusRoute);
    expect(status.body.state).toBe('provisioned');
    const res = await call(provisioningActionRoute, { action: 'deprovision' });
    expect(res.status).toBe(202);
    await driver.whenIdle();
    expect((await call(provisioningStatusRoute)).body.state).toBe('deprovisioned');
    expect(await services.store.tenantDatabaseExists(ORG)).toBe(false);
  });

  it('validates the action and answers 503 on a host without a runner', async () => {
    expect((await call(provisioningActionRoute, { action: 'pause' })).status).toBe(400);
    const { provisioning: _omitted, ...withoutRunner } = services;
    const res = await call(provisioningActionRoute, { action: 'provision' }, withoutRunner);
    expect(res.status).toBe(503);
  });

  it('are admin routes whose function names do not start with "admin"; both ask for the durable client', () => {
    expect(provisioningRoutes.map((r) => [r.method, r.route, r.auth])).toEqual([
      ['GET', 'api/admin/{org}/provisioning', 'admin'],
      ['POST', 'api/admin/{org}/provisioning', 'admin'],
    ]);
    expect(provisioningRoutes.every((r) => !/^admin/i.test(r.name))).toBe(true);
    expect(provisioningActionRoute.durableClient).toBe(true);
    // The status route reconciles the status with the orchestration it names.
    expect(provisioningStatusRoute.durableClient).toBe(true);
  });
});
