import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncClientError, type SyncClient, type Table } from '../../client';
import { evaluateQuery, rowQuerySchema, type RowQuery } from '../../client/query';
import { createSqliteLocalStore, type SqliteLocalStore } from '../../client/sqlite';
import type { DownloadResponse } from '../../shared/sync/sync-protocol';
import { downloadPage, emptyPage, fakeSyncServer, testClient, testMetadata, upsert } from './client-fixtures';

const metadata = testMetadata();

describe('evaluateQuery (the meaning of a query)', () => {
  const rows = [
    { id: 'a1', row: { name: 'b', n: 2, flag: true } },
    { id: 'a2', row: { name: 'a', n: '3', flag: false } },
    { id: 'a3', row: { name: 'c' } },
    { id: 'a4', row: null },
    { id: 'a5', row: { name: 'a', n: 1, flag: null } },
  ];
  const ids = (query: Omit<RowQuery, 'entity'>): unknown[] =>
    evaluateQuery(rows, rowQuerySchema.parse({ entity: 'account', ...query })).map(
      (r) => String(r.name) + String(r.n),
    );
  it.each<[string, Omit<RowQuery, 'entity'>, unknown[]]>([
    ['no condition: every row the app sees, by id', {}, ['b2', 'a3', 'cundefined', 'a1']],
    ['a value means eq, of its own type only', { where: { n: 3 } }, []],
    ['eq on a string', { where: { n: '3' } }, ['a3']],
    ['gt compares numbers with numbers only', { where: { n: { gt: 1 } } }, ['b2']],
    ['eq null matches null and absent', { where: { flag: null } }, ['cundefined', 'a1']],
    [
      'ne matches what eq does not, absent included',
      { where: { flag: { ne: true } } },
      ['a3', 'cundefined', 'a1'],
    ],
    ['in', { where: { name: { in: ['a', 'c'] } } }, ['a3', 'cundefined', 'a1']],
    [
      'order: absent first, numbers, then strings; ties by id',
      { orderBy: [{ column: 'n' }] },
      ['cundefined', 'a1', 'b2', 'a3'],
    ],
    [
      'order desc, limit, offset',
      { orderBy: [{ column: 'name', direction: 'desc' }], limit: 2, offset: 1 },
      ['b2', 'a3'],
    ],
  ])('%s', (_name, query, expected) => {
    expect(ids(query)).toEqual(expected);
  });

  it('refuses a column name that is not one (it would become SQL)', () => {
    expect(rowQuerySchema.safeParse({ entity: 'account', where: { "name') OR 1=1 --": 'x' } }).success).toBe(
      false,
    );
    expect(rowQuerySchema.safeParse({ entity: 'account', orderBy: [{ column: 'a.b' }] }).success).toBe(false);
  });
});

describe('the SQLite store answers queries in SQL as evaluateQuery does', () => {
  let dir: string;
  let store: SqliteLocalStore;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdk-query-'));
    store = createSqliteLocalStore(join(dir, 'q.db'), { indexes: { account: ['name', 'n'] } });
    await store.transaction((tx) => tx.saveMetadata(metadata));
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const value = fc.oneof(
    fc.constantFrom('a', 'b', 'B', 'é', ''),
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom(0.5, 2.5),
    fc.boolean(),
    fc.constant(null),
  );
  const columns = ['name', 'n', 'flag'] as const;
  const row = fc.record({ name: value, n: value, flag: value }, { requiredKeys: [] });
  const condition = fc.oneof(
    value,
    fc.record(
      {
        eq: value,
        ne: value,
        gt: value.filter((v) => v !== null),
        lte: value.filter((v) => v !== null),
        in: fc.array(value, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
  );
  const query = fc.record(
    {
      where: fc.dictionary(fc.constantFrom(...columns), condition, { maxKeys: 2 }),
      orderBy: fc.array(
        fc.record({
          column: fc.constantFrom(...columns),
          direction: fc.constantFrom('asc' as const, 'desc' as const),
        }),
        { maxLength: 2 },
      ),
      limit: fc.integer({ min: 0, max: 6 }),
      offset: fc.integer({ min: 0, max: 3 }),
    },
    { requiredKeys: [] },
  );

  it('for any rows and any query', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 12 }), query, async (data, q) => {
        await store.transaction(async (tx) => {
          for (const r of await tx.listRows('account')) await tx.deleteRow('account', r.id);
          for (const [i, r] of data.entries())
            await tx.putRow({
              entity: 'account',
              id: `r${i % 10}${i}`,
              row: r,
              version: '1',
              pending: false,
            });
        });
        const checked = rowQuerySchema.parse({ entity: 'account', ...q });
        const [fromSql, expected] = await store.transaction(async (tx) => [
          await tx.queryRows!(checked),
          evaluateQuery(await tx.listRows('account'), checked),
        ]);
        expect(fromSql).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('uses the expression index of an indexed column', () => {
    const plan = store.database
      .prepare(
        "EXPLAIN QUERY PLAN SELECT data FROM rows_account WHERE json_type(data, '$.name') = 'text' AND json_extract(data, '$.name') = ?",
      )
      .all('a') as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX rows_account_by_name/);
  });
});

interface Account {
  accountid: string;
  name?: string | null;
  revenue?: number | null;
}
interface Schema {
  account: Account;
  contact: { contactid: string; fullname?: string | null };
}

describe('table() and watch() on a client', () => {
  let pages: DownloadResponse[];
  let client: SyncClient<Schema>;
  beforeEach(() => {
    pages = [];
    const { fetch } = fakeSyncServer({ metadata, download: () => pages.shift() ?? emptyPage });
    client = testClient<Schema>({ fetch });
  });
  const page = (n: number, more: boolean, names: [string, string][]): DownloadResponse =>
    downloadPage(
      names.map(([id, name]) => upsert('account', id, { name, revenue: id.length })),
      n,
      more,
    );

  /** Resolves once the watcher has been called `n` times in all. */
  function recorder<T>() {
    const calls: T[] = [];
    const waiting: { n: number; resolve: () => void }[] = [];
    return {
      calls,
      callback: (value: T) => {
        calls.push(value);
        for (const w of waiting.filter((w) => calls.length >= w.n)) w.resolve();
      },
      until: (n: number) =>
        new Promise<void>((resolve) => (calls.length >= n ? resolve() : waiting.push({ n, resolve }))),
    };
  }

  it('filters, sorts and limits the local rows', async () => {
    pages = [
      page(1, false, [
        ['a1', 'Contoso'],
        ['a2', 'Fabrikam'],
        ['a3', 'Adatum'],
        ['a4', 'Northwind'],
      ]),
    ];
    await client.sync();
    const names = async (t: Table<Account>) => (await t.get()).map((r) => r.name);
    const accounts = client.table('account');
    expect(await names(accounts.orderBy('name'))).toEqual(['Adatum', 'Contoso', 'Fabrikam', 'Northwind']);
    expect(
      await names(
        accounts
          .where({ name: { gte: 'D' } })
          .orderBy('name', 'desc')
          .limit(2),
      ),
    ).toEqual(['Northwind', 'Fabrikam']);
    expect((await accounts.where({ name: 'Adatum' }).first())?.accountid).toBe('a3');
    await expect(accounts.where({ ['bad name' as 'name']: 'x' }).get()).rejects.toBeInstanceOf(
      SyncClientError,
    );
  });

  it('a live query fires at once, after each applied download page and after local writes, only when its rows change', async () => {
    await client.sync();
    const seen = recorder<string[]>();
    const stop = client.watch(
      client.table('account').orderBy('name'),
      (rows) => seen.callback(rows.map((r) => String(r.name))),
      (error) => {
        throw error;
      },
    );
    await seen.until(1);
    expect(seen.calls).toEqual([[]]);

    pages = [page(1, true, [['a1', 'Contoso']]), page(2, false, [['a2', 'Adatum']])];
    await client.sync();
    await seen.until(3);
    expect(seen.calls.slice(1)).toEqual([['Contoso'], ['Adatum', 'Contoso']]);

    await client.update('account', 'a1', { name: 'Zeta' });
    await seen.until(4);
    expect(seen.calls[3]).toEqual(['Adatum', 'Zeta']);

    // A write to another entity, or one that leaves the rows as they were, calls nobody.
    await client.create('contact', { fullname: 'Someone' });
    await client.update('account', 'a1', { name: 'Zeta' });
    await client.delete('account', 'a2');
    await seen.until(5);
    expect(seen.calls).toHaveLength(5);
    expect(seen.calls[4]).toEqual(['Zeta']);

    stop();
    await client.create('account', { name: 'After stop' });
    await client.table('account').get();
    expect(seen.calls).toHaveLength(5);
  });

  it('onChange names the entities a page or a write changed', async () => {
    const changed: string[][] = [];
    client.onChange((entities) => changed.push([...entities]));
    pages = [page(1, false, [['a1', 'Contoso']])];
    await client.sync();
    await client.create('contact', { fullname: 'Someone' });
    expect(changed).toEqual([['account'], ['contact']]);
  });
});
