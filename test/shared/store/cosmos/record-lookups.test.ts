import { Agent } from 'node:https';
import { CosmosClient, Items, type Container, type SqlQuerySpec } from '@azure/cosmos';
import type { StoredRecord } from '../../../../shared/model/record';
import { createCosmosStore } from '../../../../shared/store/cosmos';
import type { CosmosStore, CosmosStoreOptions } from '../../../../shared/store/cosmos';
import { itemKey } from '../../../../shared/store/cosmos/layout';
import { recordKeysOf } from '../../../../shared/store/cosmos/record-item';
import type { RecordProbe, RecordWrite, TenantStore } from '../../../../shared/store/port';
import { MAX_TEXT_KEY_LENGTH, normalizeProbe, probeMatches } from '../../../../shared/store/record-keys';
import { cosmosTestOptions } from '../../../support/cosmos-test-options';

const LONG = 'L'.repeat(MAX_TEXT_KEY_LENGTH + 10);

describe('Cosmos record keys', () => {
  const row = (attributes: Record<string, unknown>, deleted = false): StoredRecord => ({
    entity: 'account',
    id: 'Row-1',
    version: '1',
    deleted,
    attributes,
    updatedAt: '2026-01-01T00:00:00.000Z',
  });

  it('keeps every key a top-level value has, lower-cased text no longer than the limit', () => {
    expect(
      recordKeysOf(
        row({
          Name: 'Contoso',
          code: '42',
          amount: 7.5,
          active: true,
          modifiedon: '2026-01-02T03:04:05',
          day: '2026-01-02',
          owner: null,
          nested: { a: 1 },
          long: LONG,
          'odd name': 'x',
        }),
      ),
    ).toEqual({
      id: 'row-1',
      t: {
        Name: 'contoso',
        code: '42',
        amount: '7.5',
        active: 'true',
        modifiedon: '2026-01-02t03:04:05',
        day: '2026-01-02',
      },
      n: { code: 42, amount: 7.5, active: 1 },
      d: { amount: 7.5, modifiedon: Date.parse('2026-01-02T03:04:05Z'), day: Date.parse('2026-01-02') },
    });
  });

  it('gives tombstones no keys', () => {
    expect(recordKeysOf(row({ name: 'x' }, true))).toBeUndefined();
  });
});

describe('Cosmos record look-ups', () => {
  let options: CosmosStoreOptions;
  let store: CosmosStore;
  let client: CosmosClient;
  let org: string;
  let orgCount = 0;

  beforeAll(() => {
    options = cosmosTestOptions();
    store = createCosmosStore(options);
    client = new CosmosClient({
      endpoint: options.endpoint,
      key: options.key ?? '',
      ...(options.allowInsecureTls === true ? { agent: new Agent({ rejectUnauthorized: false }) } : {}),
    });
  });

  beforeEach(async () => {
    org = `lookup-test-${++orgCount}`;
    await store.createTenantDatabase(org);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
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

  const tenant = (): TenantStore => store.tenant(org);
  const records = (): Container => client.database(`${options.databasePrefix}${org}`).container('records');
  const write = (id: string, attributes: Record<string, unknown>, version = '1'): RecordWrite => ({
    entity: 'account',
    id,
    version,
    deleted: false,
    attributes,
  });
  /** Every row a probe finds, page by page. */
  const findAll = async (probe: RecordProbe, limit = 1000): Promise<StoredRecord[]> => {
    const out: StoredRecord[] = [];
    let after: string | undefined;
    for (let guard = 0; guard < 1000; guard++) {
      const page = await tenant().findRecords('account', probe, {
        limit,
        ...(after === undefined ? {} : { after }),
      });
      expect(page.records.length).toBeLessThanOrEqual(limit);
      out.push(...page.records);
      if (page.next === undefined) return out;
      after = page.next;
    }
    throw new Error('the look-up never ended');
  };
  const queryTexts = (spy: jest.SpyInstance): string[] =>
    spy.mock.calls.map(([spec]) => (typeof spec === 'string' ? spec : (spec as SqlQuerySpec).query));

  it('stores the keys with each live row and none with a tombstone', async () => {
    await tenant().applyRecordWrites([
      write('A-1', { ownerid: 'U-1', n: '5' }),
      write('a-2', { ownerid: 'u-2' }),
    ]);
    await tenant().applyRecordWrites([{ ...write('a-2', {}, '2'), deleted: true }]);
    const read = async (id: string): Promise<Record<string, unknown> | undefined> => {
      const key = itemKey('account', id);
      return (await records().item(key, key).read<Record<string, unknown>>()).resource;
    };
    expect((await read('A-1'))?.k).toEqual({ id: 'a-1', t: { ownerid: 'u-1', n: '5' }, n: { n: 5 }, d: {} });
    expect((await read('a-2'))?.k).toBeUndefined();
  });

  it('compares stored keys, never LOWER(), and returns projections instead of whole items', async () => {
    await tenant().applyRecordWrites([write('a1', { ownerid: 'U1', modifiedon: '2026-01-05T00:00:00Z' })]);
    const query = jest.spyOn(Items.prototype, 'query');
    expect((await findAll({ kind: 'text', attribute: 'ownerid', values: ['u1'] })).map((r) => r.id)).toEqual([
      'a1',
    ]);
    expect((await findAll({ kind: 'text', attribute: null, values: ['A1'] })).map((r) => r.id)).toEqual([
      'a1',
    ]);
    expect(
      (
        await findAll({ kind: 'time', attribute: 'modifiedon', from: Date.parse('2026-01-01'), to: null })
      ).map((r) => r.id),
    ).toEqual(['a1']);
    expect(
      await tenant().countRecords('account', { kind: 'text', attribute: 'ownerid', values: ['U1'] }),
    ).toBe(1);
    const texts = queryTexts(query);
    expect(texts.some((q) => q.includes('ARRAY_CONTAINS(@values, c.k.t["ownerid"])'))).toBe(true);
    expect(texts.some((q) => q.includes('ARRAY_CONTAINS(@values, c.k.id)'))).toBe(true);
    expect(texts.some((q) => q.includes('c.k.d["modifiedon"] >= @from'))).toBe(true);
    expect(texts.some((q) => q.startsWith('SELECT VALUE COUNT(1) FROM c'))).toBe(true);
    for (const text of texts) {
      expect(text).not.toMatch(/LOWER\(/i);
      expect(text).not.toMatch(/SELECT \*/i);
      expect(text).not.toMatch(/c\.attributes\./);
    }
  });

  it('answers every probe exactly as probeMatches decides, through keys or by reading the entity', async () => {
    // A seeded mix of values of every kind, in several cases and spellings.
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const values: unknown[] = [
      'Alpha',
      'ALPHA',
      'beta',
      'Äb',
      'äb',
      '42',
      ' 7 ',
      42,
      7,
      3.5,
      0,
      true,
      false,
      null,
      '2026-01-01T00:00:00Z',
      '2026-01-01T00:00:00',
      '2026-01-02',
      '2026-01-03T12:00:00+02:00',
      LONG,
      LONG.toLowerCase(),
      { nested: 1 },
    ];
    const attributes = ['name', 'code', 'when', 'value', 'odd name'];
    const writes = Array.from({ length: 60 }, (_, i) =>
      write(
        `${i % 2 === 0 ? 'ROW' : 'row'}-${String(i).padStart(2, '0')}`,
        Object.fromEntries(
          attributes.flatMap((a) => (random(5) === 0 ? [] : [[a, values[random(values.length)]]])),
        ),
      ),
    );
    await tenant().applyRecordWrites(writes);
    await tenant().applyRecordWrites([{ ...write('ROW-00', {}, '2'), deleted: true }]);
    const stored = await tenant().scanRecords('account', { limit: 1000, includeDeleted: true });
    expect(stored).toHaveLength(60);

    const probes: RecordProbe[] = [{ kind: 'all' }];
    for (const attribute of [...attributes, null]) {
      probes.push(
        { kind: 'text', attribute, values: ['alpha'] },
        { kind: 'text', attribute, values: ['ÄB', 'beta', '42', 'true'] },
        { kind: 'text', attribute, values: [LONG, 'alpha'] },
        { kind: 'text', attribute, values: ['row-03', 'ROW-04', 'Row-00'] },
        { kind: 'text', attribute, values: [] },
      );
      if (attribute === null) continue;
      probes.push(
        { kind: 'number', attribute, values: [42, 7, 1] },
        { kind: 'number', attribute, values: [0, 3.5, Number.NaN] },
        { kind: 'time', attribute, from: null, to: null },
        {
          kind: 'time',
          attribute,
          from: Date.parse('2026-01-01T00:00:00Z'),
          to: Date.parse('2026-01-02T00:00:00Z'),
        },
        { kind: 'time', attribute, from: Date.parse('2026-01-02T00:00:00Z'), to: null },
        { kind: 'time', attribute, from: null, to: 10 },
        { kind: 'time', attribute, from: 5, to: 5 },
      );
    }
    const byId = (a: StoredRecord, b: StoredRecord): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    for (const probe of probes) {
      // Text probes ignore case (port.ts): probeMatches decides on the lower-cased values.
      const exact = normalizeProbe(probe);
      const expected = stored.filter((r) => probeMatches(exact, r)).sort(byId);
      const found = await findAll(probe, 7);
      expect({ probe, ids: found.map((r) => r.id).sort() }).toEqual({
        probe,
        ids: expected.map((r) => r.id),
      });
      for (const record of found) expect(record).toEqual(stored.find((r) => r.id === record.id));
      expect({ probe, count: await tenant().countRecords('account', probe) }).toEqual({
        probe,
        count: expected.length,
      });
    }
  });

  it('pages in the same order on every call, with positions bound to their look-up', async () => {
    await tenant().applyRecordWrites(
      Array.from({ length: 25 }, (_, i) => write(`r${String(i).padStart(2, '0')}`, { g: i % 2 })),
    );
    const probe: RecordProbe = { kind: 'number', attribute: 'g', values: [0] };
    const pages = async (): Promise<string[][]> => {
      const out: string[][] = [];
      let after: string | undefined;
      do {
        const page = await tenant().findRecords('account', probe, {
          limit: 4,
          ...(after === undefined ? {} : { after }),
        });
        out.push(page.records.map((r) => r.id));
        after = page.next;
      } while (after !== undefined);
      return out;
    };
    const first = await pages();
    expect(first.flat()).toHaveLength(13);
    expect(first.flat()).toEqual([...first.flat()].sort());
    expect(await pages()).toEqual(first);

    const { next } = await tenant().findRecords('account', probe, { limit: 4 });
    expect(next).toBeDefined();
    await expect(
      tenant().findRecords('account', probe, { limit: 4, after: 'garbage' }),
    ).rejects.toMatchObject({
      code: 'ValidationFailed',
    });
    await expect(
      tenant().findRecords(
        'account',
        { kind: 'number', attribute: 'g', values: [1] },
        { limit: 4, after: next! },
      ),
    ).rejects.toMatchObject({ code: 'ValidationFailed' });
    await expect(tenant().findRecords('contact', probe, { limit: 4, after: next! })).rejects.toMatchObject({
      code: 'ValidationFailed',
    });
    // The same probe with its values in another order or case is the same look-up.
    await expect(
      tenant().findRecords(
        'account',
        { kind: 'number', attribute: 'g', values: [0, 0] },
        { limit: 4, after: next! },
      ),
    ).resolves.toMatchObject({ records: expect.any(Array) as unknown });
  });

  it('splits a long list of values into queries and pages across them', async () => {
    await tenant().applyRecordWrites(
      Array.from({ length: 30 }, (_, i) => write(`id${i}`, { parentid: `P${i}` })),
    );
    const values = Array.from({ length: 1200 }, (_, i) => `p${i}`);
    const query = jest.spyOn(Items.prototype, 'query');
    const found = await findAll({ kind: 'text', attribute: 'parentid', values }, 8);
    expect(found.map((r) => r.id).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `id${i}`).sort());
    // Three chunks of values (500, 500, 200): the rows are all in the first.
    const chunks = new Set(
      query.mock.calls.map(([spec]) =>
        JSON.stringify((spec as SqlQuerySpec).parameters?.find((p) => p.name === '@values')),
      ),
    );
    expect(chunks.size).toBe(3);
    expect(await tenant().countRecords('account', { kind: 'text', attribute: 'parentid', values })).toBe(30);
  });

  it('does not fail on rows written before keys existed: only look-ups that read the entity find them', async () => {
    await tenant().applyRecordWrites([write('new', { ownerid: 'u1' })]);
    const key = itemKey('account', 'old');
    await records().items.create({
      id: key,
      pk: key,
      entity: 'account',
      recordId: 'old',
      version: '1',
      deleted: false,
      attributes: { ownerid: 'u1', 'odd name': 'x' },
      updatedAt: '2025-01-01T00:00:00.000Z',
      seq: 0,
    });
    expect((await findAll({ kind: 'all' })).map((r) => r.id)).toEqual(['new', 'old']);
    expect((await findAll({ kind: 'text', attribute: 'ownerid', values: ['u1'] })).map((r) => r.id)).toEqual([
      'new',
    ]);
    expect((await findAll({ kind: 'text', attribute: 'odd name', values: ['x'] })).map((r) => r.id)).toEqual([
      'old',
    ]);
    expect(await tenant().countRecords('account')).toBe(2);
    // Its next write gives it keys.
    await tenant().applyRecordWrites([write('old', { ownerid: 'u1' }, '2')]);
    expect((await findAll({ kind: 'text', attribute: 'ownerid', values: ['u1'] })).map((r) => r.id)).toEqual([
      'new',
      'old',
    ]);
  });

  it('needs nothing prepared: the indexing policy covers every key', async () => {
    await expect(tenant().prepareLookups([{ attribute: 'ownerid', kind: 'text' }])).resolves.toBeUndefined();
  });
});
