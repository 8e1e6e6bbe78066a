import { Agent } from 'node:https';
import { CosmosClient, Items, type OperationInput } from '@azure/cosmos';
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

  /** Every change from the start, as ids in order, read to the end. */
  const allChanges = async (): Promise<string[]> => {
    const out: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await ids(cursor);
      out.push(...page.ids);
      cursor = page.cursor;
      if (!page.more) return out;
    }
  };
  const isRowWrite = (operations: OperationInput[]): boolean =>
    operations.some((o) => o.operationType === 'Replace' || (o.operationType === 'Create' && !isMarker(o)));
  const isMarker = (o: OperationInput): boolean =>
    o.operationType === 'Create' && (o.resourceBody as { type?: string }).type === 'marker';

  describe('bulk writes', () => {
    afterEach(() => jest.restoreAllMocks());

    it('writes a chunk with bulk requests: one for the markers, one per 100 rows', async () => {
      const bulk = jest.spyOn(Items.prototype, 'bulk');
      await tenant().applyRecordWrites(Array.from({ length: 150 }, (_, i) => write(`b${i}`, '1')));
      const kinds = bulk.mock.calls.map(([operations]) =>
        operations.every(isMarker) ? 'claims' : isRowWrite(operations) ? 'writes' : 'reads',
      );
      expect(kinds.filter((k) => k === 'claims')).toHaveLength(2);
      expect(kinds.filter((k) => k === 'writes')).toHaveLength(2);
      expect((await allChanges()).sort()).toEqual(Array.from({ length: 150 }, (_, i) => `b${i}`).sort());
    });

    it('gives a row whose seq a reader voided before the bulk claim a new seq', async () => {
      const sequence = await tenant().sequence();
      // The next seq the writer will take is voided first, as a reader past the gap timeout would.
      const next = (await sequence.allocate(1)) + 1;
      await sequence.abandon(next - 1);
      await sequence.abandon(next);
      const results = await tenant().applyRecordWrites([write('v1', '1'), write('v2', '1')]);
      expect(results.map((r) => r.outcome)).toEqual(['applied', 'applied']);
      expect((await allChanges()).sort()).toEqual(['v1', 'v2']);
      expect(await tenant().getRecord('account', 'v1')).toMatchObject({ version: '1' });
    });

    it('re-reads and decides again a row another writer changed between the read and the bulk write', async () => {
      await tenant().applyRecordWrites([write('raced', '1', { by: 'first' })]);
      const start = await ids(undefined);
      const key = itemKey('account', 'raced');
      const records = client.database(`${options.databasePrefix}${org}`).container('records');
      const original = Items.prototype.bulk;
      let interfered = false;
      jest.spyOn(Items.prototype, 'bulk').mockImplementation(async function (
        this: Items,
        operations,
        bulkOptions,
      ) {
        if (!interfered && isRowWrite(operations)) {
          interfered = true;
          // Another writer's replace lands first: the etag read no longer matches.
          const { resource } = await records.item(key, key).read<Record<string, unknown>>();
          await records.item(key, key).replace({ ...resource, attributes: { by: 'other' } });
        }
        return original.call(this, operations, bulkOptions);
      });
      const [result] = await tenant().applyRecordWrites([write('raced', '2', { by: 'second' })]);
      expect(interfered).toBe(true);
      expect(result?.outcome).toBe('applied');
      expect(await tenant().getRecord('account', 'raced')).toMatchObject({
        version: '2',
        attributes: { by: 'second' },
      });
      // Seen once, at its new seq; the seq of the lost race was voided, so the reader is not held up.
      const after = await ids(start.cursor);
      expect(after).toMatchObject({ ids: ['raced'], more: false });
      expect(await tenant().headCursor()).toBe(after.cursor);
    });

    it.each([
      ['the claims', (operations: OperationInput[]) => operations.every(isMarker)],
      ['the row writes', isRowWrite],
    ])('writes each row on its own when the bulk request for %s fails', async (_what, matches) => {
      const original = Items.prototype.bulk;
      jest.spyOn(Items.prototype, 'bulk').mockImplementation(async function (
        this: Items,
        operations,
        bulkOptions,
      ) {
        if (matches(operations)) throw Object.assign(new Error('service unavailable'), { code: 503 });
        return original.call(this, operations, bulkOptions);
      });
      const results = await tenant().applyRecordWrites([
        write('u1', '1'),
        write('u2', '1'),
        write('u3', '1'),
      ]);
      expect(results.map((r) => r.outcome)).toEqual(['applied', 'applied', 'applied']);
      expect((await allChanges()).sort()).toEqual(['u1', 'u2', 'u3']);
      expect(await tenant().headCursor()).toBe((await ids(undefined)).cursor);
    });

    it('keeps a row write whose bulk request failed after it landed, without writing it twice', async () => {
      const original = Items.prototype.bulk;
      jest.spyOn(Items.prototype, 'bulk').mockImplementation(async function (
        this: Items,
        operations,
        bulkOptions,
      ) {
        const responses = await original.call(this, operations, bulkOptions);
        // The answer is lost on the way back: the writes happened, the writer does not know.
        if (isRowWrite(operations))
          throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
        return responses;
      });
      const results = await tenant().applyRecordWrites([write('w1', '1'), write('w2', '1')]);
      expect(results.map((r) => r.outcome)).toEqual(['applied', 'applied']);
      jest.restoreAllMocks();
      const changes = await allChanges();
      expect(changes.sort()).toEqual(['w1', 'w2']);
      // No seq was voided or taken again: the two rows of a new tenant used the chunk's seqs 1 and 2.
      expect(await tenant().headCursor()).toBe('cs1:2');
    });
  });
});
