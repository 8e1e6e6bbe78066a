import {
  BUCKET_TARGET_ROWS,
  bucketCountFor,
  DeviceStateStore,
  HELD_CACHE_ROWS,
  HeldDocCache,
  heldDocCacheOf,
  HeldSet,
  newDeviceState,
  type HeldDelta,
  type HeldState,
  type HeldValue,
  type PlanEntry,
} from '../../../shared/sync/device-state';
import { newReadMeter } from '../../../shared/store/port';
import { openTestStore, type TestStore } from './download/download-test-tenant';

const KEY = 'device-under-test';
const ENTITIES = ['account', 'contact'];

/** What the held set must answer: the changes applied in order. */
class Oracle {
  readonly rows = new Map<string, HeldValue>();
  apply(delta: readonly HeldDelta[]): void {
    for (const [entity, id, value] of delta) {
      if (value === null) this.rows.delete(`${entity}/${id}`);
      else this.rows.set(`${entity}/${id}`, value);
    }
  }
}

const rows = (from: number, to: number, version: string): HeldDelta[] =>
  Array.from({ length: to - from }, (_, i) => {
    const n = from + i;
    return [ENTITIES[n % 2]!, `row-${n}`, [version, `owner-${n % 7}`]] as HeldDelta;
  });

/**
 * Compaction folds a device's segments into its buckets, splitting every bucket into its share of a
 * larger count when the set outgrows its buckets, one bucket at a time. Here against the real SQLite
 * store: after each fold the held set reads back exactly what the segments said, the counts are
 * exact, no bucket is much larger than the target, and the documents of earlier generations are gone
 * once the state is committed.
 */
describe('held set compaction', () => {
  let t: TestStore;
  let seq = 0;

  beforeAll(async () => {
    t = await openTestStore('sqlite');
  });
  afterAll(async () => {
    await t.close();
  });

  /** Writes `pages` as segments of the device's held set, folds them and commits; returns the new held state. */
  async function foldPages(held: HeldState, pages: HeldDelta[][]): Promise<HeldState> {
    const states = new DeviceStateStore(t.tenant);
    const loaded = await states.load(KEY);
    const tx = states.begin(loaded);
    const state = loaded.state === undefined ? newDeviceState('user') : structuredClone(loaded.state);
    const next: HeldState = structuredClone(held);
    for (const page of pages) {
      seq += 1;
      const id = await tx.writeSegment(seq, page, []);
      next.segments.push({ id, count: page.length });
    }
    state.held = await tx.compact(next);
    await tx.commit(state);
    return state.held;
  }

  async function expectHeld(held: HeldState, oracle: Oracle): Promise<void> {
    const set = new HeldSet(t.tenant, KEY, held);
    const actual = new Map<string, HeldValue>();
    for (const entity of ENTITIES) {
      for (const [id, value] of await set.entriesOf(entity)) actual.set(`${entity}/${id}`, value);
    }
    expect(actual.size).toBe(oracle.rows.size);
    expect(actual).toEqual(oracle.rows);
    expect(held.size).toBe(oracle.rows.size);
    expect(held.counts.reduce((a, b) => a + b, 0)).toBe(oracle.rows.size);
    expect(held.segments).toEqual([]);
    expect(held.buckets).toBe(Math.max(1, bucketCountFor(oracle.rows.size)));
    for (const count of held.counts) expect(count).toBeLessThanOrEqual(BUCKET_TARGET_ROWS * 1.2);
    // Only the current generation's buckets (and the state) are left.
    const docs = await t.tenant.listDocEtags('syncHeld', { prefix: `${KEY}|` });
    expect(docs).toHaveLength(held.generations.filter((g) => g !== null).length);
  }

  it('grows from one bucket to four, then eight, splitting each bucket on its own', async () => {
    const oracle = new Oracle();
    let held = newDeviceState('user').held;
    const first = [rows(0, 9000, '1'), rows(9000, 18_000, '1'), rows(18_000, 25_000, '1')];
    for (const page of first) oracle.apply(page);
    held = await foldPages(held, first);
    expect(held.buckets).toBe(4);
    await expectHeld(held, oracle);

    // Updates of old rows, removals, and 20,000 new rows: 45,000 - 1,000 removed = 44,000 → 8 buckets.
    const removals: HeldDelta[] = rows(0, 1000, '1').map(([entity, id]) => [entity, id, null]);
    const second = [rows(5000, 8000, '2'), removals, rows(25_000, 45_000, '1')];
    for (const page of second) oracle.apply(page);
    held = await foldPages(held, second);
    expect(held.buckets).toBe(8);
    await expectHeld(held, oracle);
  });

  it('under the same count, rewrites only the buckets the segments touch', async () => {
    const oracle = new Oracle();
    for (const [entity, id, value] of rows(0, 30_000, '1')) oracle.rows.set(`${entity}/${id}`, value!);
    // Start over on a fresh device key's worth of state: the first fold builds 4 buckets.
    await t.tenant.deleteDoc('syncDevice', KEY);
    for (const doc of await t.tenant.listDocEtags('syncHeld', { prefix: `${KEY}|` })) {
      await t.tenant.deleteDoc('syncHeld', doc.id);
    }
    let held = await foldPages(newDeviceState('user').held, [rows(0, 30_000, '1')]);
    expect(held.buckets).toBe(4);
    const before = [...held.generations];

    // Two rows change: only their buckets get the new generation.
    const change: HeldDelta[] = [
      ['account', 'row-0', ['2', 'owner-0']],
      ['contact', 'row-1', null],
    ];
    oracle.apply(change);
    held = await foldPages(held, [change]);
    expect(held.buckets).toBe(4);
    const rewritten = held.generations.filter((g, i) => g !== before[i]).length;
    expect(rewritten).toBeGreaterThanOrEqual(1);
    expect(rewritten).toBeLessThanOrEqual(2);
    await expectHeld(held, oracle);
  });

  it('scans an entity with segments over buckets, loaded buckets or not, reading each bucket once', async () => {
    await t.tenant.deleteDoc('syncDevice', KEY);
    for (const doc of await t.tenant.listDocEtags('syncHeld', { prefix: `${KEY}|` })) {
      await t.tenant.deleteDoc('syncHeld', doc.id);
    }
    const oracle = new Oracle();
    const base = rows(0, 30_000, '1');
    oracle.apply(base);
    const held = await foldPages(newDeviceState('user').held, [base]);
    expect(held.buckets).toBe(4);
    // Two segments not folded: the later one's changes win over the earlier one's and the buckets'.
    const states = new DeviceStateStore(t.tenant);
    const tx = states.begin(await states.load(KEY));
    const first: HeldDelta[] = [
      ['account', 'row-0', ['2', 'owner-9']],
      ['account', 'row-2', null],
      ['account', 'row-new', ['1', null]],
    ];
    const second: HeldDelta[] = [
      ['account', 'row-0', ['3', 'owner-9']],
      ['account', 'row-new', null],
    ];
    const withSegments: HeldState = {
      ...held,
      segments: [
        { id: await tx.writeSegment(++seq, first, []), count: first.length },
        { id: await tx.writeSegment(++seq, second, []), count: second.length },
      ],
    };
    oracle.apply(first);
    oracle.apply(second);
    const expected = new Map(
      [...oracle.rows].filter(([key]) => key.startsWith('account/')).map(([key, v]) => [key.slice(8), v]),
    );

    const meter = newReadMeter();
    const set = new HeldSet(t.tenant.metered(meter), KEY, withSegments);
    // One bucket loaded first (as a look-up of a row does), the other three read by the scan.
    await set.ensure([['account', 'row-4']]);
    const afterEnsure = meter.docs;
    expect(await set.entriesOf('account')).toEqual(expected);
    expect(meter.docs - afterEnsure).toBe(3);
    // Buckets the scan read are not kept: a second scan reads them again, the loaded one not.
    await set.entriesOf('account');
    expect(meter.docs - afterEnsure).toBe(6);
  });

  it('loads buckets for rows only up to a bound when asked to (ensureUpTo): the others read as not held', async () => {
    await t.tenant.deleteDoc('syncDevice', KEY);
    for (const doc of await t.tenant.listDocEtags('syncHeld', { prefix: `${KEY}|` })) {
      await t.tenant.deleteDoc('syncHeld', doc.id);
    }
    const base = rows(0, 30_000, '1');
    const held = await foldPages(newDeviceState('user').held, [base]);
    expect(held.buckets).toBe(4);
    const wanted = base.map(([entity, id]) => [entity, id] as const);
    const largest = Math.max(...held.counts);

    const meter = newReadMeter();
    const bounded = new HeldSet(t.tenant.metered(meter), KEY, held);
    // Room for one bucket (of any count), not two: one bucket is read.
    await bounded.ensureUpTo(wanted, largest + 1);
    expect(meter.docs).toBe(1);
    const known = wanted.filter(([entity, id]) => bounded.get(entity, id) !== undefined);
    expect(held.counts).toContain(known.length);
    for (const [entity, id] of known)
      expect(bounded.get(entity, id)).toEqual(['1', `owner-${Number(id.slice(4)) % 7}`]);
    // Asked again, nothing more fits: nothing more is read.
    await bounded.ensureUpTo(wanted, largest + 1);
    expect(meter.docs).toBe(1);

    const unbounded = new HeldSet(t.tenant, KEY, held);
    await unbounded.ensureUpTo(wanted, Number.POSITIVE_INFINITY);
    expect(wanted.every(([entity, id]) => unbounded.get(entity, id) !== undefined)).toBe(true);
  });

  it('keeps held documents of a device past its first download: its next sync reads none of them again', async () => {
    await t.tenant.deleteDoc('syncDevice', KEY);
    for (const doc of await t.tenant.listDocEtags('syncHeld', { prefix: `${KEY}|` })) {
      await t.tenant.deleteDoc('syncHeld', doc.id);
    }
    // A device whose first download ended (cursor set, no work): one bucket and a page's segment.
    const held = await foldPages(newDeviceState('user').held, [rows(0, 3000, '1')]);
    const setup = new DeviceStateStore(t.tenant);
    const tx = setup.begin(await setup.load(KEY));
    const page: HeldDelta[] = [['account', 'row-0', ['2', 'owner-0']]];
    const state = {
      ...newDeviceState('user'),
      cursor: '5',
      held: { ...held, segments: [] as HeldState['segments'] },
    };
    state.held.segments.push({ id: await tx.writeSegment(++seq, page, []), count: 1 });
    await tx.commit(state);

    /** One request's look-up of a row, as a sync does: the held documents it reads from the store. */
    const lookUp = async (): Promise<{ docs: number; value: HeldValue | undefined }> => {
      const meter = newReadMeter();
      // The request's handle is metered; the cache belongs to the tenant handle, which outlives it.
      const states = new DeviceStateStore(t.tenant.metered(meter), t.tenant);
      const loaded = await states.load(KEY);
      const before = meter.docs;
      const set = states.held(KEY, loaded.state!.held, states.begin(loaded));
      await set.ensure([['account', 'row-0']]);
      await set.ensure([['contact', 'row-1']]);
      return { docs: meter.docs - before, value: set.get('account', 'row-0') };
    };
    const cache = heldDocCacheOf(t.tenant);
    const cached = cache.rows;
    expect(await lookUp()).toEqual({ docs: 2, value: ['2', 'owner-0'] });
    expect(cache.rows - cached).toBe(3001);
    // The next request reads neither the bucket nor the segment again, and answers the same.
    expect(await lookUp()).toEqual({ docs: 0, value: ['2', 'owner-0'] });

    // A request that starts a new epoch (a download without a checkpoint) neither reads nor fills it.
    const fresh = new DeviceStateStore(t.tenant);
    const restart = fresh.begin(await fresh.load(KEY));
    restart.replaceEpoch();
    expect(restart.heldCache).toBeNull();
  });
});

describe('a page segment', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore('sqlite');
  });
  afterAll(async () => {
    await t.close();
  });

  it('gives back the entries its page was built from, keeping only what its delta lacks', async () => {
    const states = new DeviceStateStore(t.tenant);
    const tx = states.begin(await states.load('segment-device'));
    // What a page plans and what it then holds: an added row, an upsert whose row changed since it
    // was planned (version 5 planned, 6 sent), a removal of a held row, one of a row not held, and a
    // planned upsert of a row gone since (held as planned until its deletion is judged).
    const planned: PlanEntry[] = [
      ['account', 'a1', 'a', ['1', 'owner-1']],
      ['account', 'a2', 'u', ['5', null]],
      ['contact', 'c1', 'r', '3'],
      ['contact', 'c2', 'x', '4'],
      ['contact', 'c3', 'a', '7'],
    ];
    const delta: HeldDelta[] = [
      ['account', 'a1', ['1', 'owner-1']],
      ['account', 'a2', ['6', null]],
      ['contact', 'c1', null],
      ['contact', 'c2', null],
      ['contact', 'c3', '7'],
    ];
    const id = await tx.writeSegment(1, delta, planned);
    expect(await tx.readSegmentPlan(id)).toEqual(planned);
    // The document keeps the delta and only the three planned values it does not say.
    const doc = await t.tenant.getDoc<{ delta: unknown; ops: string; values: unknown[] }>('syncHeld', id);
    expect(doc?.value).toEqual({
      delta,
      ops: 'aurxa',
      values: [
        [1, ['5', null]],
        [2, '3'],
        [3, '4'],
      ],
    });

    // Segments of earlier versions kept the entries whole, as JSON text or as an array.
    await t.tenant.putDoc('syncHeld', 'segment-device|old-text', { delta, planned: JSON.stringify(planned) });
    await t.tenant.putDoc('syncHeld', 'segment-device|old-array', { delta, planned });
    expect(await tx.readSegmentPlan('segment-device|old-text')).toEqual(planned);
    expect(await tx.readSegmentPlan('segment-device|old-array')).toEqual(planned);

    // A plan that is not entry for entry its delta's rows is refused, never stored wrong.
    await expect(tx.writeSegment(2, delta, planned.slice(1))).rejects.toMatchObject({ code: 'Internal' });
    await expect(tx.writeSegment(2, delta.slice(0, 1), [planned[1]!])).rejects.toMatchObject({
      code: 'Internal',
    });
  });
});

describe('held document cache', () => {
  it('drops the least recently used documents past its row bound, and keeps no document too large', () => {
    const cache = new HeldDocCache();
    const tenth = Math.floor(HELD_CACHE_ROWS / 10);
    cache.set('a', 'A', tenth);
    cache.set('b', 'B', tenth);
    cache.set('c', 'C', tenth);
    // Reading `a` makes `b` the least recently used.
    expect(cache.get('a')).toBe('A');
    for (let i = 0; i < 8; i++) cache.set(`more-${i}`, i, tenth);
    expect(cache.rows).toBeLessThanOrEqual(HELD_CACHE_ROWS);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    // Setting again replaces (rows counted once); deleting forgets.
    cache.set('a', 'A2', 1);
    expect(cache.get('a')).toBe('A2');
    const rows = cache.rows;
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.rows).toBe(rows - 1);
    // More than an eighth of the bound is not kept (a first download's fold reads each once).
    cache.set('huge', 'H', HELD_CACHE_ROWS / 8 + 1);
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.rows).toBe(rows - 1);
  });
});
