import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_BODY_DEPTH, type HttpRuntime } from '../../../functions/http/handle-request';
import type { RouteDefinition } from '../../../functions/http/route-definition';
import { routes } from '../../../functions/routes';
import type { AppServices } from '../../../shared/app-services';
import { ADMIN_ROLE, INGEST_ROLE, type Principal } from '../../../shared/auth/principal';
import type { TokenVerifier } from '../../../shared/auth/token-verifier';
import { ManualClock } from '../../../shared/clock';
import { declareEntityMetadata } from '../../../shared/admin/entity-config';
import { AppError } from '../../../shared/errors';
import type { Store } from '../../../shared/store/port';
import { createSqliteStore } from '../../../shared/store/sqlite';
import { registerTenant } from '../../../shared/tenants/tenant-registry';
import { callRoute } from '../../support/call-route';
import { testEntities } from '../../support/offline-config-fixtures';

/**
 * Input rules the HTTP adapter and the route schemas enforce on every route: the caller is checked
 * before its input, bodies nest at most `MAX_BODY_DEPTH` levels, and names and ids refuse control
 * characters, bidirectional overrides and lone surrogates while data columns keep what they hold.
 */

const ORG = 'contoso';
const TID = '11111111-1111-4111-8111-111111111111';
const OTHER_TID = '22222222-2222-4222-8222-222222222222';
const OPERATOR_TID = '33333333-3333-4333-8333-333333333333';

const principals: Record<string, Principal> = {
  admin: { objectId: 'a', tenantId: TID, roles: [ADMIN_ROLE, INGEST_ROLE], issuer: 'local' },
  otherAdmin: { objectId: 'b', tenantId: OTHER_TID, roles: [ADMIN_ROLE], issuer: 'local' },
  user: { objectId: 'c', tenantId: TID, roles: [], issuer: 'local' },
  operator: { objectId: 'o', tenantId: OPERATOR_TID, roles: [ADMIN_ROLE], issuer: 'local' },
};
const verifier: TokenVerifier = {
  verify: (token) =>
    principals[token] === undefined
      ? Promise.reject(new AppError('Unauthorized', 'unknown test token'))
      : Promise.resolve(principals[token]),
};

let dataDir: string;
let store: Store;
let runtime: HttpRuntime;
const queued: unknown[] = [];

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'offline-sync-input-'));
  const clock = new ManualClock('2026-01-15T12:00:00.000Z');
  store = createSqliteStore({ dataDir, clock });
  await registerTenant(store, clock, ORG, {
    displayName: 'Contoso',
    entraTenantId: TID,
    source: { kind: 'local' },
  });
  for (const metadata of testEntities()) await declareEntityMetadata(store.tenant(ORG), clock, metadata);
  queued.length = 0;
  const services = {
    settings: { MAX_BODY_BYTES: 4 * 1024 * 1024, OPERATOR_TENANT_ID: OPERATOR_TID },
    store,
    clock,
    queue: {
      send: (body: unknown) => Promise.resolve(void queued.push(body)),
      sendBatch: (bodies: readonly unknown[]) => Promise.resolve(void queued.push(...bodies)),
    },
    sourceFor: () => {
      throw new Error('no source in this test');
    },
  } as unknown as AppServices;
  runtime = { services, verifier };
});
afterEach(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function route(name: string): RouteDefinition {
  const found = routes.find((r) => r.name === name);
  if (found === undefined) throw new Error(`no route ${name}`);
  return found;
}

interface ErrorAnswer {
  error?: { code: string; message: string; details?: { path: string; message: string }[] };
}

const call = (
  name: string,
  token: string,
  input: { params?: Record<string, string>; body?: unknown; rawBody?: string } = {},
) =>
  callRoute<ErrorAnswer & Record<string, unknown>>(route(name), runtime, token, {
    ...input,
    params: { org: ORG, ...input.params },
  });

describe('the caller is checked before its input', () => {
  const malformedDirectory = { businessUnits: 'none', users: [{ id: 7 }] };

  it('answers 401 without a valid token, whatever the body', async () => {
    const answer = await call('directoryReplace', 'nobody', { body: malformedDirectory });
    expect(answer.status).toBe(401);
    expect(answer.body.error?.details).toBeUndefined();
  });

  it("answers 403 to another tenant's admin, without the schema's details", async () => {
    const answer = await call('directoryReplace', 'otherAdmin', { body: malformedDirectory });
    expect(answer.status).toBe(403);
    expect(answer.body.error?.code).toBe('Forbidden');
    expect(answer.body.error?.details).toBeUndefined();
  });

  it('answers 403 to a user without the admin role, and to a non-operator on operator routes', async () => {
    expect((await call('directoryReplace', 'user', { body: malformedDirectory })).status).toBe(403);
    const register = await call('tenantRegister', 'admin', {
      params: { org: 'acme' },
      body: { displayName: 7 },
    });
    expect(register.status).toBe(403);
    expect(register.body.error?.details).toBeUndefined();
  });

  it('answers 403 before reading params too', async () => {
    const answer = await call('profileGet', 'otherAdmin', { params: { id: 'not a profile id!' } });
    expect(answer.status).toBe(403);
  });

  it('answers 400 with the failing paths to a caller who may use the route', async () => {
    const answer = await call('directoryReplace', 'admin', { body: malformedDirectory });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('ValidationFailed');
    expect(answer.body.error?.details?.map((d) => d.path)).toEqual(
      expect.arrayContaining(['body.businessUnits', 'body.users.0.id']),
    );
  });
});

describe('bodies nest at most MAX_BODY_DEPTH levels', () => {
  /** A custom filter nested `depth` levels deep (zod validates filter trees recursively). */
  function deepFilterProfile(depth: number): string {
    let filter = '{"type":"and"}';
    for (let i = 0; i < depth; i++) filter = `{"type":"and","filters":[${filter}]}`;
    return `{"name":"Deep","items":[{"entity":"account","rule":"other","customFilter":${filter}}]}`;
  }

  it('answers 400, not 500, for a profile whose filter nests 5,000 levels deep', async () => {
    const answer = await call('profileReplace', 'admin', {
      params: { id: 'deep' },
      rawBody: deepFilterProfile(5000),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('BadRequest');
    expect(answer.body.error?.message).toContain(`deeper than ${MAX_BODY_DEPTH} levels`);
  });

  it('answers 400, not 500, for a Dataverse webhook body nesting 5,000 levels deep', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const rawBody = `{"MessageName":"Update","PrimaryEntityName":"account","PrimaryEntityId":"ec4e2f7d-6d2c-4f6b-9a41-0c1d2e3f4a5b","InputParameters":[{"key":"Target","value":${deep}}]}`;
    const answer = await call('ingestDataverse', 'admin', { rawBody });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('BadRequest');
  });

  it('takes a body just within the limit to its schema', async () => {
    // A profile nested within the limit reaches validation (the profile rules refuse more than
    // three levels later, at publish): the depth limit is not what answers.
    const answer = await call('profileReplace', 'admin', {
      params: { id: 'deep' },
      rawBody: deepFilterProfile(10),
    });
    expect(answer.body.error?.message ?? '').not.toContain('deeper than');
  });
});

describe('names and ids refuse control characters, bidirectional overrides and lone surrogates', () => {
  const unsafe = [
    ['NUL', 'Con\u0000toso'],
    ['an escape sequence', 'Contoso\u001b[2J'],
    ['a right-to-left override', 'Contoso\u202Egpj.exe'],
    ['a first-strong isolate', 'Contoso\u2068x\u2069'],
    ['a lone surrogate', 'Contoso\uD800'],
  ] as const;
  const directoryWith = (fullName: string) => ({
    businessUnits: [{ id: 'root', name: 'Contoso', parentId: null }],
    users: [
      {
        id: 'u1',
        entraObjectId: '00000000-0000-4000-8000-000000000001',
        userName: 'ann',
        fullName,
        businessUnitId: 'root',
      },
    ],
  });
  const cases: [string, (text: string) => Promise<{ status: number; body: ErrorAnswer }>, string][] = [
    [
      'a tenant display name',
      (text) =>
        call('tenantRegister', 'operator', {
          params: { org: 'acme' },
          body: { displayName: text, entraTenantId: TID, source: { kind: 'local' } },
        }),
      'body.displayName',
    ],
    [
      'an app name',
      (text) =>
        call('appPut', 'admin', { params: { appId: 'sales' }, body: { name: text, offlineEnabled: false } }),
      'body.name',
    ],
    ['a profile name', (text) => call('profileCreate', 'admin', { body: { name: text } }), 'body.name'],
    [
      'a profile user id',
      (text) => call('profileReplace', 'admin', { params: { id: 'p1' }, body: { name: 'P', users: [text] } }),
      'body.users.0',
    ],
    [
      'an entity display name',
      (text) =>
        call('entityDeclare', 'admin', {
          params: { entity: 'account' },
          body: { ...testEntities().find((e) => e.logicalName === 'account'), displayName: text },
        }),
      'body.displayName',
    ],
    [
      'a directory user name',
      (text) => call('directoryReplace', 'admin', { body: directoryWith(text) }),
      'body.users.0.fullName',
    ],
    [
      'a directory id',
      (text) =>
        call('directoryReplace', 'admin', {
          body: { ...directoryWith('Ann'), businessUnits: [{ id: text, name: 'Contoso', parentId: null }] },
        }),
      'body.businessUnits.0.id',
    ],
    [
      'an ingested record id',
      (text) =>
        call('ingestChanges', 'admin', {
          body: [{ entity: 'account', id: text, op: 'upsert', attributes: {}, version: 1 }],
        }),
      'body.0.id',
    ],
  ];

  it.each(cases)('refuses them in %s with 400 at its path', async (_what, send, path) => {
    for (const [character, text] of unsafe) {
      const answer = await send(text);
      expect([character, answer.status, answer.body.error?.details?.map((d) => d.path)]).toEqual([
        character,
        400,
        expect.arrayContaining([path]),
      ]);
    }
  });

  it('accepts names in any script, emoji (surrogate pairs) and marks included', async () => {
    for (const name of ['Société Générale', 'شركة كونتوسو', '東京支店', 'Team 🚀', 'Ann\u200dMarie']) {
      const answer = await call('appPut', 'admin', {
        params: { appId: 'sales' },
        body: { name, offlineEnabled: false },
      });
      // 201 the first time (created), 200 after (replaced).
      expect([name, [200, 201].includes(answer.status)]).toEqual([name, true]);
    }
  });

  it('accepts tabs and line breaks in a profile description, and refuses the rest there too', async () => {
    const ok = await call('profileCreate', 'admin', {
      body: { name: 'P', description: 'Line one\n\tLine two' },
    });
    expect(ok.status).toBe(201);
    const bad = await call('profileCreate', 'admin', { body: { name: 'Q', description: 'x\u202Ey' } });
    expect(bad.status).toBe(400);
  });

  it('leaves data columns as the source sends them', async () => {
    const answer = await call('ingestChanges', 'admin', {
      body: [
        {
          entity: 'account',
          id: 'a1',
          op: 'upsert',
          attributes: { name: 'Con\u0000toso \u202Egpj.exe \uD800', description: 'line\nbreak' },
          version: 1,
        },
      ],
    });
    expect(answer.status).toBe(202);
    expect(JSON.stringify(queued)).toContain('Con\\u0000toso \u202Egpj.exe \\ud800');
  });
});
