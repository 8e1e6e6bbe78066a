import {
  DownloadTablesError,
  fromTablesResponse,
  toTablesResponse,
} from '../../../shared/sync/download-tables';
import {
  downloadTablesResponseSchema,
  type DownloadChange,
  type DownloadResponse,
} from '../../../shared/sync/sync-protocol';

function pageOf(changes: DownloadChange[]): DownloadResponse {
  return {
    changes,
    checkpoint: 'cp',
    more: true,
    progress: { done: 3, total: 10, percent: 30 },
    warnings: [{ code: 'SoftRowLimitExceeded', message: 'over' }],
    nextSyncSeconds: 900,
  };
}

const upsert = (entity: string, id: string, row: Record<string, unknown>, version = '1'): DownloadChange => ({
  entity,
  id,
  op: 'upsert',
  version,
  row,
});
const remove = (entity: string, id: string, version = '1'): DownloadChange => ({
  entity,
  id,
  op: 'remove',
  version,
});

/** The changes in the order a tables page lists them: removals, then upserts by entity and attributes. */
function inTablesOrder(changes: DownloadChange[]): DownloadChange[] {
  const groups = new Map<string, DownloadChange[]>();
  for (const c of changes) {
    if (c.op !== 'upsert') continue;
    const key = `${c.entity}|${Object.keys(c.row ?? {}).join(',')}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...changes.filter((c) => c.op === 'remove'), ...[...groups.values()].flat()];
}

describe('the tables download format', () => {
  it('groups upserts by entity and column, keeps their order, and lists removals apart', () => {
    const changes = [
      upsert('account', 'a1', { accountid: 'a1', name: 'One', revenue: 10 }, '3'),
      upsert('contact', 'c1', { contactid: 'c1', fullname: 'Ann' }),
      remove('account', 'a9', '7'),
      upsert('account', 'a2', { accountid: 'a2', name: 'Two', revenue: null }, '4'),
    ];
    const encoded = toTablesResponse(pageOf(changes));
    expect(encoded).toEqual({
      format: 'tables',
      checkpoint: 'cp',
      more: true,
      progress: { done: 3, total: 10, percent: 30 },
      warnings: [{ code: 'SoftRowLimitExceeded', message: 'over' }],
      nextSyncSeconds: 900,
      removals: [{ entity: 'account', id: 'a9', version: '7' }],
      tables: [
        {
          entity: 'account',
          columns: ['accountid', 'name', 'revenue'],
          ids: ['a1', 'a2'],
          versions: ['3', '4'],
          values: [
            ['a1', 'a2'],
            ['One', 'Two'],
            [10, null],
          ],
        },
        {
          entity: 'contact',
          columns: ['contactid', 'fullname'],
          ids: ['c1'],
          versions: ['1'],
          values: [['c1'], ['Ann']],
        },
      ],
    });
    expect(downloadTablesResponseSchema.parse(encoded)).toEqual(encoded);
    expect(fromTablesResponse(encoded)).toEqual(inTablesOrder(changes));
  });

  it('puts rows that carry other attributes in another table of the entity, adding nothing', () => {
    const changes = [
      upsert('lead', 'l1', { subject: 'first', phone: '555' }),
      upsert('lead', 'l2', { subject: 'second' }),
      upsert('lead', 'l3', { subject: 'third', phone: null }),
      upsert('lead', 'l4', { phone: '556', subject: 'fourth' }),
      upsert('lead', 'l5', { subject: 'fifth' }),
    ];
    const encoded = toTablesResponse(pageOf(changes));
    expect(encoded.tables).toEqual([
      {
        entity: 'lead',
        columns: ['subject', 'phone'],
        ids: ['l1', 'l3'],
        versions: ['1', '1'],
        values: [
          ['first', 'third'],
          ['555', null],
        ],
      },
      {
        entity: 'lead',
        columns: ['subject'],
        ids: ['l2', 'l5'],
        versions: ['1', '1'],
        values: [['second', 'fifth']],
      },
      {
        entity: 'lead',
        columns: ['phone', 'subject'],
        ids: ['l4'],
        versions: ['1'],
        values: [['556'], ['fourth']],
      },
    ]);
    const decoded = fromTablesResponse(encoded);
    expect(decoded).toEqual(inTablesOrder(changes));
    // l2 has no phone at all, and l3's phone is null: the difference survives.
    expect(decoded.find((c) => c.id === 'l2')?.row).toEqual({ subject: 'second' });
    expect(decoded.find((c) => c.id === 'l3')?.row).toEqual({ subject: 'third', phone: null });
  });

  it('tables a row by its own keys only, and a row with more keys than the last table apart', () => {
    const inherited = Object.create({ extra: 'not the row' }) as Record<string, unknown>;
    inherited.subject = 'inherits';
    const changes = [
      upsert('lead', 'l1', { subject: 'first' }),
      upsert('lead', 'l2', inherited),
      upsert('lead', 'l3', { subject: 'third', phone: '557' }),
      upsert('lead', 'l4', { subject: 'fourth' }),
    ];
    const encoded = toTablesResponse(pageOf(changes));
    expect(encoded.tables.map((t) => [t.columns, t.ids])).toEqual([
      [['subject'], ['l1', 'l2', 'l4']],
      [['subject', 'phone'], ['l3']],
    ]);
    expect(encoded.tables[0]!.values).toEqual([['first', 'inherits', 'fourth']]);
  });

  it('gives back a column named __proto__ as an attribute, as JSON.parse does', () => {
    const row = JSON.parse('{"__proto__":{"polluted":true},"name":"x"}') as Record<string, unknown>;
    const [decoded] = fromTablesResponse(
      JSON.parse(JSON.stringify(toTablesResponse(pageOf([upsert('account', 'a1', row)])))) as Parameters<
        typeof fromTablesResponse
      >[0],
    );
    expect(Object.getPrototypeOf(decoded!.row)).toBe(Object.prototype);
    expect(Object.keys(decoded!.row!)).toEqual(['__proto__', 'name']);
    expect(decoded!.row).toEqual(row);
    expect((decoded!.row as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('encodes an empty page and a page of removals only', () => {
    expect(toTablesResponse(pageOf([]))).toMatchObject({ tables: [], removals: [] });
    const removals = [remove('task', 't1'), remove('account', 'a1', '2')];
    const encoded = toTablesResponse(pageOf(removals));
    expect(encoded.tables).toEqual([]);
    expect(fromTablesResponse(encoded)).toEqual(removals);
  });

  it('round-trips generated pages of many entities, shapes and values', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const values = [null, 0, -1.5, 'text', '', true, false, { k: 'v' }, [1, 'two']];
    for (let round = 0; round < 50; round++) {
      const changes: DownloadChange[] = [];
      const count = random(40);
      for (let i = 0; i < count; i++) {
        const entity = ['account', 'contact', 'task'][random(3)]!;
        if (random(4) === 0) {
          changes.push(remove(entity, `${entity}-${round}-${i}`, String(random(9))));
          continue;
        }
        const row: Record<string, unknown> = {};
        for (const name of ['a', 'b', 'c', 'd', 'e'])
          if (random(3) > 0) row[name] = values[random(values.length)];
        changes.push(upsert(entity, `${entity}-${round}-${i}`, row, String(random(9))));
      }
      const encoded = toTablesResponse(pageOf(changes));
      // What goes on the wire is JSON: decode what JSON gives back.
      const wire = downloadTablesResponseSchema.parse(JSON.parse(JSON.stringify(encoded)));
      expect(fromTablesResponse(wire)).toEqual(inTablesOrder(changes));
    }
  });

  it.each([
    [
      'versions that do not match the ids',
      { versions: ['1'] },
      /tables\[0\] \(account\): 1 versions for 2 ids/,
    ],
    [
      'more value columns than column names',
      {
        values: [
          ['x', 'y'],
          ['p', 'q'],
          ['extra', 'extra'],
        ],
      },
      /tables\[0\] \(account\): 3 value columns for 2 column names/,
    ],
    [
      'a column with a value missing',
      { values: [['x', 'y'], ['p']] },
      /tables\[0\] \(account\): column 'name' has 1 values for 2 rows/,
    ],
  ])('refuses a table with %s', (_what, broken, message) => {
    const table = {
      entity: 'account',
      columns: ['accountid', 'name'],
      ids: ['a1', 'a2'],
      versions: ['1', '2'],
      values: [
        ['a1', 'a2'],
        ['One', 'Two'],
      ],
      ...broken,
    };
    expect(() => fromTablesResponse({ removals: [], tables: [table] })).toThrow(DownloadTablesError);
    expect(() => fromTablesResponse({ removals: [], tables: [table] })).toThrow(message);
  });
});
