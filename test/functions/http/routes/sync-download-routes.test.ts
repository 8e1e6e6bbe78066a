import { syncDownloadRoutes } from '../../../../functions/http/routes/sync-download-routes';
import type { AppServices } from '../../../../shared/app-services';
import type { Principal } from '../../../../shared/auth/principal';
import type { TokenVerifier } from '../../../../shared/auth/token-verifier';
import { AppError } from '../../../../shared/errors';
import { fromTablesResponse } from '../../../../shared/sync/download-tables';
import {
  downloadTablesResponseSchema,
  NEXT_CHECKPOINT_HEADER,
  type DownloadChange,
} from '../../../../shared/sync/sync-protocol';
import { callRoute, type RouteCallAnswer } from '../../../support/call-route';
import { registerTenant, setTenantState } from '../../../../shared/tenants/tenant-registry';
import {
  APP,
  configureDownloadTenant,
  oid,
  openTestStore,
  ORG,
  type TestStore,
} from '../../../shared/sync/download/download-test-tenant';

const TID = '11111111-1111-4111-8111-111111111111';

/** Token `u<n>` is test user n's device token. */
const verifier: TokenVerifier = {
  verify(token) {
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

let t: TestStore;
let services: AppServices;

beforeEach(async () => {
  t = await openTestStore('sqlite');
  await configureDownloadTenant(t);
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
  } as unknown as AppServices;
  const rows = Array.from({ length: 300 }, (_, i) => ({
    entity: 'lead',
    id: `l${i}`,
    version: String(i + 1),
    deleted: false,
    attributes: { name: `lead ${i} ${'x'.repeat(40)}`, owningbusinessunit: 'west' },
  }));
  await t.tenant.applyRecordWrites(rows);
});
afterEach(async () => {
  await t.close();
});

async function call(
  name: string,
  token: string,
  input: { query?: Record<string, string>; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RouteCallAnswer<Record<string, unknown>>> {
  const route = syncDownloadRoutes.find((r) => r.name === name)!;
  return callRoute(route, { services, verifier }, token, { ...input, params: { org: ORG } });
}

describe('sync download routes', () => {
  it('have unique function names that never start with "admin"', () => {
    const names = syncDownloadRoutes.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n.toLowerCase().startsWith('admin'))).toEqual([]);
  });

  it('GET metadata answers the profile entities and versions; a user who may not sync gets 403, a missing app 400', async () => {
    const answer = await call('syncMetadata', 'u3', { query: { app: APP } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      profile: { id: 'p2' },
      profileVersion: 1,
      syncIntervalSeconds: 1200,
    });
    expect((answer.body.entities as { logicalName: string }[]).map((e) => e.logicalName)).toEqual([
      'contact',
      'lead',
      'note',
    ]);
    expect((await call('syncMetadata', 'u5', { query: { app: APP } })).status).toBe(403);
    expect((await call('syncMetadata', 'u3', { query: {} })).status).toBe(400);
  });

  it('POST download pages with a server maximum, compresses when asked, and refuses a bad checkpoint', async () => {
    const first = await call('syncDownload', 'u3', {
      body: { app: APP, deviceId: 'phone', pageSize: 100 },
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-encoding')).toBe('gzip');
    expect(first.body).toMatchObject({ more: true, progress: { done: 100, total: 300, percent: 33 } });
    expect(
      (await call('syncDownload', 'u3', { body: { app: APP, deviceId: 'phone', pageSize: 100_000 } })).status,
    ).toBe(400);
    const forged = await call('syncDownload', 'u3', {
      body: { app: APP, deviceId: 'phone', checkpoint: 'x.y' },
    });
    expect(forged.status).toBe(400);
    expect(JSON.stringify(forged.body)).toContain('CheckpointInvalid');
    const next = await call('syncDownload', 'u3', {
      body: { app: APP, deviceId: 'phone', pageSize: 100, checkpoint: first.body.checkpoint },
    });
    expect(next.body).toMatchObject({ progress: { done: 200, total: 300 } });
    const brotli = await call('syncDownload', 'u3', {
      body: { app: APP, deviceId: 'phone', pageSize: 100, checkpoint: next.body.checkpoint },
      headers: { 'accept-encoding': 'gzip, br' },
    });
    expect(brotli.headers.get('content-encoding')).toBe('br');
    expect(brotli.headers.get('vary')).toBe('Accept-Encoding');
    expect(brotli.body).toMatchObject({ more: false, progress: { done: 300, total: 300 } });
    expect(brotli.body.changes).toHaveLength(100);
  });

  it("POST download compresses a page larger than brotli's window into one that decodes whole", async () => {
    // 300 leads of about 2 KB each, every one distinct: a 600 KB page, past the 256 KiB window.
    await t.tenant.applyRecordWrites(
      Array.from({ length: 300 }, (_, i) => ({
        entity: 'lead',
        id: `l${i}`,
        version: String(1000 + i),
        deleted: false,
        attributes: {
          name: Array.from(
            { length: 100 },
            (_, k) => `lead ${i} word ${(i * 7919 + k * 104_729) % 99_991}`,
          ).join(' '),
          owningbusinessunit: 'west',
        },
      })),
    );
    const ask = (encoding: string) =>
      call('syncDownload', 'u3', {
        body: { app: APP, deviceId: `big-${encoding}`, pageSize: 300 },
        headers: { 'accept-encoding': encoding },
      });
    const plain = await ask('identity');
    const brotli = await ask('br');
    expect(brotli.headers.get('content-encoding')).toBe('br');
    expect(JSON.stringify(plain.body.changes).length).toBeGreaterThan(512 * 1024);
    expect(brotli.body.changes).toEqual(plain.body.changes);
  });

  it('POST download gives the next checkpoint in a header while there is more, and none on the last page', async () => {
    const pages: { more: unknown; checkpoint: unknown; header: string | null }[] = [];
    let checkpoint: unknown;
    do {
      const answer = await call('syncDownload', 'u3', {
        body: {
          app: APP,
          deviceId: 'tablet',
          pageSize: 100,
          format: 'tables',
          ...(checkpoint ? { checkpoint } : {}),
        },
      });
      expect(answer.status).toBe(200);
      checkpoint = answer.body.checkpoint;
      pages.push({ more: answer.body.more, checkpoint, header: answer.headers.get(NEXT_CHECKPOINT_HEADER) });
    } while (pages.at(-1)!.more === true);
    expect(pages.map((p) => p.more)).toEqual([true, true, false]);
    for (const page of pages.slice(0, -1)) expect(page.header).toBe(page.checkpoint);
    expect(pages.at(-1)!.header).toBeNull();
  });

  it('POST download in the tables format carries the same rows as the changes format', async () => {
    // Two devices of one user download everything, one per format; a third asks for a format that is not one.
    const all: Record<string, DownloadChange[]> = { changes: [], tables: [] };
    for (const format of ['changes', 'tables'] as const) {
      let checkpoint: unknown;
      for (let page = 0; page < 10; page++) {
        const answer = await call('syncDownload', 'u3', {
          body: {
            app: APP,
            deviceId: `phone-${format}`,
            pageSize: 120,
            format,
            ...(checkpoint ? { checkpoint } : {}),
          },
        });
        expect(answer.status).toBe(200);
        if (format === 'tables') {
          const body = downloadTablesResponseSchema.parse(answer.body);
          expect(body).not.toHaveProperty('changes');
          all.tables!.push(...fromTablesResponse(body));
        } else {
          expect(answer.body).not.toHaveProperty('tables');
          all.changes!.push(...(answer.body.changes as DownloadChange[]));
        }
        checkpoint = answer.body.checkpoint;
        if (answer.body.more !== true) break;
      }
    }
    expect(all.changes!.length).toBe(300);
    // Every test row carries every column, so the rows are equal without filling in nulls.
    const byKey = (changes: DownloadChange[]) =>
      changes
        .map((c) => ({ key: `${c.entity}/${c.id}`, version: c.version, row: c.row }))
        .sort((a, b) => a.key.localeCompare(b.key));
    expect(byKey(all.tables!)).toEqual(byKey(all.changes!));
    const wrong = await call('syncDownload', 'u3', {
      body: { app: APP, deviceId: 'phone-x', format: 'csv' },
    });
    expect(wrong.status).toBe(400);
    expect(JSON.stringify(wrong.body)).toContain('body.format');
  });

  it('answers 503 while the tenant is not active', async () => {
    await setTenantState(t.store, t.clock, ORG, 'stopped');
    expect((await call('syncDownload', 'u3', { body: { app: APP, deviceId: 'phone' } })).status).toBe(503);
  });
});
