import { isAppError } from '../../../../shared/errors';
import type { EntityMetadata } from '../../../../shared/model/entity';
import type { SourceChangePage } from '../../../../shared/sources/port';
import type { DataverseFixture } from './dataverse-fixture';
import { accountId, ids, startDataverseFixture } from './dataverse-fixture';

let fx: DataverseFixture;
let account: EntityMetadata;

beforeEach(async () => {
  fx = await startDataverseFixture({ maxPageSize: 2 });
  [account] = (await fx.source.readMetadata(['account'])) as [EntityMetadata];
  for (let n = 1; n <= 5; n++) {
    fx.server.tables.upsert('accounts', {
      accountid: accountId(n),
      name: `Account ${n}`,
      _ownerid_value: ids.bob,
      _owninguser_value: ids.bob,
      _owningteam_value: null,
      _owningbusinessunit_value: ids.salesUnit,
      _primarycontactid_value: null,
    });
  }
  fx.server.requests.length = 0;
});
afterEach(async () => {
  await fx.server.close();
});

async function readAll(token: string | undefined): Promise<SourceChangePage[]> {
  const pages: SourceChangePage[] = [];
  for await (const page of fx.source.readChanges(account, token)) pages.push(page);
  return pages;
}

describe('Dataverse change tracking', () => {
  it('reads everything in pages first, then only the changes since the delta link', async () => {
    const full = await readAll(undefined);
    expect(full.map((p) => p.changes.length)).toEqual([2, 2, 1]);
    expect(full.every((p) => p.full)).toBe(true);
    expect(full.slice(0, -1).every((p) => p.deltaToken === undefined)).toBe(true);
    const deltaLink = full.at(-1)!.deltaToken!;
    expect(deltaLink).toContain('$deltatoken=');

    // Tracking request headers; nextLinks are followed unchanged, with the same Prefer.
    const sent = fx.server.requests;
    expect(sent.map((r) => r.headers.prefer)).toEqual(
      Array(3).fill('odata.track-changes,odata.maxpagesize=2'),
    );
    // The metadata's columns, in Web API names; no image column (not in the metadata), no owneridtype
    // (no property: derived from the owner columns).
    expect(sent[0]!.url).toBe(
      '/api/data/v9.2/accounts?$select=accountid,name,description,_ownerid_value,_owningbusinessunit_value,' +
        '_primarycontactid_value,revenue,numberofemployees,languagecode,industrycode,statecode,' +
        'creditonhold,modifiedon,versionnumber,secretnote,_owninguser_value,_owningteam_value',
    );
    expect(sent[1]!.url).toContain('$skiptoken=');

    const first = full[0]!.changes[0]!;
    expect(first).toEqual({
      entity: 'account',
      id: accountId(1),
      op: 'upsert',
      version: expect.stringMatching(/^\d+$/) as unknown,
      attributes: expect.objectContaining({
        accountid: accountId(1),
        name: 'Account 1',
        ownerid: ids.bob,
        owneridtype: 'systemuser',
        owningbusinessunit: ids.salesUnit,
        primarycontactid: null,
      }) as unknown,
    });
    expect(first.version).toBe(fx.server.tables.etag('accounts', accountId(1))!.replace(/\D/g, ''));
    expect(Object.keys(first.attributes).some((k) => k.startsWith('_') || k.includes('@'))).toBe(false);

    fx.server.tables.upsert('accounts', { accountid: accountId(2), name: 'Renamed' });
    fx.server.tables.remove('accounts', accountId(4));
    fx.server.requests.length = 0;

    const delta = await readAll(deltaLink);
    expect(fx.server.requests[0]!.url).toBe(deltaLink.replace(fx.server.url, ''));
    expect(delta).toHaveLength(1);
    expect(delta[0]!.full).toBe(false);
    expect(delta[0]!.changes.map((c) => [c.op, c.id, c.attributes.name])).toEqual([
      ['upsert', accountId(2), 'Renamed'],
      ['delete', accountId(4), undefined],
    ]);
    expect(delta[0]!.changes[1]!.version).toBeUndefined();
    expect(delta[0]!.deltaToken).toBeDefined();
    expect(delta[0]!.deltaToken).not.toBe(deltaLink);

    // Nothing changed since: an empty page with a fresh token.
    const quiet = await readAll(delta[0]!.deltaToken);
    expect(quiet.map((p) => p.changes.length)).toEqual([0]);
  });

  it('pages a large delta too, with the token on its last page only', async () => {
    const full = await readAll(undefined);
    for (let n = 1; n <= 3; n++)
      fx.server.tables.upsert('accounts', { accountid: accountId(n), name: `Again ${n}` });
    fx.server.tables.remove('accounts', accountId(5));
    const delta = await readAll(full.at(-1)!.deltaToken);
    expect(delta.map((p) => [p.changes.length, p.full, p.deltaToken !== undefined])).toEqual([
      [2, false, false],
      [2, false, true],
    ]);
    expect(delta.flatMap((p) => p.changes).map((c) => c.op)).toEqual([
      'upsert',
      'upsert',
      'upsert',
      'delete',
    ]);
  });

  it('hands out the nextLink as each page’s position, and a read given it goes on from the next page', async () => {
    const full = await readAll(undefined);
    expect(full.map((p) => p.resumeAt !== undefined)).toEqual([true, true, false]);
    fx.server.requests.length = 0;
    const rest: SourceChangePage[] = [];
    for await (const page of fx.source.readChanges(account, undefined, full[0]!.resumeAt)) rest.push(page);
    // Pages 2 and 3 again, from the first page's nextLink, with the tracking Prefer; the same token.
    expect(rest.map((p) => [p.changes.length, p.full])).toEqual([
      [2, true],
      [1, true],
    ]);
    expect(rest.flatMap((p) => p.changes)).toEqual(full.slice(1).flatMap((p) => p.changes));
    expect(rest.at(-1)!.deltaToken).toBe(full.at(-1)!.deltaToken);
    expect(fx.server.requests[0]!.url).toContain('$skiptoken=');
    expect(fx.server.requests.map((r) => r.headers.prefer)).toEqual(
      Array(2).fill('odata.track-changes,odata.maxpagesize=2'),
    );
  });

  it('starts the read over when the service no longer honours a saved position', async () => {
    const full = await readAll(undefined);
    const position = JSON.parse(full[0]!.resumeAt!) as { link: string };
    const stale = JSON.stringify({
      ...position,
      link: position.link.replace(/skiptoken=[^:]+/, 'skiptoken=gone'),
    });
    const pages: SourceChangePage[] = [];
    for await (const page of fx.source.readChanges(account, undefined, stale)) pages.push(page);
    expect(pages.map((p) => p.changes.length)).toEqual([2, 2, 1]);
    expect(pages.flatMap((p) => p.changes)).toEqual(full.flatMap((p) => p.changes));
  });

  it('takes the owner type from the lookup annotation when the service sends it', async () => {
    fx.server.tables.upsert('accounts', {
      accountid: accountId(9),
      name: 'Team owned',
      _ownerid_value: ids.salesTeam,
      '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'team',
      _owninguser_value: null,
    });
    const pages = await readAll(undefined);
    const row = pages.flatMap((p) => p.changes).find((c) => c.id === accountId(9))!;
    expect(row.attributes).toMatchObject({ ownerid: ids.salesTeam, owneridtype: 'team' });
  });

  it.each([400, 410])(
    'restarts as a full read when the delta token has expired (HTTP %i)',
    async (status) => {
      const full = await readAll(undefined);
      fx.server.tables.remove('accounts', accountId(5));
      fx.server.failNext({ kind: 'expired-token', status });
      const again = await readAll(full.at(-1)!.deltaToken);
      expect(again.every((p) => p.full)).toBe(true);
      expect(again.flatMap((p) => p.changes).map((c) => c.id)).toEqual([1, 2, 3, 4].map(accountId));
      expect(again.at(-1)!.deltaToken).toBeDefined();
      const fullRequest = fx.server.requests
        .filter((r) => r.url.startsWith('/api/data/v9.2/accounts?$select='))
        .at(-1)!;
      expect(fullRequest.headers.prefer).toContain('odata.track-changes');
    },
  );

  it('does not restart on an authorization failure of the delta read', async () => {
    const full = await readAll(undefined);
    fx.server.failNext(
      { kind: 'error', status: 403, code: '0x80040220', message: 'Missing prvReadAccount.' },
      (r) => r.url.includes('deltatoken'),
    );
    await expect(readAll(full.at(-1)!.deltaToken)).rejects.toMatchObject({ code: 'PrivilegeDenied' });
  });

  it('waits the Retry-After of a 429 through the injected sleep, then goes on', async () => {
    fx.server.failNext({ kind: 'throttle', retryAfterSeconds: 7 }, (r) => r.url.includes('skiptoken'));
    const pages = await readAll(undefined);
    expect(pages.flatMap((p) => p.changes)).toHaveLength(5);
    expect(fx.sleeps).toEqual([7000]);
    const retried = fx.server.requests.filter((r) => r.url.includes('skiptoken'));
    expect(retried[0]!.url).toBe(retried[1]!.url);
  });

  it('retries transient 5xx with growing backoff', async () => {
    fx.server.failNext({ kind: 'server-error', status: 503 });
    fx.server.failNext({ kind: 'server-error', status: 502 });
    const pages = await readAll(undefined);
    expect(pages.flatMap((p) => p.changes)).toHaveLength(5);
    expect(fx.sleeps).toEqual([1000, 2000]);
  });

  it('gives up after the retries with Throttled and the Retry-After', async () => {
    for (let i = 0; i < 6; i++) fx.server.failNext({ kind: 'throttle', retryAfterSeconds: 3 });
    const error: unknown = await readAll(undefined).catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('Throttled');
    expect(isAppError(error) && error.retryAfterSeconds).toBe(3);
    expect(fx.sleeps).toEqual(Array(5).fill(3000));
  });

  it('never sends the token to a link outside the environment', async () => {
    const before = fx.server.requests.length;
    await expect(
      readAll('https://attacker.example/api/data/v9.2/accounts?$deltatoken=1'),
    ).rejects.toMatchObject({
      code: 'SourceUnavailable',
    });
    expect(fx.server.requests.length).toBe(before);
  });

  it('counts rows with RetrieveTotalRecordCount, or $count when it is not available', async () => {
    fx.server.totalRecordCounts.set('account', 1234);
    expect(await fx.source.countRows(account)).toBe(1234);
    fx.server.failNext({ kind: 'error', status: 404, message: 'Resource not found' }, (r) =>
      r.url.includes('RetrieveTotalRecordCount'),
    );
    expect(await fx.source.countRows(account)).toBe(5);
  });
});
