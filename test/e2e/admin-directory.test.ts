import { buildDemoDirectory, DEMO_ORG } from '../../local/demo/demo-directory';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

/**
 * `GET admin/{org}/directory` (the admin page's pickers) and `GET admin/{org}/apps` over the local
 * host's HTTP server, on the demo tenant (20 users, 2 teams, 3 business units; app `field-sales`).
 * Every answer is checked against the OpenAPI document by the fixture.
 */
describe('the directory and app listings over the local host', () => {
  let f: HostFixture;
  let admin: string;

  const devToken = async (body: Record<string, unknown>): Promise<string> => {
    const res = await f.request('POST', '/api/console/development-token', { body });
    expect(res.status).toBe(200);
    return String(res.body.token);
  };
  const list = (query: string, token = admin) =>
    f.request('GET', `/api/admin/${DEMO_ORG}/directory${query}`, { token });

  beforeAll(async () => {
    f = await startHostFixture({ DEMO_ROWS: '50' });
    admin = await devToken({ org: DEMO_ORG, user: 'alice' });
  });
  afterAll(() => f.close());

  it('lists users, teams and business units by id and name, ordered by name, with the cap applied', async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    expect(res.body.limit).toBe(50);
    expect(res.body.businessUnits).toEqual({
      items: [
        { id: 'bu-root', name: 'Contoso' },
        { id: 'bu-east', name: 'Contoso East' },
        { id: 'bu-west', name: 'Contoso West' },
      ],
      more: false,
    });
    expect(res.body.teams.items.map((t: { name: string }) => t.name)).toEqual([
      'East Sales Team',
      'West Sales Team',
    ]);
    expect(res.body.users.items).toHaveLength(20);
    expect(res.body.users.more).toBe(false);
    expect(res.body.users.items[0]).toEqual({ id: 'user-001', name: 'Alice Chief', userName: 'alice' });
    const names: string[] = res.body.users.items.map((u: { name: string }) => u.name);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
  });

  it('searches names and ids case-insensitively, only the kinds asked for, at most `limit` of each', async () => {
    const sellers = await list('?q=SELLER&kind=users&limit=5');
    expect(sellers.status).toBe(200);
    expect(Object.keys(sellers.body).sort()).toEqual(['limit', 'users']);
    expect(sellers.body.users.items).toHaveLength(5);
    expect(sellers.body.users.more).toBe(true);
    for (const u of sellers.body.users.items) expect(u.name).toMatch(/Seller$/);

    // An exact id comes first, before the names that merely contain it.
    const byId = await list('?q=user-004&kind=users');
    expect(byId.body.users.items[0]).toEqual({ id: 'user-004', name: 'Dave Seller', userName: 'dave' });

    const east = await list('?q=east&kind=users,teams');
    expect(east.body.teams).toEqual({ items: [{ id: 'team-east', name: 'East Sales Team' }], more: false });
    expect(east.body.users).toEqual({ items: [], more: false });
    expect(east.body).not.toHaveProperty('businessUnits');

    const nothing = await list('?q=nobody-by-that-name');
    expect(nothing.body.users.items).toEqual([]);
    expect(nothing.body.businessUnits.items).toEqual([]);
  });

  it('answers a directory replaced since, not the one it read before', async () => {
    expect((await list('?q=dave&kind=users')).body.users.items[0].name).toBe('Dave Seller');
    const directory = buildDemoDirectory(f.host.settings.DEMO_SEED);
    const renamed = {
      ...directory,
      users: directory.users.map((u) =>
        u.id === 'user-004'
          ? { ...u, fullName: 'Dave Renamed' }
          : u.id === 'user-005'
            ? { ...u, fullName: 'Aaron (stands in for user-004)' }
            : u,
      ),
    };
    const put = await f.request('PUT', `/api/admin/${DEMO_ORG}/directory`, { token: admin, body: renamed });
    expect(put.status).toBe(200);
    expect((await list('?q=dave&kind=users')).body.users.items).toEqual([
      { id: 'user-004', name: 'Dave Renamed', userName: 'dave' },
    ]);
    // The exact id first, though another name containing it sorts before it.
    expect((await list('?q=USER-004&kind=users')).body.users.items.map((u: { id: string }) => u.id)).toEqual([
      'user-004',
      'user-005',
    ]);
  });

  it.each([
    ['limit=0', '?limit=0'],
    ['limit above 200', '?limit=201'],
    ['limit not a number', '?limit=ten'],
    ['an unknown kind', '?kind=roles'],
    ['an empty kind in a list', '?kind=users,,teams'],
    ['an unknown parameter', '?name=alice'],
    ['a control character in q', `?q=${encodeURIComponent('ali\u0007ce')}`],
    ['q over 100 characters', `?q=${'a'.repeat(101)}`],
  ])('refuses %s with 400, never 500', async (_what, query) => {
    const res = await list(query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('ValidationFailed');
  });

  it('is for admins of the tenant only', async () => {
    expect((await f.request('GET', `/api/admin/${DEMO_ORG}/directory`)).status).toBe(401);
    const user = await devToken({ org: DEMO_ORG, user: 'dave', admin: false });
    expect((await list('', user)).status).toBe(403);
    expect((await list('', await f.operatorToken())).status).toBe(403);
    expect((await f.request('GET', '/api/admin/nowhere/directory', { token: admin })).status).toBe(404);
  });

  it('lists the configured apps, ordered by id', async () => {
    const before = await f.request('GET', `/api/admin/${DEMO_ORG}/apps`, { token: admin });
    expect(before.status).toBe(200);
    expect(before.body.apps.map((a: { id: string }) => a.id)).toEqual(['field-sales']);
    expect(before.body.apps[0]).toMatchObject({ name: expect.any(String), offlineEnabled: true });
    const put = await f.request('PUT', `/api/admin/${DEMO_ORG}/apps/a-inspections`, {
      token: admin,
      body: { name: 'Inspections', offlineEnabled: false, profiles: [] },
    });
    expect(put.status).toBe(201);
    const after = await f.request('GET', `/api/admin/${DEMO_ORG}/apps`, { token: admin });
    expect(after.body.apps.map((a: { id: string; name: string }) => [a.id, a.name])).toEqual([
      ['a-inspections', 'Inspections'],
      ['field-sales', before.body.apps[0].name],
    ]);
    const user = await devToken({ org: DEMO_ORG, user: 'dave', admin: false });
    expect((await f.request('GET', `/api/admin/${DEMO_ORG}/apps`, { token: user })).status).toBe(403);
  });
});
