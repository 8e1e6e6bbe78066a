import { DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { loadDirectory } from '../../shared/admin/directory-store';
import { ADMIN_ROLE } from '../../shared/auth/principal';
import { updateReplicationStatus } from '../../shared/replication/replication-status';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

describe('GET /api/admin/{org}/replication: replication health', () => {
  let f: HostFixture;
  let admin: string;
  let device: string;

  beforeAll(async () => {
    f = await startHostFixture();
    const directory = await loadDirectory(f.host.runtime.services.store.tenant(DEMO_ORG));
    const alice = directory.users.find((u) => u.userName === 'alice')!;
    const dave = directory.users.find((u) => u.userName === 'dave')!;
    admin = await f.token({ oid: alice.entraObjectId, tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] });
    device = await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
  });
  afterAll(() => f.close());

  it("answers each entity's lag, overdue runs, last error and the tenant's dead-lettered total", async () => {
    const store = f.host.runtime.services.store.tenant(DEMO_ORG);
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    // A chain that died: its run finished 2 h ago, the next was due an hour ago and never started.
    await updateReplicationStatus(store, 'lead', (status) => ({
      ...status,
      lastRunStartedAt: iso(now - 2 * 3_600_000 - 5_000),
      lastRunFinishedAt: iso(now - 2 * 3_600_000),
      nextRunAt: iso(now - 3_600_000),
      deadLettered: 2,
      lastError: {
        at: iso(now - 3_000_000),
        code: 'SourceUnavailable',
        message: 'The source failed.',
        messageId: 'm-1',
        deliveryCount: 10,
        deadLettered: true,
      },
    }));
    // A healthy one: finished a minute ago, next run in ten minutes.
    await updateReplicationStatus(store, 'contact', (status) => ({
      ...status,
      lastRunStartedAt: iso(now - 65_000),
      lastRunFinishedAt: iso(now - 60_000),
      nextRunAt: iso(now + 600_000),
    }));

    const res = await f.request('GET', `/api/admin/${DEMO_ORG}/replication`, { token: admin });
    expect(res.status).toBe(200);
    const byEntity = new Map(
      (res.body.entities as { entity: string; lagSeconds: number | null; overdue: boolean }[]).map((e) => [
        e.entity,
        e,
      ]),
    );
    expect(byEntity.get('lead')).toMatchObject({ overdue: true, deadLettered: 2 });
    expect(byEntity.get('lead')!.lagSeconds).toBeGreaterThanOrEqual(7200);
    expect(byEntity.get('contact')).toMatchObject({ overdue: false });
    expect(byEntity.get('contact')!.lagSeconds).toBeGreaterThanOrEqual(60);
    expect(byEntity.get('contact')!.lagSeconds).toBeLessThan(600);
    expect(res.body.deadLettered).toBeGreaterThanOrEqual(2);
    expect(res.body.lastError).toMatchObject({ entity: 'lead', code: 'SourceUnavailable' });
  });

  it('is for admins: a device user gets 403, no token 401', async () => {
    expect((await f.request('GET', `/api/admin/${DEMO_ORG}/replication`, { token: device })).status).toBe(
      403,
    );
    expect((await f.request('GET', `/api/admin/${DEMO_ORG}/replication`)).status).toBe(401);
  });
});
