import { Agent } from 'node:https';
import { CosmosClient, Item, Items, type Container, type OperationInput } from '@azure/cosmos';
import { ManualClock } from '../../../../shared/clock';
import { newReadMeter } from '../../../../shared/store/port';
import type { ChangeScope, RecordWrite } from '../../../../shared/store/port';
import { createCosmosStore } from '../../../../shared/store/cosmos';
import type { CosmosStore, CosmosStoreOptions, CosmosTenantStore } from '../../../../shared/store/cosmos';
import { blockOf } from '../../../../shared/store/cosmos/change-sequence';
import type { MarkerChange } from '../../../../shared/store/cosmos/change-sequence';
import { itemKey } from '../../../../shared/store/cosmos/layout';
import { cosmosTestOptions } from '../../../support/cosmos-test-options';

const GAP_TIMEOUT_MS = 60_000;
const RETENTION_DAYS = 14;

describe('Cosmos change sequence: settling writers, reading readers, scopes and cursors', () => {
  let options: CosmosStoreOptions;
  let store: CosmosStore;
  let clock: ManualClock;
  let client: CosmosClient;
  let org: string;
  let orgCount = 0;

  beforeAll(() => {
    clock = new ManualClock();
    options = cosmosTestOptions({ clock, gapTimeoutMs: GAP_TIMEOUT_MS, changeRetentionDays: RETENTION_DAYS });
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

  /** The hour part of cursors taken now. */
  const hour = (): number => Math.floor(clock.now().getTime() / 3_600_000);
  const cursorAt = (seq: number): string => `cs2:${seq}:${hour()}`;
  const changesContainer = (): Container =>
    client.database(`${options.databasePrefix}${org}`).container('changes');
  const recordsContainer = (): Container =>
    client.database(`${options.databasePrefix}${org}`).container('records');
  const claimOf = (recordId: string): MarkerChange => ({ entity: 'account', recordId, keys: [] });

  it('holds the head at a seq a crashed writer allocated but never claimed, until a settle past the timeout voids it', async () => {
    const sequence = await tenant().sequence();
    const crashed = await sequence.allocate(1);
    await tenant().applyRecordWrites([write('after', '1')]);

    // The later change is committed but not settled: the head stays before the gap.
    const first = await ids(undefined);
    expect(first).toEqual({ ids: [], cursor: cursorAt(crashed - 1), more: false });
    expect(await tenant().headCursor()).toBe(cursorAt(crashed - 1));

    // Readers never close a gap, however long it has been open.
    clock.advance(GAP_TIMEOUT_MS);
    expect((await ids(first.cursor)).ids).toEqual([]);
    await expect(changesContainer().item(String(crashed), blockOf(crashed)).read()).resolves.toMatchObject({
      statusCode: 404,
    });

    // The first settle to wait started the timer when the write settled; this one is past it.
    await tenant().settleChanges();
    const second = await ids(first.cursor);
    expect(second.ids).toEqual(['after']);
    // A writer that wakes up now finds its seq void and must take another one.
    expect(await sequence.claim(crashed, claimOf('late'))).toBe(false);
  });

  it('measures a gap from the first settle that waited at it, not from the allocation', async () => {
    const sequence = await tenant().sequence();
    await sequence.allocate(1);
    clock.advance(10 * GAP_TIMEOUT_MS);
    // The first settle (this write's) starts the timer now: the gap is not yet timed out.
    await tenant().applyRecordWrites([write('after', '1')]);
    await tenant().settleChanges();
    expect((await ids(undefined)).ids).toEqual([]);
    clock.advance(GAP_TIMEOUT_MS - 1);
    await tenant().settleChanges();
    expect((await ids(undefined)).ids).toEqual([]);
    clock.advance(1);
    await tenant().settleChanges();
    expect((await ids(undefined)).ids).toEqual(['after']);
  });

  it('passes a claim once its write lands, without fencing it', async () => {
    await tenant().applyRecordWrites([write('x', '1', { n: 1 })]);
    const start = await ids(undefined);
    // A writer claimed a seq for x and its write is still on its way.
    const key = itemKey('account', 'x');
    const { resource: before } = await recordsContainer().item(key, key).read<Record<string, unknown>>();
    const sequence = await tenant().sequence();
    const slow = await sequence.allocate(1);
    expect(await sequence.claim(slow, claimOf('x'))).toBe(true);
    await tenant().applyRecordWrites([write('y', '1')]);
    expect((await ids(start.cursor)).ids).toEqual([]);

    // The write lands (as the writer's IfMatch replace would), and the next settle passes both.
    await recordsContainer()
      .item(key, key)
      .replace(
        { ...before, version: '2', attributes: { n: 2 }, seq: slow },
        { accessCondition: { type: 'IfMatch', condition: before!._etag } },
      );
    await tenant().settleChanges();
    expect((await ids(start.cursor)).ids).toEqual(['x', 'y']);
    expect(await tenant().getRecord('account', 'x')).toMatchObject({ version: '2', attributes: { n: 2 } });
  });

  it('fences a row whose writer crashed after claiming, so the stalled write can never land unseen', async () => {
    await tenant().applyRecordWrites([write('x', '1', { n: 1 })]);
    const start = await ids(undefined);
    expect(start.ids).toEqual(['x']);

    // A writer read x (etag E), claimed a seq for it, and stalled before its IfMatch write.
    const key = itemKey('account', 'x');
    const records = recordsContainer();
    const { resource: before } = await records.item(key, key).read<{ _etag: string }>();
    const sequence = await tenant().sequence();
    const stalled = await sequence.allocate(1);
    expect(await sequence.claim(stalled, claimOf('x'))).toBe(true);
    await tenant().applyRecordWrites([write('y', '1')]);

    expect((await ids(start.cursor)).ids).toEqual([]);
    clock.advance(GAP_TIMEOUT_MS);
    // Reading never fences: the head is where the writer's settle left it.
    expect((await ids(start.cursor)).ids).toEqual([]);
    await tenant().settleChanges();
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
    expect(await sequence.claim(stalled, claimOf('ghost'))).toBe(true);
    await tenant().applyRecordWrites([write('real', '1')]);
    expect((await ids(undefined)).ids).toEqual([]);
    clock.advance(GAP_TIMEOUT_MS);
    await tenant().settleChanges();
    const page = await ids(undefined);
    expect(page.ids).toEqual(['real']);

    expect(await tenant().getRecord('account', 'ghost')).toBeUndefined();
    expect(await tenant().getRecords('account', ['ghost', 'real'])).toHaveLength(1);
    expect(await tenant().countRecords('account')).toBe(1);
    expect(
      (await tenant().scanRecords('account', { limit: 10, includeDeleted: true })).map((r) => r.id),
    ).toEqual(['real']);
    const found = await tenant().findRecords('account', { kind: 'all' }, { limit: 10 });
    expect(found.records.map((r) => r.id)).toEqual(['real']);

    const [created] = await tenant().applyRecordWrites([{ ...write('ghost', '1'), expectedVersion: null }]);
    expect(created?.outcome).toBe('applied');
    expect((await ids(page.cursor)).ids).toEqual(['ghost']);
  });

  describe('reads', () => {
    afterEach(() => jest.restoreAllMocks());

    it('read the head with one point read and write nothing', async () => {
      await tenant().applyRecordWrites([write('a', '1'), write('b', '1')]);
      const writes = [
        jest.spyOn(Items.prototype, 'create'),
        jest.spyOn(Items.prototype, 'upsert'),
        jest.spyOn(Item.prototype, 'replace'),
        jest.spyOn(Item.prototype, 'patch'),
      ];
      const reads = jest.spyOn(Item.prototype, 'read');
      const queries = jest.spyOn(Items.prototype, 'query');
      expect(await tenant().headCursor()).toBe(cursorAt(2));
      expect(reads).toHaveBeenCalledTimes(1);
      expect(queries).not.toHaveBeenCalled();
      expect((await ids(undefined)).ids).toEqual(['a', 'b']);
      for (const spy of writes) expect(spy).not.toHaveBeenCalled();
    });

    it('ask for the claimed markers of their scopes up to the head, in seq order, in one query', async () => {
      await tenant().applyRecordWrites([write('a', '1')]);
      const queries = jest.spyOn(Items.prototype, 'query');
      await tenant().readChanges(undefined, 10, [{ entity: 'account', ownershipKeys: ['o:u1'] }]);
      const texts = queries.mock.calls.map(([spec]) => (typeof spec === 'string' ? spec : spec.query));
      expect(texts).toHaveLength(1);
      expect(texts[0]).toContain("c.state = 'claimed' AND c.seq > @after AND c.seq <= @upTo");
      expect(texts[0]).toContain('EXISTS(SELECT VALUE k FROM k IN c.keys WHERE ARRAY_CONTAINS(@keys0, k))');
      expect(texts[0]).toContain('ORDER BY c.state, c.seq');
    });
  });

  describe('scoped reads', () => {
    const owned = (
      entity: string,
      id: string,
      version: string,
      ownerid: string,
      owningbusinessunit = 'bu1',
    ): RecordWrite => ({ entity, id, version, deleted: false, attributes: { ownerid, owningbusinessunit } });
    const read = async (scopes: ChangeScope[] | undefined, cursor?: string): Promise<string[]> => {
      const out: string[] = [];
      let current = cursor;
      for (;;) {
        const page = await tenant().readChanges(current, 100, scopes);
        out.push(...page.records.map((r) => `${r.entity}/${r.id}`));
        current = page.cursor;
        if (!page.more) return out;
      }
    };

    it('give each marker the ownership keys of the row before and after its change, and a ttl', async () => {
      await tenant().applyRecordWrites([owned('account', 'a', '1', 'U1', 'BU1')]);
      await tenant().applyRecordWrites([owned('account', 'a', '2', 'u2', 'bu1')]);
      await tenant().applyRecordWrites([{ ...write('a', '3'), deleted: true }]);
      const { resources } = await changesContainer()
        .items.query<{ seq: number; keys: string[]; ttl: number; entity: string }>(
          "SELECT c.seq, c.keys, c.ttl, c.entity FROM c WHERE c.type = 'marker' ORDER BY c.seq",
        )
        .fetchAll();
      expect(resources.map((m) => m.keys)).toEqual([
        ['b:bu1', 'o:u1'],
        ['b:bu1', 'o:u1', 'o:u2'],
        ['b:bu1', 'o:u2'],
      ]);
      expect(resources.every((m) => m.ttl === RETENTION_DAYS * 24 * 3600 && m.entity === 'account')).toBe(
        true,
      );
    });

    it('return the changes of the scopes’ entities and owners only, including rows that left an owner', async () => {
      await tenant().applyRecordWrites([
        owned('account', 'a1', '1', 'u1'),
        owned('account', 'a2', '1', 'u2'),
        owned('account', 'a3', '1', 'u3', 'bu2'),
        owned('contact', 'c1', '1', 'u3', 'bu2'),
        owned('lead', 'l1', '1', 'u1'),
      ]);
      const head = await tenant().headCursor();
      // a2 moves from u2 to u1; a1 moves from u1 to u3.
      await tenant().applyRecordWrites([
        owned('account', 'a2', '2', 'u1'),
        owned('account', 'a1', '2', 'u3', 'bu2'),
      ]);

      expect(await read(undefined)).toEqual([
        'account/a3',
        'contact/c1',
        'lead/l1',
        'account/a2',
        'account/a1',
      ]);
      expect(await read([{ entity: 'account' }])).toEqual(['account/a3', 'account/a2', 'account/a1']);
      expect(await read([{ entity: 'account', ownershipKeys: ['o:U1'] }])).toEqual([
        'account/a2',
        'account/a1',
      ]);
      expect(await read([{ entity: 'account', ownershipKeys: ['o:u2'] }])).toEqual(['account/a2']);
      expect(await read([{ entity: 'account', ownershipKeys: ['b:bu2'] }])).toEqual([
        'account/a3',
        'account/a1',
      ]);
      expect(
        await read([
          { entity: 'account', ownershipKeys: ['o:u2'] },
          { entity: 'contact' },
          { entity: 'lead', ownershipKeys: ['o:nobody'] },
        ]),
      ).toEqual(['contact/c1', 'account/a2']);
      // From a cursor: only later changes, each row in its latest state.
      expect(await read([{ entity: 'account', ownershipKeys: ['o:u1'] }], head)).toEqual([
        'account/a2',
        'account/a1',
      ]);
      const [moved] = (await tenant().readChanges(head, 10, [{ entity: 'account', ownershipKeys: ['o:u1'] }]))
        .records;
      expect(moved).toMatchObject({ id: 'a2', version: '2' });
      // No scope, or a scope with no keys, asks for nothing; the cursor still moves to the head.
      const none = await tenant().readChanges(undefined, 10, []);
      expect(none).toEqual({ records: [], cursor: await tenant().headCursor(), more: false });
      expect(
        (await tenant().readChanges(undefined, 10, [{ entity: 'account', ownershipKeys: [] }])).records,
      ).toEqual([]);
    });

    it('page by rows, each row once per page', async () => {
      await tenant().applyRecordWrites([owned('account', 'a', '1', 'u1'), owned('account', 'b', '1', 'u1')]);
      await tenant().applyRecordWrites([owned('account', 'a', '2', 'u1')]);
      await tenant().applyRecordWrites([owned('account', 'a', '3', 'u1'), owned('account', 'c', '1', 'u1')]);
      const scopes = [{ entity: 'account', ownershipKeys: ['o:u1'] }];
      const first = await tenant().readChanges(undefined, 2, scopes);
      // Markers: a, b, a, a, c. Two rows fill the first page at the second marker; each row comes in
      // its current state.
      expect(first.records.map((r) => [r.id, r.version])).toEqual([
        ['a', '3'],
        ['b', '1'],
      ]);
      expect(first.more).toBe(true);
      // The second page reads a, a, c: a once, at its last marker.
      const second = await tenant().readChanges(first.cursor, 2, scopes);
      expect(second.records.map((r) => r.id)).toEqual(['a', 'c']);
      expect(second.more).toBe(false);
    });
  });

  describe('cursors', () => {
    it('expire with the change retention, and refuse earlier formats', async () => {
      clock.set('2026-03-01T00:00:00.000Z');
      await tenant().applyRecordWrites([write('a', '1')]);
      const head = await tenant().headCursor();
      await expect(tenant().readChanges('cs1:0', 10)).rejects.toMatchObject({ code: 'ChangeCursorExpired' });
      await expect(tenant().readChanges('cs2:zz', 10)).rejects.toMatchObject({ code: 'ValidationFailed' });

      // Valid until the retention minus two hours has passed (the cursor was taken on the hour).
      clock.advance((RETENTION_DAYS * 24 - 2) * 3_600_000 + 3_599_999);
      await expect(tenant().readChanges(head, 10)).resolves.toMatchObject({ records: [] });
      clock.advance(1);
      await expect(tenant().readChanges(head, 10)).rejects.toMatchObject({ code: 'ChangeCursorExpired' });
      // A fresh cursor reads on.
      await tenant().applyRecordWrites([write('b', '1')]);
      expect((await ids(await tenant().headCursor())).ids).toEqual([]);
    });

    it('change at most hourly while nothing changes, and keep their hour across full pages', async () => {
      await tenant().applyRecordWrites([write('a', '1'), write('b', '1'), write('c', '1')]);
      const head = await tenant().headCursor();
      clock.advance(30 * 60_000);
      expect((await tenant().readChanges(head, 10)).cursor).toBe(head);
      clock.advance(30 * 60_000);
      const later = await tenant().readChanges(head, 10);
      expect(later.cursor).toBe(cursorAt(3));
      expect(later.cursor).not.toBe(head);

      // A full page leaves markers its cursor must still vouch for: it keeps the hour it came with.
      await tenant().applyRecordWrites([write('d', '1'), write('e', '1')]);
      clock.advance(5 * 3_600_000);
      const full = await tenant().readChanges(later.cursor, 1);
      expect(full).toMatchObject({ more: true, cursor: `cs2:4:${later.cursor.split(':')[2]}` });
      const rest = await tenant().readChanges(full.cursor, 10);
      expect(rest).toMatchObject({ more: false, cursor: cursorAt(5) });
    });
  });

  describe('read meter', () => {
    it('counts the rows, documents and markers a metered view reads, and the request charge', async () => {
      await tenant().applyRecordWrites([
        write('a', '1', { n: 1 }),
        write('b', '1', { n: 2 }),
        write('c', '1'),
      ]);
      await tenant().putDoc('setting', 's1', { x: 1 });
      const meter = newReadMeter();
      const view = tenant().metered(meter);
      expect(view.org).toBe(org);

      await view.readChanges(undefined, 10);
      expect(meter).toMatchObject({ changes: 3, rows: 3, docs: 0 });
      expect(meter.requestCharge).toBeGreaterThan(0);

      const before = { ...meter };
      expect(await view.getDoc('setting', 's1')).toBeDefined();
      expect(await view.listDocs('setting')).toHaveLength(1);
      expect(meter.docs - before.docs).toBe(2);

      const rows = meter.rows;
      await view.getRecords('account', ['a', 'b', 'missing']);
      expect(meter.rows - rows).toBe(2);
      // A probe no key serves reads the entity: every row read counts, also those it filtered out.
      const scanned = meter.rows;
      const page = await view.findRecords(
        'account',
        { kind: 'number', attribute: 'odd name', values: [1] },
        { limit: 10 },
      );
      expect(page.records).toEqual([]);
      expect(meter.rows - scanned).toBe(3);
      const keyed = meter.rows;
      const found = await view.findRecords(
        'account',
        { kind: 'number', attribute: 'n', values: [1] },
        { limit: 10 },
      );
      expect(found.records.map((r) => r.id)).toEqual(['a']);
      expect(meter.rows - keyed).toBe(1);
      // An index count reads no row.
      const counted = meter.rows;
      expect(await view.countRecords('account', { kind: 'number', attribute: 'n', values: [1, 2] })).toBe(2);
      expect(meter.rows).toBe(counted);

      // The store itself, and other views, are not metered.
      const untouched = { ...meter };
      await tenant().readChanges(undefined, 10);
      await tenant().metered(newReadMeter()).readChanges(undefined, 10);
      expect(meter).toEqual(untouched);
    });
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

    it('gives a row whose seq a settler voided before the bulk claim a new seq', async () => {
      const sequence = await tenant().sequence();
      // The next seq the writer will take is voided first, as a settler past the gap timeout would.
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
      // Seen once, at its new seq; the seq of the lost race was voided, so settling is not held up.
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
      expect(await tenant().headCursor()).toBe(cursorAt(2));
    });
  });
});
