import { Agent } from 'node:https';
import { CosmosClient } from '@azure/cosmos';
import { ManualClock } from '../../../../shared/clock';
import type { RecordWrite } from '../../../../shared/store/port';
import { createCosmosStore } from '../../../../shared/store/cosmos';
import type { CosmosStore, CosmosStoreOptions, CosmosTenantStore } from '../../../../shared/store/cosmos';
import { itemKey } from '../../../../shared/store/cosmos/layout';
import { cosmosTestOptions } from '../../../support/cosmos-test-options';

const GAP_TIMEOUT_MS = 60_000;

describe('Cosmos change sequence: gaps and crashed writers', () => {
  let options: CosmosStoreOptions;
  let store: CosmosStore;
  let clock: ManualClock;
  let client: CosmosClient;
  let org: string;
  let orgCount = 0;

  beforeAll(() => {
    clock = new ManualClock();
    options = cosmosTestOptions({ clock, gapTimeoutMs: GAP_TIMEOUT_MS });
    store = createCosmosStore(options);
    client = new CosmosClient({
      endpoint: options.endpoint,
      key: options.key ?? '',
      ...(options.allowInsecureTls === true ? { agent: new Agent({ rejectUnauthorized: false }) } : {}),
    });
  });

  beforeEach(async () => {
    org = `seq-test-${++orgCount}`;
    await store.createTenantDatabase(org);
  });

  afterEach(async () => {
    await store.dropTenantDatabase(org);
  });

  afterAll(async () => {
    await store.close();
    await client
      .database(options.controlDatabase)
      .delete()
      .catch(() => undefined);
    client.dispose();
  });

  const write = (id: string, version: string, attributes: Record<string, unknown> = {}): RecordWrite => ({
    entity: 'account',
    id,
    version,
    deleted: false,
    attributes,
  });
  const tenant = (): CosmosTenantStore => store.tenant(org) as CosmosTenantStore;
  const ids = async (
    cursor: string | undefined,
  ): Promise<{ ids: string[]; cursor: string; more: boolean }> => {
    const page = await tenant().readChanges(cursor, 100);
    return { ids: page.records.map((r) => r.id), cursor: page.cursor, more: page.more };
  };

  it('waits at a seq allocated by a writer that crashed before claiming it, then voids it after the timeout', async () => {
    const sequence = await tenant().sequence();
    const crashed = await sequence.allocate(1);
    await tenant().applyRecordWrites([write('after', '1')]);

    // The later change is committed but not passed: the reader stops at the gap and says nothing more.
    const first = await ids(undefined);
    expect(first).toEqual({ ids: [], cursor: `cs1:${crashed - 1}`, more: false });
    expect(await tenant().headCursor()).toBe(`cs1:${crashed - 1}`);
    clock.advance(GAP_TIMEOUT_MS - 1);
    expect((await ids(first.cursor)).ids).toEqual([]);

    clock.advance(1);
    const second = await ids(first.cursor);
    expect(second.ids).toEqual(['after']);
    // A writer that wakes up now finds its seq void and must take another one.
    expect(await sequence.claim(crashed, 'account', 'late')).toBe(false);
  });

  it('fences a row whose writer crashed after claiming, so the stalled write can never land unseen', async () => {
    await tenant().applyRecordWrites([write('x', '1', { n: 1 })]);
    const start = await ids(undefined);
    expect(start.ids).toEqual(['x']);

    // A writer read x (etag E), claimed a seq for it, and stalled before its IfMatch write.
    const key = itemKey('account', 'x');
    const records = client.database(`${options.databasePrefix}${org}`).container('records');
    const { resource: before } = await records.item(key, key).read<{ _etag: string }>();
    const sequence = await tenant().sequence();
    const stalled = await sequence.allocate(1);
    expect(await sequence.claim(stalled, 'account', 'x')).toBe(true);
    await tenant().applyRecordWrites([write('y', '1')]);

    expect((await ids(start.cursor)).ids).toEqual([]);
    clock.advance(GAP_TIMEOUT_MS);
    const after = await ids(start.cursor);
    expect(after.ids).toEqual(['y']);

    // The stalled writer's write now fails its precondition: it will re-read and take a new seq.
    await expect(
      records
        .item(key, key)
        .replace(
          { ...before, seq: stalled },
          { accessCondition: { type: 'IfMatch', condition: before!._etag } },
        ),
    ).rejects.toMatchObject({ code: 412 });
    expect(await tenant().getRecord('account', 'x')).toMatchObject({ version: '1', attributes: { n: 1 } });

    // Later writes of x go through the sequence as usual.
    await tenant().applyRecordWrites([write('x', '2', { n: 2 })]);
    expect((await ids(after.cursor)).ids).toEqual(['x']);
  });

  it('fences a row that did not exist with an invisible item that the next write replaces', async () => {
    const sequence = await tenant().sequence();
    const stalled = await sequence.allocate(1);
    expect(await sequence.claim(stalled, 'account', 'ghost')).toBe(true);
    await tenant().applyRecordWrites([write('real', '1')]);
    expect((await ids(undefined)).ids).toEqual([]);
    clock.advance(GAP_TIMEOUT_MS);
    const page = await ids(undefined);
    expect(page.ids).toEqual(['real']);

    expect(await tenant().getRecord('account', 'ghost')).toBeUndefined();
    expect(await tenant().getRecords('account', ['ghost', 'real'])).toHaveLength(1);
    expect(await tenant().countRecords('account')).toBe(1);
    expect(
      (await tenant().scanRecords('account', { limit: 10, includeDeleted: true })).map((r) => r.id),
    ).toEqual(['real']);

    const [created] = await tenant().applyRecordWrites([{ ...write('ghost', '1'), expectedVersion: null }]);
    expect(created?.outcome).toBe('applied');
    expect((await ids(page.cursor)).ids).toEqual(['ghost']);
  });

  it('ends with a replica equal to the stored rows when writers on separate clients race on the same rows', async () => {
    const other = createCosmosStore({ ...options, clock });
    try {
      const a = tenant();
      const b = other.tenant(org);
      const writes = (writer: number): RecordWrite[][] =>
        Array.from({ length: 10 }, (_, batch) =>
          Array.from({ length: 8 }, (_, i) =>
            write(`r${(batch + i) % 12}`, String(batch * 100 + i * 10 + writer), { writer }),
          ),
        );
      await Promise.all([
        (async () => {
          for (const batch of writes(1)) await a.applyRecordWrites(batch);
        })(),
        (async () => {
          for (const batch of writes(2)) await b.applyRecordWrites(batch);
        })(),
      ]);
      const replica = new Map<string, string>();
      let cursor: string | undefined;
      for (;;) {
        const page = await a.readChanges(cursor, 5);
        for (const r of page.records) replica.set(r.id, r.version);
        cursor = page.cursor;
        if (!page.more) break;
      }
      const stored = await a.scanRecords('account', { limit: 100 });
      expect(stored).toHaveLength(12);
      expect(Object.fromEntries(replica)).toEqual(Object.fromEntries(stored.map((r) => [r.id, r.version])));
      expect(await a.headCursor()).toBe(cursor);
    } finally {
      await other.close();
    }
  });

  it('applies a large batch with bounded parallel requests and reads it back in pages', async () => {
    const rows = Array.from({ length: 250 }, (_, i) =>
      write(`bulk${String(i).padStart(3, '0')}`, '1', { i }),
    );
    const results = await tenant().applyRecordWrites(rows);
    expect(results.every((r) => r.outcome === 'applied')).toBe(true);
    expect(await tenant().countRecords('account')).toBe(250);
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await tenant().readChanges(cursor, 200);
      for (const r of page.records) seen.add(r.id);
      cursor = page.cursor;
      if (!page.more) break;
    }
    expect(seen.size).toBe(250);
  });
});
