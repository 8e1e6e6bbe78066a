import { request as httpRequest } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  loadOrCreateLocalSigningKey,
} from '../../shared/auth/local-signing-key';
import { ADMIN_ROLE } from '../../shared/auth/principal';
import { DEMO_ENTRA_TENANT_ID } from '../../local/demo/demo-directory';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

const OTHER_TID = '0b6f1f0e-8a53-4d3b-9c1e-5f7a2b3c4d5e';

describe('local host: authentication, tenant isolation and errors', () => {
  let f: HostFixture;
  let adminToken: string;

  beforeAll(async () => {
    f = await startHostFixture();
    adminToken = await f.token({
      oid: '11111111-1111-4111-8111-111111111111',
      tid: DEMO_ENTRA_TENANT_ID,
      roles: [ADMIN_ROLE],
    });
    // A second tenant, fabrikam, in another Entra tenant.
    const registered = await f.request('PUT', '/api/admin/tenants/fabrikam', {
      token: await f.operatorToken(),
      body: { displayName: 'Fabrikam', entraTenantId: OTHER_TID, source: { kind: 'local' } },
    });
    expect(registered.status).toBe(201);
  });
  afterAll(() => f.close());

  it('serves health without a token', async () => {
    const res = await f.request('GET', '/api/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', store: 'sqlite' });
  });

  it('answers 401 without a token, with a malformed one, and with one signed by another key', async () => {
    expect((await f.request('GET', '/api/admin/contoso/entities')).status).toBe(401);
    const garbage = await f.request('GET', '/api/admin/contoso/entities', { token: 'not-a-jwt' });
    expect(garbage.status).toBe(401);
    expect(garbage.body.error.code).toBe('Unauthorized');
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ oid: 'x', tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('urn:offline-sync:local')
      .setAudience(LOCAL_AUDIENCE)
      .setExpirationTime('1h')
      .sign(privateKey);
    expect((await f.request('GET', '/api/admin/contoso/entities', { token: forged })).status).toBe(401);
  });

  it('answers 401, not 503, for an HS256 token signed with the local public key as its secret', async () => {
    // The classic algorithm confusion: the public key is public, so an HMAC over it proves nothing.
    const key = await loadOrCreateLocalSigningKey(f.dataDir);
    const publicJwk = await exportJWK(key.publicKey);
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const forged = await new SignJWT({ oid: 'x', tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(LOCAL_AUDIENCE)
      .setExpirationTime('1h')
      .sign(secret);
    const res = await f.request('GET', '/api/admin/contoso/entities', { token: forged });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('Unauthorized');
  });

  it('answers 401 for a local token of another audience', async () => {
    const key = await loadOrCreateLocalSigningKey(f.dataDir);
    const token = await new SignJWT({ oid: 'x', tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer(LOCAL_ISSUER)
      .setAudience('api://someone-else')
      .setExpirationTime('1h')
      .sign(key.privateKey);
    expect((await f.request('GET', '/api/admin/contoso/entities', { token })).status).toBe(401);
  });

  it.each(['exa mple:80:x', 'user@127.0.0.1', 'a:b@host'])(
    'answers 400, not 500, for the Host header %s',
    async (host) => {
      // fetch() cannot send a bad Host, so the request is written with node:http directly.
      const { port } = new URL(f.host.url);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, path: '/api/health', method: 'GET', headers: { host } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(answer.status).toBe(400);
      expect((JSON.parse(answer.body) as { error: { code: string } }).error.code).toBe('BadRequest');
    },
  );

  it('answers 401 for an expired token and one for another audience', async () => {
    const expired = await f.token({ oid: 'a', tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] });
    // Re-sign with a past expiry through the fixture's key is not exposed; tamper the payload instead.
    const [h, , s] = expired.split('.');
    const payload = Buffer.from(JSON.stringify({ oid: 'a', tid: DEMO_ENTRA_TENANT_ID, exp: 1 })).toString(
      'base64url',
    );
    expect(
      (await f.request('GET', '/api/admin/contoso/entities', { token: `${h}.${payload}.${s}` })).status,
    ).toBe(401);
  });

  it('lets an admin of contoso read contoso and nothing of fabrikam', async () => {
    const own = await f.request('GET', '/api/admin/contoso/entities', { token: adminToken });
    expect(own.status).toBe(200);
    const other = await f.request('GET', '/api/admin/fabrikam/entities', { token: adminToken });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('Forbidden');
    expect(JSON.stringify(other.body)).not.toContain('fabrikam-data');
  });

  it('refuses a user token without the admin role on admin routes', async () => {
    const user = await f.token({ oid: '11111111-1111-4111-8111-111111111111', tid: DEMO_ENTRA_TENANT_ID });
    const res = await f.request('GET', '/api/admin/contoso/entities', { token: user });
    expect(res.status).toBe(403);
  });

  it('keeps operator routes for operators', async () => {
    expect((await f.request('GET', '/api/admin/tenants', { token: adminToken })).status).toBe(403);
    const res = await f.request('GET', '/api/admin/tenants', { token: await f.operatorToken() });
    expect(res.status).toBe(200);
    expect(res.body.tenants.map((t: { org: string }) => t.org).sort()).toEqual(['contoso', 'fabrikam']);
  });

  it('answers 404 for an unknown tenant', async () => {
    const res = await f.request('GET', '/api/admin/nowhere/entities', { token: adminToken });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('TenantNotFound');
  });

  it('answers 400 for bad JSON and for a body that breaks the schema, naming each path', async () => {
    const operator = await f.operatorToken();
    const badJson = await f.request('PUT', '/api/admin/tenants/acme', {
      token: operator,
      rawBody: '{"displayName":',
    });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('BadRequest');
    const badShape = await f.request('PUT', '/api/admin/tenants/acme', {
      token: operator,
      body: { displayName: '', entraTenantId: 'nope', source: { kind: 'dataverse' } },
    });
    expect(badShape.status).toBe(400);
    expect(badShape.body.error.code).toBe('ValidationFailed');
    const paths = badShape.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['body.displayName', 'body.entraTenantId']));
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await f.request('PUT', '/api/admin/tenants/acme', {
      token: await f.operatorToken(),
      rawBody: JSON.stringify({ displayName: 'x'.repeat(f.host.settings.MAX_BODY_BYTES + 10) }),
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PayloadTooLarge');
  });

  it('answers 404 for unknown routes and 405 for a wrong method, as JSON', async () => {
    expect((await f.request('GET', '/api/nothing-here')).status).toBe(404);
    const res = await f.request('DELETE', '/api/health');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.body.error.code).toBe('MethodNotAllowed');
    expect(res.body.error.message).toContain('GET');
    expect(res.body.error.traceId).toBe(res.headers.get('x-trace-id'));
  });

  it('serves an OpenAPI document that lists every route', async () => {
    const res = await f.request('GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/health',
        '/api/admin/tenants',
        '/api/admin/tenants/{org}',
        '/api/admin/{org}/entities',
      ]),
    );
  });
});
