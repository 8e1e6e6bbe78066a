import { DEMO_ORG } from '../../local/demo/demo-directory';
import { newReadMeter } from '../../shared/store/port';
import { previewProfileDraft } from '../../shared/sync/publish-preview';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';
import { deviceFactory, snapshot } from './device-fixture';

/**
 * The publish preview (`POST admin/{org}/profiles/{id}/preview`) answers, per user of a draft, what a
 * first download of that draft would send: judged against real downloads of the same profile.
 */
describe('publish preview of a profile draft', () => {
  let f: HostFixture;
  let devices: ReturnType<typeof deviceFactory>;
  let admin: string;
  const base = `/api/admin/${DEMO_ORG}`;

  beforeAll(async () => {
    f = await startHostFixture({ DEMO_ROWS: '400' });
    devices = deviceFactory(f);
    admin = await devices.adminToken();
  });
  afterAll(async () => {
    await devices.close();
    await f.close();
  });

  /** Rows per entity a device of the user holds after a first sync. */
  async function downloaded(userName: string): Promise<Record<string, number>> {
    const device = await devices.open(userName);
    await device.client.sync();
    const counts: Record<string, number> = {};
    for (const key of (await snapshot(device)).keys()) {
      const entity = key.split('/')[0]!;
      counts[entity] = (counts[entity] ?? 0) + 1;
    }
    return counts;
  }

  const rowsOf = (user: { entities: { entity: string; rows: number }[] }) =>
    Object.fromEntries(user.entities.filter((e) => e.rows > 0).map((e) => [e.entity, e.rows]));

  it('answers only the users asked for', async () => {
    const res = await f.request('POST', `${base}/profiles/field-sellers/preview`, {
      token: admin,
      body: { users: ['user-004', 'user-016'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.users.map((u: { userName: string }) => u.userName)).toEqual(['dave', 'sybil']);
  });

  it("answers, for the published draft, exactly the rows each user's first download holds", async () => {
    const all = await f.request('POST', `${base}/profiles/field-sellers/preview`, { token: admin, body: {} });
    expect(all.status).toBe(200);
    expect(all.body.users.length).toBe(17);
    // Every salesperson, each against a device of their own.
    for (const user of all.body.users) {
      expect(user).toMatchObject({ limit: 'within', problem: null });
      expect(user.rows).toBeGreaterThan(0);
      expect(user.bytes).toBeGreaterThan(user.rows * 50);
      expect({ user: user.userName, rows: rowsOf(user) }).toEqual({
        user: user.userName,
        rows: await downloaded(user.userName),
      });
    }
  });

  it('previews the draft, not the published version, and marks users past the row limits', async () => {
    const draft = await f.request('GET', `${base}/profiles/field-sellers`, { token: admin });
    const without = draft.body.items.filter((i: { entity: string }) => i.entity !== 'task');
    expect(without.length).toBeLessThan(draft.body.items.length);
    const put = await f.request('PUT', `${base}/profiles/field-sellers`, {
      token: admin,
      body: {
        name: draft.body.name,
        description: draft.body.description,
        items: without,
        users: draft.body.users,
      },
    });
    expect(put.status).toBe(200);
    const before = (
      await f.request('POST', `${base}/profiles/field-sellers/preview`, { token: admin, body: {} })
    ).body.users.find((u: { userName: string }) => u.userName === 'dave');
    expect(before.entities.map((e: { entity: string }) => e.entity)).not.toContain('task');

    // Limits just under dave's count: past the hard limit; a soft limit under it and the hard over it: soft.
    const settings = async (softRowLimit: number, hardRowLimit: number) =>
      expect(
        (await f.request('PUT', `${base}/settings`, { token: admin, body: { softRowLimit, hardRowLimit } }))
          .status,
      ).toBe(200);
    const standing = async (): Promise<string> => {
      const res = await f.request('POST', `${base}/profiles/field-sellers/preview`, {
        token: admin,
        body: {},
      });
      return String(res.body.users.find((u: { userName: string }) => u.userName === 'dave').limit);
    };
    await settings(before.rows - 1, before.rows - 1);
    expect(await standing()).toBe('hard');
    await settings(before.rows - 1, before.rows);
    expect(await standing()).toBe('soft');
    await settings(before.rows, before.rows);
    expect(await standing()).toBe('within');

    // The published version is untouched: a device still downloads tasks.
    await settings(10_000, 50_000);
    expect((await downloaded('dave')).task).toBeGreaterThan(0);
  });

  it('computes at its source without writing: the same answer through the core function', async () => {
    const store = f.host.runtime.services.store.tenant(DEMO_ORG);
    const direct = await previewProfileDraft(store, f.host.runtime.services.clock, 'field-sellers');
    const viaRoute = await f.request('POST', `${base}/profiles/field-sellers/preview`, {
      token: admin,
      body: {},
    });
    expect(direct.users.map((u) => [u.userId, u.rows, u.bytes])).toEqual(
      viaRoute.body.users.map((u: { userId: string; rows: number; bytes: number }) => [
        u.userId,
        u.rows,
        u.bytes,
      ]),
    );
  });

  it("reads about the user's rows, never the tenant's", async () => {
    const tenant = f.host.runtime.services.store.tenant(DEMO_ORG);
    const meter = newReadMeter();
    const [dave] = (
      await previewProfileDraft(tenant.metered(meter), f.host.runtime.services.clock, 'field-sellers', [
        'user-004',
      ])
    ).users;
    const everyRow = (await Promise.all(dave!.entities.map((e) => tenant.countRecords(e.entity)))).reduce(
      (a, b) => a + b,
      0,
    );
    expect(dave!.rows).toBeGreaterThan(0);
    expect(meter.rows).toBeLessThanOrEqual(3 * dave!.rows);
    expect(meter.rows).toBeLessThan(everyRow / 3);
  });

  it('marks a user who is not in the directory, and refuses a non-admin and an unknown profile', async () => {
    const draft = await f.request('GET', `${base}/profiles/sales-managers`, { token: admin });
    await f.request('PUT', `${base}/profiles/sales-managers`, {
      token: admin,
      body: { name: draft.body.name, items: draft.body.items, users: [...draft.body.users, 'nobody-here'] },
    });
    const res = await f.request('POST', `${base}/profiles/sales-managers/preview`, {
      token: admin,
      body: {},
    });
    expect(res.status).toBe(200);
    expect(res.body.users.find((u: { userId: string }) => u.userId === 'nobody-here')).toMatchObject({
      rows: 0,
      problem: 'Not in the tenant directory.',
    });
    expect(res.body.violations.map((v: { path: string }) => v.path)).toContain(
      `users[${draft.body.users.length}]`,
    );
    const dave = await devices.user('dave');
    const device = await f.token({
      oid: dave.entraObjectId,
      tid: (
        await f.request('GET', '/api/admin/tenants', { token: await f.operatorToken() })
      ).body.tenants.find((t: { org: string }) => t.org === DEMO_ORG).entraTenantId,
    });
    expect(
      (await f.request('POST', `${base}/profiles/sales-managers/preview`, { token: device, body: {} }))
        .status,
    ).toBe(403);
    expect(
      (await f.request('POST', `${base}/profiles/nothing/preview`, { token: admin, body: {} })).status,
    ).toBe(404);
  });
});
