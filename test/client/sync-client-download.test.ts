import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PAGE_SIZE, SyncClientError, type LocalStore, type SyncClient } from '../../client';
import { createSqliteLocalStore, type SqliteLocalStore } from '../../client/sqlite';
import { readDownloadChanges } from '../../client/download-page';
import { toTablesResponse } from '../../shared/sync/download-tables';
import {
  MAX_DOWNLOAD_PAGE_SIZE,
  type DownloadChange,
  type DownloadResponse,
} from '../../shared/sync/sync-protocol';
import {
  downloadPage,
  fakeSyncServer,
  nameAttribute,
  testClient,
  testMetadata,
  upsert as upsertChange,
} from './client-fixtures';

const metadata = testMetadata(['account', 'contact'], [nameAttribute]);

const upsert = (entity: string, id: string, name: string, version = '1'): DownloadChange =>
  upsertChange(entity, id, { name }, version);

const page = (changes: unknown[], n: number, more: boolean): DownloadResponse =>
  downloadPage(changes, n, more);

/**
 * A server answering metadata and the given download pages in turn; records request bodies. With
 * `tables`, a page asked for in the tables format is answered in it (else as changes, as a server
 * without the format would); a page given as an already encoded object is sent as it is.
 */
function fakeServer(
  pages: (DownloadResponse | Record<string, unknown>)[],
  beforePage?: (n: number) => Promise<void>,
  tables = true,
) {
  return fakeSyncServer({
    metadata,
    async download(body, n) {
      await beforePage?.(n);
      const answer = pages[n - 1];
      if (!answer) throw new Error(`no page ${n}`);
      const asTables = tables && body.format === 'tables' && Array.isArray(answer.changes);
      return asTables ? toTablesResponse(answer as DownloadResponse) : answer;
    },
  });
}

describe.each([
  ['a server answering in the tables format the SDK asks for', true],
  ['a server answering in the changes format', false],
])('SDK download pages, from %s', (_server, tables) => {
  let dir: string;
  let store: SqliteLocalStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sdk-download-'));
    store = createSqliteLocalStore(join(dir, 'device.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const clientOver = (local: LocalStore, fetch: typeof globalThis.fetch): SyncClient =>
    testClient({ store: local, fetch });

  const pages = (): DownloadResponse[] => [
    page(
      [upsert('account', 'a1', 'one'), upsert('account', 'a2', 'two'), upsert('contact', 'c1', 'c')],
      1,
      true,
    ),
    page(
      [
        upsert('account', 'a1', 'one again', '2'),
        { entity: 'account', id: 'a2', op: 'remove', version: '1' },
        upsert('account', 'a3', 'three'),
        { entity: 'contact', id: 'c2', op: 'remove', version: '1' },
      ],
      2,
      false,
    ),
  ];

  async function rowsOf(local: SqliteLocalStore): Promise<Record<string, unknown>> {
    return local.transaction(async (tx) => {
      const out: Record<string, unknown> = {};
      for (const entity of ['account', 'contact'])
        for (const r of await tx.listRows(entity)) out[`${entity}/${r.id}`] = [r.version, r.row, r.pending];
      return { ...out, checkpoint: (await tx.readState()).checkpoint };
    });
  }

  it('asks for pages of DEFAULT_PAGE_SIZE by default and applies each page in order, with its checkpoint', async () => {
    const server = fakeServer(pages(), undefined, tables);
    const summary = await clientOver(store, server.fetch).sync();
    expect(server.downloads.map((d) => [d.pageSize, d.checkpoint, d.format])).toEqual([
      [DEFAULT_PAGE_SIZE, undefined, 'tables'],
      [DEFAULT_PAGE_SIZE, 'cp-1', 'tables'],
    ]);
    expect(DEFAULT_PAGE_SIZE).toBeLessThanOrEqual(MAX_DOWNLOAD_PAGE_SIZE);
    expect(summary).toMatchObject({ downloaded: 5, removed: 2, pages: 2 });
    expect(await rowsOf(store)).toEqual({
      'account/a1': ['2', { accountid: 'a1', name: 'one again' }, false],
      'account/a3': ['1', { accountid: 'a3', name: 'three' }, false],
      'contact/c1': ['1', { contactid: 'c1', name: 'c' }, false],
      checkpoint: 'cp-2',
    });
  });

  it('writes the same rows through putRow and deleteRow when the store has no batch path', async () => {
    const other = createSqliteLocalStore(join(dir, 'plain.db'));
    const withoutBatch: LocalStore = {
      transaction: (work) => other.transaction((tx) => work({ ...tx, applyServerChanges: undefined })),
      close: () => other.close(),
    };
    try {
      await clientOver(store, fakeServer(pages(), undefined, tables).fetch).sync();
      const summary = await clientOver(withoutBatch, fakeServer(pages(), undefined, tables).fetch).sync();
      expect(summary).toMatchObject({ downloaded: 5, removed: 2, pages: 2 });
      expect(await rowsOf(other)).toEqual(await rowsOf(store));
    } finally {
      await other.close();
    }
  });

  it('rebases a row edited during the download under its pending change, and writes the rest', async () => {
    const edits: { client?: SyncClient } = {};
    // The app edits a1 between the two pages (users keep working during a sync).
    const server = fakeServer(
      pages(),
      async (n) => {
        if (n === 2) await edits.client!.update('account', 'a1', { name: 'mine' });
      },
      tables,
    );
    const client = clientOver(store, server.fetch);
    edits.client = client;
    await client.sync();
    const a1 = await store.transaction((tx) => tx.getRow('account', 'a1'));
    expect(a1).toMatchObject({
      version: '2',
      row: { accountid: 'a1', name: 'mine' },
      serverRow: { accountid: 'a1', name: 'one again' },
      pending: true,
    });
    expect(await client.get('account', 'a3')).toEqual({ accountid: 'a3', name: 'three' });
    expect(await client.get('account', 'a2')).toBeUndefined();
  });

  it('refuses a page with a malformed change and keeps the previous checkpoint', async () => {
    const bad: (DownloadResponse | Record<string, unknown>)[] = pages();
    if (tables) {
      // A table whose column has a value too few: its rows cannot be told apart.
      const encoded = toTablesResponse(page([upsert('account', 'a4', 'four')], 2, false));
      encoded.tables[0]!.values[1] = [];
      bad[1] = encoded;
    } else {
      bad[1] = page([upsert('account', 'a4', 'four'), { entity: 'account', id: 7, op: 'upsert' }], 2, false);
    }
    const sync = clientOver(store, fakeServer(bad, undefined, tables).fetch).sync();
    await expect(sync).rejects.toMatchObject({ code: 'BadResponse' });
    await expect(sync).rejects.toThrow(
      tables ? /tables\[0\] \(account\): column 'name' has 0 values for 1 rows/ : /changes\[1\]/,
    );
    const rows = await rowsOf(store);
    expect(rows.checkpoint).toBe('cp-1');
    expect(rows['account/a4']).toBeUndefined();
  });
});

describe('readDownloadChanges', () => {
  it('keeps only the protocol fields, rows as parsed', () => {
    const row = { name: 'x', nested: { a: [1, 2] } };
    const [change, removal] = readDownloadChanges([
      { entity: 'account', id: 'a1', op: 'upsert', version: '3', row, extra: true },
      { entity: 'account', id: 'a2', op: 'remove', version: '4' },
    ]);
    expect(change).toEqual({ entity: 'account', id: 'a1', op: 'upsert', version: '3', row });
    expect(change?.row).toBe(row);
    expect(removal).toEqual({ entity: 'account', id: 'a2', op: 'remove', version: '4' });
  });

  it.each([
    ['an entity that is not a logical name', { entity: 'Account', id: 'a', op: 'upsert', version: '1' }],
    ['an unknown op', { entity: 'account', id: 'a', op: 'patch', version: '1' }],
    ['a missing version', { entity: 'account', id: 'a', op: 'remove' }],
    ['a row that is not an object', { entity: 'account', id: 'a', op: 'upsert', version: '1', row: [1] }],
    ['a change that is not an object', 'account/a'],
  ])('refuses %s with BadResponse', (_what, change) => {
    expect(() => readDownloadChanges([change])).toThrow(SyncClientError);
    expect(() => readDownloadChanges([change])).toThrow(/changes\[0\]/);
  });
});
