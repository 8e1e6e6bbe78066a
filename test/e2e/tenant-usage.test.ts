import { DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { loadDirectory } from '../../shared/admin/directory-store';
import { ADMIN_ROLE } from '../../shared/auth/principal';
import { utcDay } from '../../shared/sync/sync-usage';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

/**
 * GET /api/admin/tenants/{org}/usage over the local host: after devices sync, its counts are what
 * happened — devices that completed a sync, the rows each holds by what its pages sent, syncs today.
 * (Its answers are checked against the OpenAPI document by the fixture.)
 */

interface Change {
  entity: string;
  id: string;
  op: 'upsert' | 'remove';
}

describe('GET /api/admin/tenants/{org}/usage', () => {
  let f: HostFixture;
  let operator: string;
  let admin: string;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    f = await startHostFixture();
    const directory = await loadDirectory(f.host.runtime.services.store.tenant(DEMO_ORG));
    for (const name of ['dave', 'erin']) {
      const user = directory.users.find((u) => u.userName === name)!;
      tokens.set(name, await f.token({ oid: user.entraObjectId, tid: DEMO_ENTRA_TENANT_ID }));
    }
    const alice = directory.users.find((u) => u.userName === 'alice')!;
    admin = await f.token({ oid: alice.entraObjectId, tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] });
    operator = await f.operatorToken();
  });
  afterAll(() => f.close());

  /** One sync of a device to its end (pages until `more: false`), from its checkpoint; its rows kept. */
  async function syncToEnd(
    user: string,
    device: { id: string; checkpoint?: string; rows: Set<string> },
  ): Promise<void> {
    for (let page = 0; page < 100; page++) {
      const res = await f.request('POST', `/api/sync/${DEMO_ORG}/download`, {
        token: tokens.get(user)!,
        body: { app: 'field-sales', deviceId: device.id, pageSize: 10, checkpoint: device.checkpoint },
      });
      expect(res.status).toBe(200);
      for (const change of res.body.changes as Change[]) {
        const key = `${change.entity}/${change.id}`;
        if (change.op === 'upsert') device.rows.add(key);
        else device.rows.delete(key);
      }
      device.checkpoint = res.body.checkpoint as string;
      if (res.body.more === false) return;
    }
    throw new Error('the sync never ended');
  }

  const usage = async (query = '') =>
    f.request('GET', `/api/admin/tenants/${DEMO_ORG}/usage${query}`, { token: operator });

  it('is empty before any device synced', async () => {
    const res = await usage('?days=3');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      org: DEMO_ORG,
      activeDevices: { lastDay: 0, last30Days: 0, last90Days: 0 },
      rowsHeld: { total: 0, maxPerDevice: 0 },
    });
    expect(res.body.syncsPerDay).toHaveLength(3);
    expect(res.body.syncsPerDay.every((d: { syncs: number }) => d.syncs === 0)).toBe(true);
  });

  it('counts the devices that synced, the rows they hold and the syncs they completed today', async () => {
    const phone = { id: 'usage-phone', rows: new Set<string>() };
    const tablet = { id: 'usage-tablet', rows: new Set<string>() };
    const erins = { id: 'usage-erin', rows: new Set<string>() };
    await syncToEnd('dave', phone); // a first download of several pages: one sync
    await syncToEnd('dave', phone); // an incremental one (acknowledges the last page): a second
    await syncToEnd('dave', tablet);
    await syncToEnd('erin', erins);
    expect(phone.rows.size).toBeGreaterThan(10); // it took more than one page
    // A download that does not end its sync is not a completed sync.
    const partial = await f.request('POST', `/api/sync/${DEMO_ORG}/download`, {
      token: tokens.get('erin')!,
      body: { app: 'field-sales', deviceId: 'usage-erin-2', pageSize: 10 },
    });
    expect(partial.body.more).toBe(true);

    const res = await usage();
    expect(res.status).toBe(200);
    const held = [phone.rows.size, tablet.rows.size, erins.rows.size];
    expect(res.body).toMatchObject({
      org: DEMO_ORG,
      activeDevices: { lastDay: 3, last30Days: 3, last90Days: 3 },
      rowsHeld: { total: held[0]! + held[1]! + held[2]!, maxPerDevice: Math.max(...held) },
    });
    expect(res.body.syncsPerDay).toHaveLength(30);
    expect(res.body.syncsPerDay.at(-1)).toEqual({ day: utcDay(Date.now()), syncs: 4 });
    expect(res.body.syncsPerDay.slice(0, -1).every((d: { syncs: number }) => d.syncs === 0)).toBe(true);
  });

  it('is for operators: a tenant admin gets 403, no token 401; an unknown tenant 404; bad days 400', async () => {
    const path = `/api/admin/tenants/${DEMO_ORG}/usage`;
    expect((await f.request('GET', path, { token: admin })).status).toBe(403);
    expect((await f.request('GET', path)).status).toBe(401);
    const unknown = await f.request('GET', '/api/admin/tenants/nosuchorg/usage', { token: operator });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('TenantNotFound');
    expect((await usage('?days=0')).status).toBe(400);
    expect((await usage('?days=91')).status).toBe(400);
  });
});
