import { syncUploadRoutes } from '../../../../functions/http/routes/sync-upload-routes';
import type { AppServices } from '../../../../shared/app-services';
import { ADMIN_ROLE, type Principal } from '../../../../shared/auth/principal';
import type { TokenVerifier } from '../../../../shared/auth/token-verifier';
import { AppError } from '../../../../shared/errors';
import { callRoute } from '../../../support/call-route';
import { registerTenant, setTenantState } from '../../../../shared/tenants/tenant-registry';
import type {
  SyncErrorEntry,
  UploadOperation,
  UploadResult,
} from '../../../../shared/sync/upload/upload-protocol';
import {
  APP,
  DEVICE,
  ORG,
  createUploadTestTenant,
  guid,
  oid,
  type UploadTestTenant,
} from '../../../shared/sync/upload/upload-test-tenant';

const TID = '11111111-1111-4111-8111-111111111111';

/** Token `u<n>` is test user n's device token; `admin` carries the admin role. */
const verifier: TokenVerifier = {
  verify(token) {
    if (token === 'admin') {
      return Promise.resolve<Principal>({
        objectId: oid(90),
        tenantId: TID,
        roles: [ADMIN_ROLE],
        issuer: 'local',
      });
    }
    const n = /^u(\d+)$/.exec(token)?.[1];
    if (n === undefined) return Promise.reject(new AppError('Unauthorized', 'bad token'));
    return Promise.resolve<Principal>({
      objectId: oid(Number(n)),
      tenantId: TID,
      roles: [],
      issuer: 'local',
    });
  },
};

interface Answer<T> {
  status: number;
  body: T & { error?: { code: string; message: string } };
}

let t: UploadTestTenant;
let services: AppServices;

beforeEach(async () => {
  t = await createUploadTestTenant();
  await registerTenant(t.store, t.clock, ORG, {
    displayName: 'Contoso',
    entraTenantId: TID,
    source: { kind: 'local' },
  });
  await setTenantState(t.store, t.clock, ORG, 'active');
  services = {
    settings: { MAX_BODY_BYTES: 4 * 1024 * 1024 },
    store: t.store,
    clock: t.clock,
    sourceFor: () => {
      throw new Error('local tenants write to the store');
    },
  } as unknown as AppServices;
});
afterEach(async () => {
  await t.close();
});

async function call<T>(
  name: string,
  token: string,
  input: { params?: Record<string, string>; query?: Record<string, string>; body?: unknown } = {},
): Promise<Answer<T>> {
  const route = syncUploadRoutes.find((r) => r.name === name);
  if (route === undefined) throw new Error(`no route ${name}`);
  return callRoute<Answer<T>['body']>(route, { services, verifier }, token, {
    ...input,
    params: { org: ORG, ...input.params },
  });
}

const upload = (token: string, operations: UploadOperation[], deviceId = DEVICE) =>
  call<{ results: UploadResult[] }>('syncUpload', token, { body: { app: APP, deviceId, operations } });

describe('function names', () => {
  it('are unique and never start with "admin" (Azure Functions rejects them)', () => {
    const names = syncUploadRoutes.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n.toLowerCase().startsWith('admin'))).toEqual([]);
  });
});

describe('POST sync/{org}/upload', () => {
  it('answers one result per operation, in order', async () => {
    const answer = await upload('u1', [
      { opId: '1', entity: 'account', id: guid(1), op: 'create', row: { name: 'A' } },
      { opId: '2', entity: 'account', id: guid(2), op: 'update', row: { name: 'B' } },
    ]);
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((r) => [r.opId, r.status, r.version ?? r.error?.code])).toEqual([
      ['1', 'applied', '1'],
      ['2', 'rejected', 'NotFound'],
    ]);
  });

  it('refuses a malformed body with 400 and every failing path', async () => {
    const answer = await call('syncUpload', 'u1', {
      body: {
        app: APP,
        deviceId: DEVICE,
        operations: [{ opId: '1', entity: 'account', id: guid(1), op: 'upsert' }],
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('ValidationFailed');
  });

  it('refuses more than 500 operations with 413', async () => {
    const operations = Array.from({ length: 501 }, (_, i) => ({
      opId: String(i),
      entity: 'account',
      id: guid(i),
      op: 'delete' as const,
    }));
    const answer = await upload('u1', operations);
    expect(answer.status).toBe(413);
    expect(answer.body.error?.message).toContain('500');
  });

  it('refuses a user who may not sync (403) and an app that does not exist (404)', async () => {
    expect((await upload('u4', [])).body.error?.code).toBe('PrivilegeDenied');
    const noApp = await call('syncUpload', 'u1', { body: { app: 'nope', deviceId: DEVICE, operations: [] } });
    expect(noApp.status).toBe(404);
  });

  it('rejects an operation whose row nests 5,000 levels deep alone, on every resend, and logs it without the row', async () => {
    // JSON.stringify itself overflows on such a value, so the body is written by hand.
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const rawBody =
      `{"app":"${APP}","deviceId":"${DEVICE}","operations":[` +
      `{"opId":"1","entity":"account","id":"${guid(1)}","op":"create","row":{"name":"A"}},` +
      `{"opId":"2","entity":"account","id":"${guid(2)}","op":"create","row":{"name":${deep}}},` +
      `{"opId":"3","entity":"account","id":"${guid(3)}","op":"create","row":{"name":"C"}}]}`;
    const send = () =>
      callRoute<{ results: UploadResult[] }>(
        syncUploadRoutes.find((r) => r.name === 'syncUpload')!,
        { services, verifier },
        'u1',
        { params: { org: ORG }, rawBody },
      );
    const first = await send();
    expect(first.status).toBe(200);
    expect(first.body.results.map((r) => [r.opId, r.status, r.error?.code])).toEqual([
      ['1', 'applied', undefined],
      ['2', 'rejected', 'ValidationFailed'],
      ['3', 'applied', undefined],
    ]);
    expect(first.body.results[1]!.error?.details?.[0]?.path).toMatch(/^row\.name(\.a)+$/);
    expect(first.body.results[1]!.error?.message).toContain('nests deeper than');
    const again = await send();
    expect(again.status).toBe(200);
    expect(again.body.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(again.body.results[1]!.original?.status).toBe('rejected');
    const log = await call<{ errors: SyncErrorEntry[] }>('syncErrorsDevice', 'u1', {
      query: { deviceId: DEVICE },
    });
    expect(log.body.errors.map((e) => [e.opId, e.errorCode, e.data])).toEqual([
      ['2', 'ValidationFailed', undefined],
    ]);
  });

  it.each([
    [
      'a string longer than 1,048,576 characters',
      { name: 'x'.repeat(1_048_577) },
      'longer than 1048576 characters',
    ],
    [
      'more than 1,024 columns',
      Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`c${i}`, 1])),
      'more than 1024 keys',
    ],
    ['a column name longer than 128 characters', { ['n'.repeat(129)]: 1 }, 'key longer than'],
    [
      'an array of more than 10,000 items',
      { name: Array.from({ length: 10_001 }, () => 0) },
      'more than 10000 items',
    ],
    [
      'more than 1.5 MiB of JSON',
      { name: 'é'.repeat(600_000), description: 'é'.repeat(600_000) },
      'bytes as JSON',
    ],
  ])('rejects an operation whose row holds %s alone', async (_what, row, message) => {
    const answer = await upload('u1', [
      { opId: '1', entity: 'account', id: guid(1), op: 'create', row },
      { opId: '2', entity: 'account', id: guid(2), op: 'create', row: { name: 'B' } },
    ]);
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((r) => [r.status, r.error?.code])).toEqual([
      ['rejected', 'ValidationFailed'],
      ['applied', undefined],
    ]);
    expect(answer.body.results[0]!.error?.message).toContain(message);
  });

  it('takes the download schema for deviceId, and refuses ids with control characters', async () => {
    const badDevice = await call('syncUpload', 'u1', {
      body: { app: APP, deviceId: 'phone one/../x', operations: [] },
    });
    expect(badDevice.status).toBe(400);
    expect(badDevice.body.error?.code).toBe('ValidationFailed');
    for (const opId of ['a\u0000b', 'x\u202Egnp.exe', '\uD800']) {
      const answer = await call('syncUpload', 'u1', {
        body: {
          app: APP,
          deviceId: DEVICE,
          operations: [{ opId, entity: 'account', id: guid(1), op: 'delete' }],
        },
      });
      expect([JSON.stringify(opId), answer.status]).toEqual([JSON.stringify(opId), 400]);
    }
  });

  it('refuses uploads to a tenant that is not active', async () => {
    await setTenantState(t.store, t.clock, ORG, 'stopped');
    expect((await upload('u1', [])).status).toBe(503);
  });
});

describe('sync error routes', () => {
  beforeEach(async () => {
    await upload('u1', [{ opId: '1', entity: 'account', id: guid(1), op: 'delete' }], 'd1');
    t.clock.advance(1000);
    await upload(
      'u1',
      [{ opId: '2', entity: 'account', id: guid(2), op: 'create', row: { shoesize: 1 } }],
      'd2',
    );
    t.clock.advance(1000);
    await upload('u2', [{ opId: '3', entity: 'account', id: guid(3), op: 'delete' }], 'd1');
  });

  it("GET sync/{org}/errors answers the caller's own entries from that device only", async () => {
    const answer = await call<{ errors: SyncErrorEntry[] }>('syncErrorsDevice', 'u1', {
      query: { deviceId: 'd1' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.errors.map((e) => [e.userId, e.deviceId, e.recordId, e.errorType])).toEqual([
      ['u1', 'd1', guid(1), 'RecordNotFound'],
    ]);
  });

  it('GET admin/{org}/sync-errors lists newest first, filtered, and needs the admin role', async () => {
    const all = await call<{ errors: SyncErrorEntry[] }>('syncErrorsList', 'admin');
    expect(all.body.errors.map((e) => e.recordId)).toEqual([guid(3), guid(2), guid(1)]);
    const ofUser = await call<{ errors: SyncErrorEntry[] }>('syncErrorsList', 'admin', {
      query: { user: 'u1', entity: 'account', limit: '1' },
    });
    expect(ofUser.body.errors.map((e) => e.recordId)).toEqual([guid(2)]);
    expect((await call('syncErrorsList', 'u1')).status).toBe(403);
    expect((await call('syncErrorsList', 'admin', { query: { limit: '0' } })).status).toBe(400);
  });

  it('POST admin/{org}/sync-errors/{errorId}/retry re-runs the operation as its user and marks the entry', async () => {
    const [entry] = (
      await call<{ errors: SyncErrorEntry[] }>('syncErrorsList', 'admin', { query: { user: 'u2' } })
    ).body.errors;
    await t.tenantStore.applyRecordWrites([
      {
        entity: 'account',
        id: guid(3),
        version: '1',
        deleted: false,
        attributes: { accountid: guid(3), name: 'C', ownerid: 'u2', owningbusinessunit: 'east' },
      },
    ]);
    const retried = await call<{ result: UploadResult; entry: SyncErrorEntry }>('syncErrorRetry', 'admin', {
      params: { errorId: entry!.id },
    });
    expect(retried.status).toBe(200);
    expect(retried.body.result).toMatchObject({ status: 'applied', version: '2' });
    expect(retried.body.entry.state).toBe('resolved');
    expect((await t.tenantStore.getRecord('account', guid(3)))?.deleted).toBe(true);
    expect((await call('syncErrorRetry', 'u2', { params: { errorId: entry!.id } })).status).toBe(403);
    const missing = await call('syncErrorRetry', 'admin', {
      params: { errorId: `000000000000000-${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}` },
    });
    expect(missing.status).toBe(404);
  });
});
