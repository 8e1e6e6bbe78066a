import { ADMIN_ROLE } from '../../shared/auth/principal';
import { buildDemoDirectory } from '../../local/demo/demo-directory';
import { buildDemoEntities } from '../../local/demo/demo-entities';
import { profileContent } from '../../local/demo/seed-demo-tenant';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

const ACME_TID = '5c1d2e3f-4a5b-4c6d-8e7f-8a9b0c1d2e3f';
const GLOBEX_TID = '6d2e3f4a-5b6c-4d7e-9f8a-9b0c1d2e3f4a';

/**
 * An admin configures a new tenant from nothing through the HTTP API, as the README's worked
 * example does: metadata, offline settings, publish, directory, the demo's profile, an app, settings,
 * then export and import into another tenant.
 */
describe('admin configuration over the local host', () => {
  let f: HostFixture;
  let acme: string;
  let globex: string;

  beforeAll(async () => {
    f = await startHostFixture({ DEMO_TENANT: 'false' });
    const operator = await f.operatorToken();
    for (const [org, tid] of [
      ['acme', ACME_TID],
      ['globex', GLOBEX_TID],
    ] as const) {
      const res = await f.request('PUT', `/api/admin/tenants/${org}`, {
        token: operator,
        body: { displayName: org, entraTenantId: tid, source: { kind: 'local' } },
      });
      expect(res.status).toBe(201);
    }
    acme = await f.token({ oid: '33333333-3333-4333-8333-333333333333', tid: ACME_TID, roles: [ADMIN_ROLE] });
    globex = await f.token({
      oid: '44444444-4444-4444-8444-444444444444',
      tid: GLOBEX_TID,
      roles: [ADMIN_ROLE],
    });
  });
  afterAll(() => f.close());

  it('builds the demo profile through the routes and publishes it cleanly', async () => {
    for (const entity of buildDemoEntities()) {
      const declared = await f.request('PUT', `/api/admin/acme/entities/${entity.logicalName}`, {
        token: acme,
        body: entity,
      });
      expect(declared.status).toBe(200);
      const offline = await f.request('PUT', `/api/admin/acme/entities/${entity.logicalName}/offline`, {
        token: acme,
        body: { enabled: true, orgFilter: [] },
      });
      expect(offline.status).toBe(200);
    }
    const published = await f.request('POST', '/api/admin/acme/customizations/publish', { token: acme });
    expect(published.status).toBe(200);
    expect(published.body.version).toBe(1);

    const directory = buildDemoDirectory(7);
    expect(
      (await f.request('PUT', '/api/admin/acme/directory', { token: acme, body: directory })).status,
    ).toBe(200);

    const created = await f.request('POST', '/api/admin/acme/profiles', {
      token: acme,
      body: { id: 'sellers', name: 'Field Sellers', description: 'own rows' },
    });
    expect(created.status).toBe(201);
    const sellers = directory.users
      .filter((u) => u.managerId !== null && u.managerId !== 'user-001')
      .map((u) => u.id);
    const put = await f.request('PUT', '/api/admin/acme/profiles/sellers', {
      token: acme,
      body: profileContent('Field Sellers', 'own rows', 'seller', sellers),
    });
    expect(put.status).toBe(200);
    const publish = await f.request('POST', '/api/admin/acme/profiles/sellers/publish', { token: acme });
    expect(publish.status).toBe(200);
    expect(publish.body.version).toBe(1);

    const app = await f.request('PUT', '/api/admin/acme/apps/field-sales', {
      token: acme,
      body: { name: 'Field Sales', offlineEnabled: true, profiles: ['sellers'] },
    });
    expect([200, 201]).toContain(app.status);
    const settings = await f.request('PUT', '/api/admin/acme/settings', {
      token: acme,
      body: { conflictDetection: true, softRowLimit: 5000, hardRowLimit: 20000 },
    });
    expect(settings.status).toBe(200);
    expect((await f.request('GET', '/api/admin/acme/settings', { token: acme })).body).toMatchObject({
      conflictDetection: true,
      softRowLimit: 5000,
    });
  });

  it('answers 422 with every violation of a bad profile, and publishes nothing', async () => {
    await f.request('POST', '/api/admin/acme/profiles', {
      token: acme,
      body: { id: 'broken', name: 'Broken' },
    });
    const body = {
      name: 'Broken',
      items: [
        // `all` combined with another filter; an association to an entity without an item; a self-reference.
        {
          entity: 'account',
          rule: 'all',
          mine: true,
          associations: [{ relationship: 'contact_customer_accounts' }],
        },
        { entity: 'systemuser', rule: 'other', associations: [{ relationship: 'user_parent_user' }] },
      ],
      users: ['user-099'],
    };
    expect((await f.request('PUT', '/api/admin/acme/profiles/broken', { token: acme, body })).status).toBe(
      200,
    );
    const res = await f.request('POST', '/api/admin/acme/profiles/broken/publish', { token: acme });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('ProfileInvalid');
    const paths: string[] = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths.length).toBeGreaterThanOrEqual(4);
    expect(paths.some((p) => p.startsWith('items[0]'))).toBe(true);
    expect(paths.some((p) => p.startsWith('items[1]'))).toBe(true);
    expect(paths.some((p) => p.startsWith('users'))).toBe(true);
    const profile = await f.request('GET', '/api/admin/acme/profiles/broken', { token: acme });
    expect(profile.body.profile?.publishedVersion ?? profile.body.publishedVersion).toBe(0);
  });

  it('refuses a user who is already in another profile, naming it (409)', async () => {
    await f.request('POST', '/api/admin/acme/profiles', {
      token: acme,
      body: { id: 'other', name: 'Other' },
    });
    const res = await f.request('POST', '/api/admin/acme/profiles/other/users', {
      token: acme,
      body: { add: ['user-004'], remove: [] },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('UserInAnotherProfile');
    expect(res.body.error.message).toContain('Field Sellers');
  });

  it('exports and imports into another tenant unpublished; a second import changes nothing', async () => {
    // Import validates every profile of the document, so the drafts left broken above go first.
    for (const id of ['broken', 'other']) {
      expect(
        (await f.request('DELETE', `/api/admin/acme/profiles/${id}`, { token: acme })).status,
      ).toBeLessThan(300);
    }
    const exported = await f.request('GET', '/api/admin/acme/export', { token: acme });
    expect(exported.status).toBe(200);
    // globex needs the same entities declared (the export carries their offline settings).
    for (const entity of buildDemoEntities()) {
      await f.request('PUT', `/api/admin/globex/entities/${entity.logicalName}`, {
        token: globex,
        body: entity,
      });
    }
    await f.request('POST', '/api/admin/globex/customizations/publish', { token: globex });
    const first = await f.request('POST', '/api/admin/globex/import', { token: globex, body: exported.body });
    expect(first.status).toBe(200);
    expect(first.body.profiles.find((p: { id: string }) => p.id === 'sellers').outcome).toBe('created');
    const second = await f.request('POST', '/api/admin/globex/import', {
      token: globex,
      body: exported.body,
    });
    expect(second.body.profiles.every((p: { outcome: string }) => p.outcome === 'unchanged')).toBe(true);
    const imported = await f.request('GET', '/api/admin/globex/profiles/sellers', { token: globex });
    expect(imported.status).toBe(200);
    expect(JSON.stringify(imported.body)).toContain('"publishedVersion":0');
    // acme's admin still cannot read globex.
    expect((await f.request('GET', '/api/admin/globex/profiles/sellers', { token: acme })).status).toBe(403);
  });
});
