import { randomBytes } from 'node:crypto';
import type { ChangeScope, RecordProbe, RecordWrite, Store, TenantStore } from '../../shared/store/port';
import { newReadMeter } from '../../shared/store/port';
import type { StoredRecord } from '../../shared/model/record';
import { compareVersions } from '../../shared/model/record';
import { businessUnitKey, normalizeProbe, ownerKey, probeMatches } from '../../shared/store/record-keys';

/**
 * The Store contract: every promise of `shared/store/port.ts`, run against each adapter.
 *
 * `makeStore` is called once per suite. The suite creates tenants with unique names (so it can run
 * against a shared, real Cosmos account), drops every tenant it created and deletes its control
 * documents when it ends, then calls `cleanup`, which must close the store and release anything
 * else the adapter's test set up (temporary folders, databases).
 */
export function describeStoreContract(
  name: string,
  makeStore: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
): void {
  describe(name, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    const createdOrgs = new Set<string>();
    const controlDocs: { kind: string; id: string }[] = [];

    beforeAll(async () => {
      ({ store, cleanup } = await makeStore());
    });

    afterAll(async () => {
      if (store === undefined) return;
      for (const org of createdOrgs) await store.dropTenantDatabase(org);
      for (const doc of controlDocs) await store.control.deleteDoc(doc.kind, doc.id);
      await cleanup();
    });

    /** A tenant name no other test (or run against a shared account) uses. */
    function uniqueOrg(): string {
      const org = `t${randomBytes(6).toString('hex')}`;
      createdOrgs.add(org);
      return org;
    }

    async function newTenant(): Promise<TenantStore> {
      const org = uniqueOrg();
      await store.createTenantDatabase(org);
      return store.tenant(org);
    }

    function write(id: string, version: string, attributes: Record<string, unknown> = {}): RecordWrite {
      return { entity: 'account', id, version, deleted: false, attributes };
    }

    function tombstone(id: string, version: string): RecordWrite {
      return { entity: 'account', id, version, deleted: true, attributes: {} };
    }

    /** Reads the change sequence from `cursor` to its end, page by page. */
    async function drainChanges(
      tenant: TenantStore,
      cursor: string | undefined,
      limit: number,
    ): Promise<{ pages: StoredRecord[][]; cursor: string }> {
      const pages: StoredRecord[][] = [];
      let current = cursor;
      for (let guard = 0; guard < 10_000; guard++) {
        const page = await tenant.readChanges(current, limit);
        expect(page.records.length).toBeLessThanOrEqual(limit);
        // A page holds each row at most once.
        expect(new Set(page.records.map(key)).size).toBe(page.records.length);
        pages.push(page.records);
        current = page.cursor;
        if (!page.more) return { pages, cursor: current };
      }
      throw new Error('the change sequence never ended');
    }

    const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

    const key = (r: { entity: string; id: string }): string => `${r.entity}/${r.id}`;

    describe('documents', () => {
      it('puts, gets and overwrites a document, with a new etag on every write', async () => {
        const tenant = await newTenant();
        expect(await tenant.getDoc('profile', 'p1')).toBeUndefined();

        const first = await tenant.putDoc('profile', 'p1', { name: 'Sales', items: [{ entity: 'account' }] });
        expect(first).toMatchObject({ kind: 'profile', id: 'p1', value: { name: 'Sales' } });
        expect(typeof first.etag).toBe('string');
        expect(first.etag.length).toBeGreaterThan(0);

        const read = await tenant.getDoc<{ name: string; items: unknown[] }>('profile', 'p1');
        expect(read).toEqual({
          kind: 'profile',
          id: 'p1',
          value: { name: 'Sales', items: [{ entity: 'account' }] },
          etag: first.etag,
        });

        const second = await tenant.putDoc('profile', 'p1', { name: 'Service' });
        expect(second.etag).not.toBe(first.etag);
        expect((await tenant.getDoc('profile', 'p1'))?.value).toEqual({ name: 'Service' });
      });

      it('reads a document again only if its etag changed (getDocIfChanged)', async () => {
        const tenant = await newTenant();
        expect(await tenant.getDocIfChanged('profile', 'p1', 'any')).toBeUndefined();
        const first = await tenant.putDoc('profile', 'p1', { name: 'Sales' });
        expect(await tenant.getDocIfChanged('profile', 'p1', first.etag)).toBe('unchanged');
        expect(await tenant.getDocIfChanged('profile', 'p1', 'an older etag')).toEqual({
          kind: 'profile',
          id: 'p1',
          value: { name: 'Sales' },
          etag: first.etag,
        });
        const second = await tenant.putDoc('profile', 'p1', { name: 'Service' });
        expect(await tenant.getDocIfChanged('profile', 'p1', first.etag)).toEqual({
          kind: 'profile',
          id: 'p1',
          value: { name: 'Service' },
          etag: second.etag,
        });
        await tenant.deleteDoc('profile', 'p1');
        expect(await tenant.getDocIfChanged('profile', 'p1', second.etag)).toBeUndefined();
      });

      it('writes with ifMatch only while the etag is current', async () => {
        const tenant = await newTenant();
        const first = await tenant.putDoc('settings', 's', { n: 1 });
        const second = await tenant.putDoc('settings', 's', { n: 2 }, { ifMatch: first.etag });
        expect(second.value).toEqual({ n: 2 });

        await expect(tenant.putDoc('settings', 's', { n: 3 }, { ifMatch: first.etag })).rejects.toMatchObject(
          {
            code: 'PreconditionFailed',
          },
        );
        expect((await tenant.getDoc('settings', 's'))?.value).toEqual({ n: 2 });

        await expect(
          tenant.putDoc('settings', 'missing', { n: 1 }, { ifMatch: first.etag }),
        ).rejects.toMatchObject({ code: 'PreconditionFailed' });
        expect(await tenant.getDoc('settings', 'missing')).toBeUndefined();
      });

      it('lets exactly one of two concurrent writers with the same ifMatch win', async () => {
        const tenant = await newTenant();
        const base = await tenant.putDoc('counter', 'c', { n: 0 });
        const outcomes = await Promise.allSettled([
          tenant.putDoc('counter', 'c', { n: 1 }, { ifMatch: base.etag }),
          tenant.putDoc('counter', 'c', { n: 2 }, { ifMatch: base.etag }),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o) => o.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'PreconditionFailed' });
        const stored = await tenant.getDoc('counter', 'c');
        expect(stored?.value).toEqual((won[0] as PromiseFulfilledResult<{ value: unknown }>).value.value);
      });

      it('creates with ifNoneMatch "*" only when no document exists', async () => {
        const tenant = await newTenant();
        await tenant.putDoc('device', 'd1', { a: 1 }, { ifNoneMatch: '*' });
        await expect(tenant.putDoc('device', 'd1', { a: 2 }, { ifNoneMatch: '*' })).rejects.toMatchObject({
          code: 'Conflict',
        });
        expect((await tenant.getDoc('device', 'd1'))?.value).toEqual({ a: 1 });
      });

      it('deletes a document, honouring ifMatch, and says whether one was deleted', async () => {
        const tenant = await newTenant();
        const doc = await tenant.putDoc('app', 'a1', { name: 'Field' });
        await tenant.putDoc('app', 'a1', { name: 'Field 2' });

        await expect(tenant.deleteDoc('app', 'a1', { ifMatch: doc.etag })).rejects.toMatchObject({
          code: 'PreconditionFailed',
        });
        expect(await tenant.getDoc('app', 'a1')).toBeDefined();

        const current = await tenant.getDoc('app', 'a1');
        expect(await tenant.deleteDoc('app', 'a1', { ifMatch: current!.etag })).toBe(true);
        expect(await tenant.getDoc('app', 'a1')).toBeUndefined();
        expect(await tenant.deleteDoc('app', 'a1')).toBe(false);

        await tenant.putDoc('app', 'a2', { name: 'x' });
        expect(await tenant.deleteDoc('app', 'a2')).toBe(true);
        expect(await tenant.getDoc('app', 'a2')).toBeUndefined();
        // A deleted document can be created again.
        await tenant.putDoc('app', 'a2', { name: 'y' }, { ifNoneMatch: '*' });
        expect((await tenant.getDoc('app', 'a2'))?.value).toEqual({ name: 'y' });
      });

      it('lists the documents of one kind ordered by id, optionally by id prefix', async () => {
        const tenant = await newTenant();
        for (const id of ['c-2', 'b', 'ab', 'c-1', 'a']) await tenant.putDoc('user', id, { id });
        await tenant.putDoc('team', 'a', { other: true });
        await tenant.putDoc('users', 'zz', { other: true });

        const all = await tenant.listDocs<{ id: string }>('user');
        expect(all.map((d) => d.id)).toEqual(['a', 'ab', 'b', 'c-1', 'c-2']);
        expect(all.every((d) => d.kind === 'user' && d.value.id === d.id && d.etag.length > 0)).toBe(true);

        expect((await tenant.listDocs('user', { prefix: 'c-' })).map((d) => d.id)).toEqual(['c-1', 'c-2']);
        expect((await tenant.listDocs('user', { prefix: 'a' })).map((d) => d.id)).toEqual(['a', 'ab']);
        expect(await tenant.listDocs('user', { prefix: 'q' })).toEqual([]);
        expect(await tenant.listDocs('nothing')).toEqual([]);
      });

      it('lists the ids and current etags of one kind, ordered by id, optionally by prefix', async () => {
        const tenant = await newTenant();
        for (const id of ['c-2', 'b', 'c-1']) await tenant.putDoc('user', id, { id });
        await tenant.putDoc('team', 'a', { other: true });
        const rewritten = await tenant.putDoc('user', 'b', { id: 'b', again: true });

        const tags = await tenant.listDocEtags('user');
        expect(tags).toEqual((await tenant.listDocs('user')).map((d) => ({ id: d.id, etag: d.etag })));
        expect(tags.map((t) => t.id)).toEqual(['b', 'c-1', 'c-2']);
        expect(tags.find((t) => t.id === 'b')?.etag).toBe(rewritten.etag);
        expect((await tenant.listDocEtags('user', { prefix: 'c-' })).map((t) => t.id)).toEqual([
          'c-1',
          'c-2',
        ]);
        expect(await tenant.listDocEtags('nothing')).toEqual([]);
      });

      it('keeps the control store apart from every tenant', async () => {
        const tenant = await newTenant();
        const kind = 'contract-test';
        const id = `doc-${randomBytes(4).toString('hex')}`;
        controlDocs.push({ kind, id });

        await store.control.putDoc(kind, id, { where: 'control' });
        expect(await tenant.getDoc(kind, id)).toBeUndefined();
        await tenant.putDoc(kind, id, { where: 'tenant' });
        expect((await store.control.getDoc(kind, id))?.value).toEqual({ where: 'control' });
        expect((await tenant.getDoc(kind, id))?.value).toEqual({ where: 'tenant' });
        expect((await store.control.listDocs(kind, { prefix: id })).map((d) => d.value)).toEqual([
          { where: 'control' },
        ]);
      });
    });

    describe('tenant databases', () => {
      it('creates, reports and drops a tenant database idempotently', async () => {
        const org = uniqueOrg();
        expect(await store.tenantDatabaseExists(org)).toBe(false);
        await store.createTenantDatabase(org);
        await store.createTenantDatabase(org);
        expect(await store.tenantDatabaseExists(org)).toBe(true);
        expect(store.tenant(org).org).toBe(org);

        await store.tenant(org).putDoc('k', 'kept', { v: 1 });
        // Creating an existing database again keeps its content.
        await store.createTenantDatabase(org);
        expect((await store.tenant(org).getDoc('k', 'kept'))?.value).toEqual({ v: 1 });

        await store.dropTenantDatabase(org);
        await store.dropTenantDatabase(org);
        expect(await store.tenantDatabaseExists(org)).toBe(false);
      });

      it('fails every operation of a tenant that was never created with TenantNotProvisioned', async () => {
        const tenant = store.tenant(uniqueOrg());
        const notProvisioned = { code: 'TenantNotProvisioned' };
        await expect(tenant.getDoc('k', 'i')).rejects.toMatchObject(notProvisioned);
        await expect(tenant.putDoc('k', 'i', {})).rejects.toMatchObject(notProvisioned);
        await expect(tenant.deleteDoc('k', 'i')).rejects.toMatchObject(notProvisioned);
        await expect(tenant.listDocs('k')).rejects.toMatchObject(notProvisioned);
        await expect(tenant.applyRecordWrites([write('1', '1')])).rejects.toMatchObject(notProvisioned);
        await expect(tenant.getRecord('account', '1')).rejects.toMatchObject(notProvisioned);
        await expect(tenant.getRecords('account', ['1'])).rejects.toMatchObject(notProvisioned);
        await expect(tenant.scanRecords('account', { limit: 10 })).rejects.toMatchObject(notProvisioned);
        await expect(tenant.countRecords('account')).rejects.toMatchObject(notProvisioned);
        await expect(tenant.readChanges(undefined, 10)).rejects.toMatchObject(notProvisioned);
        await expect(tenant.headCursor()).rejects.toMatchObject(notProvisioned);
      });

      it('fails operations after a drop, and starts empty when created again', async () => {
        const org = uniqueOrg();
        await store.createTenantDatabase(org);
        const tenant = store.tenant(org);
        await tenant.putDoc('k', 'i', { v: 1 });
        await tenant.applyRecordWrites([write('1', '1', { name: 'a' })]);

        await store.dropTenantDatabase(org);
        await expect(tenant.getDoc('k', 'i')).rejects.toMatchObject({ code: 'TenantNotProvisioned' });
        await expect(tenant.getRecord('account', '1')).rejects.toMatchObject({
          code: 'TenantNotProvisioned',
        });
        await expect(tenant.applyRecordWrites([write('2', '1')])).rejects.toMatchObject({
          code: 'TenantNotProvisioned',
        });

        await store.createTenantDatabase(org);
        // The handle taken before the drop serves the new, empty database.
        expect(await tenant.getDoc('k', 'i')).toBeUndefined();
        expect(await tenant.getRecord('account', '1')).toBeUndefined();
        expect(await tenant.countRecords('account')).toBe(0);
        expect((await tenant.readChanges(undefined, 10)).records).toEqual([]);
        expect((await store.tenant(org).applyRecordWrites([write('1', '1')]))[0]?.outcome).toBe('applied');
      });

      it('never lets one tenant see another tenant’s documents, rows or changes', async () => {
        const a = await newTenant();
        const b = await newTenant();
        await a.putDoc('profile', 'p', { owner: 'a' });
        await b.putDoc('profile', 'p', { owner: 'b' });
        await a.applyRecordWrites([write('1', '5', { owner: 'a' }), write('only-a', '1')]);
        await b.applyRecordWrites([write('1', '3', { owner: 'b' })]);

        expect((await a.getDoc('profile', 'p'))?.value).toEqual({ owner: 'a' });
        expect((await b.getDoc('profile', 'p'))?.value).toEqual({ owner: 'b' });
        expect((await b.listDocs('profile')).map((d) => d.value)).toEqual([{ owner: 'b' }]);
        expect(await a.getRecord('account', '1')).toMatchObject({ version: '5', attributes: { owner: 'a' } });
        expect(await b.getRecord('account', '1')).toMatchObject({ version: '3', attributes: { owner: 'b' } });
        expect(await b.getRecord('account', 'only-a')).toBeUndefined();
        expect(await a.countRecords('account')).toBe(2);
        expect(await b.countRecords('account')).toBe(1);
        const bChanges = (await b.readChanges(undefined, 100)).records;
        expect(bChanges.map((r) => [r.id, r.attributes])).toEqual([['1', { owner: 'b' }]]);

        await store.dropTenantDatabase(a.org);
        expect((await b.getDoc('profile', 'p'))?.value).toEqual({ owner: 'b' });
        expect(await b.countRecords('account')).toBe(1);
      });
    });

    describe('records', () => {
      it('inserts a row and returns it as stored', async () => {
        const tenant = await newTenant();
        const [result] = await tenant.applyRecordWrites([
          write('1', '10', { name: 'Contoso', n: 3, tags: ['x'] }),
        ]);
        expect(result).toMatchObject({
          entity: 'account',
          id: '1',
          outcome: 'applied',
          record: {
            entity: 'account',
            id: '1',
            version: '10',
            deleted: false,
            attributes: { name: 'Contoso', n: 3, tags: ['x'] },
          },
        });
        expect(Number.isNaN(Date.parse(result!.record!.updatedAt))).toBe(false);
        expect(await tenant.getRecord('account', '1')).toEqual(result!.record);
        expect(await tenant.getRecord('contact', '1')).toBeUndefined();
      });

      it('applies a write only when its version is newer, comparing versions numerically', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([write('1', '9', { v: 9 })]);

        const [newer] = await tenant.applyRecordWrites([write('1', '10', { v: 10 })]);
        expect(newer).toMatchObject({ outcome: 'applied', record: { version: '10', attributes: { v: 10 } } });

        const [older] = await tenant.applyRecordWrites([write('1', '9', { v: 'old' })]);
        expect(older).toMatchObject({ outcome: 'stale', record: { version: '10', attributes: { v: 10 } } });

        const [equal] = await tenant.applyRecordWrites([write('1', '10', { v: 'same' })]);
        expect(equal).toMatchObject({ outcome: 'stale', record: { version: '10', attributes: { v: 10 } } });

        const huge = '123456789012345678901234567890';
        const [big] = await tenant.applyRecordWrites([write('1', huge, { v: 'big' })]);
        expect(big).toMatchObject({ outcome: 'applied', record: { version: huge } });
        const [below] = await tenant.applyRecordWrites([write('1', '123456789012345678901234567889')]);
        expect(below?.outcome).toBe('stale');
        expect(await tenant.getRecord('account', '1')).toMatchObject({
          version: huge,
          attributes: { v: 'big' },
        });
      });

      it('applies the writes of one call in order, with one result per write', async () => {
        const tenant = await newTenant();
        const results = await tenant.applyRecordWrites([
          write('1', '1', { step: 1 }),
          write('1', '2', { step: 2 }),
          write('2', '5', { step: 5 }),
          write('2', '4', { step: 4 }),
          { entity: 'contact', id: '1', version: '1', deleted: false, attributes: { c: true } },
        ]);
        expect(results.map((r) => [r.entity, r.id, r.outcome])).toEqual([
          ['account', '1', 'applied'],
          ['account', '1', 'applied'],
          ['account', '2', 'applied'],
          ['account', '2', 'stale'],
          ['contact', '1', 'applied'],
        ]);
        expect(results[3]?.record).toMatchObject({ version: '5', attributes: { step: 5 } });
        expect(await tenant.getRecord('account', '1')).toMatchObject({
          version: '2',
          attributes: { step: 2 },
        });
        expect(await tenant.getRecord('contact', '1')).toMatchObject({ attributes: { c: true } });
        expect(await tenant.applyRecordWrites([])).toEqual([]);
      });

      it('ends in the same state whatever order the writes arrive in', async () => {
        const writes: RecordWrite[] = [];
        for (let version = 1; version <= 30; version++) {
          const id = String(version % 4);
          writes.push(
            version % 7 === 0
              ? tombstone(id, String(version))
              : write(id, String(version), { v: version, id }),
          );
        }
        const inOrder = await newTenant();
        const reversed = await newTenant();
        const shuffled = await newTenant();
        await inOrder.applyRecordWrites(writes);
        await reversed.applyRecordWrites([...writes].reverse());
        const mixed = [...writes].sort(
          (x, y) => ((Number(x.version) * 7919) % 31) - ((Number(y.version) * 7919) % 31),
        );
        for (let i = 0; i < mixed.length; i += 4) await shuffled.applyRecordWrites(mixed.slice(i, i + 4));
        // Replaying everything changes nothing.
        await shuffled.applyRecordWrites(writes);

        const state = async (t: TenantStore) =>
          (await t.scanRecords('account', { limit: 100, includeDeleted: true })).map((r) => ({
            id: r.id,
            version: r.version,
            deleted: r.deleted,
            attributes: r.deleted ? undefined : r.attributes,
          }));
        const expected = await state(inOrder);
        expect(expected.map((r) => [r.id, r.version, r.deleted])).toEqual([
          ['0', '28', true],
          ['1', '29', false],
          ['2', '30', false],
          ['3', '27', false],
        ]);
        expect(await state(reversed)).toEqual(expected);
        expect(await state(shuffled)).toEqual(expected);
      });

      it('keeps a tombstone that an older write cannot resurrect and a newer one replaces', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([write('1', '5', { name: 'a' })]);
        const [deleted] = await tenant.applyRecordWrites([tombstone('1', '6')]);
        expect(deleted).toMatchObject({ outcome: 'applied', record: { version: '6', deleted: true } });
        expect(await tenant.getRecord('account', '1')).toMatchObject({ version: '6', deleted: true });

        const [older] = await tenant.applyRecordWrites([write('1', '4', { name: 'zombie' })]);
        expect(older).toMatchObject({ outcome: 'stale', record: { version: '6', deleted: true } });

        const [newer] = await tenant.applyRecordWrites([write('1', '7', { name: 'back' })]);
        expect(newer).toMatchObject({
          outcome: 'applied',
          record: { version: '7', deleted: false, attributes: { name: 'back' } },
        });

        // A delete that arrives before the row's creation still wins over the older create.
        const [early] = await tenant.applyRecordWrites([tombstone('2', '10')]);
        expect(early).toMatchObject({ outcome: 'applied', record: { version: '10', deleted: true } });
        const [late] = await tenant.applyRecordWrites([write('2', '9', { name: 'late' })]);
        expect(late).toMatchObject({ outcome: 'stale', record: { deleted: true } });
      });

      it('overlays attributes on the stored row in merge mode', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([write('1', '1', { a: 1, b: 2 })]);
        const [merged] = await tenant.applyRecordWrites([
          { ...write('1', '2', { b: 3, c: null }), mode: 'merge' },
        ]);
        expect(merged).toMatchObject({
          outcome: 'applied',
          record: { version: '2', attributes: { a: 1, b: 3, c: null } },
        });

        const [replaced] = await tenant.applyRecordWrites([write('1', '3', { z: 1 })]);
        expect(replaced?.record?.attributes).toEqual({ z: 1 });

        const [stale] = await tenant.applyRecordWrites([
          { ...write('1', '2', { z: 2, y: 1 }), mode: 'merge' },
        ]);
        expect(stale).toMatchObject({ outcome: 'stale', record: { attributes: { z: 1 } } });

        const [fresh] = await tenant.applyRecordWrites([
          { ...write('new', '1', { only: true }), mode: 'merge' },
        ]);
        expect(fresh).toMatchObject({ outcome: 'applied', record: { attributes: { only: true } } });
      });

      it('compares and sets on expectedVersion, answering conflict with the stored row', async () => {
        const tenant = await newTenant();
        const [created] = await tenant.applyRecordWrites([
          { ...write('1', '1', { n: 1 }), expectedVersion: null },
        ]);
        expect(created).toMatchObject({ outcome: 'applied', record: { version: '1' } });

        const [again] = await tenant.applyRecordWrites([
          { ...write('1', '2', { n: 2 }), expectedVersion: null },
        ]);
        expect(again).toMatchObject({ outcome: 'conflict', record: { version: '1', attributes: { n: 1 } } });

        const [matched] = await tenant.applyRecordWrites([
          { ...write('1', '2', { n: 2 }), expectedVersion: '1' },
        ]);
        expect(matched).toMatchObject({ outcome: 'applied', record: { version: '2', attributes: { n: 2 } } });

        const [mismatched] = await tenant.applyRecordWrites([
          { ...write('1', '3', { n: 3 }), expectedVersion: '1' },
        ]);
        expect(mismatched).toMatchObject({
          outcome: 'conflict',
          record: { version: '2', attributes: { n: 2 } },
        });

        const [missing] = await tenant.applyRecordWrites([{ ...write('nope', '3'), expectedVersion: '2' }]);
        expect(missing).toMatchObject({ outcome: 'conflict', record: undefined });
        expect(await tenant.getRecord('account', 'nope')).toBeUndefined();

        // A tombstone is a row: `null` (create only) conflicts with it.
        await tenant.applyRecordWrites([tombstone('1', '4')]);
        const [onTombstone] = await tenant.applyRecordWrites([{ ...write('1', '5'), expectedVersion: null }]);
        expect(onTombstone).toMatchObject({ outcome: 'conflict', record: { version: '4', deleted: true } });
        expect(await tenant.getRecord('account', '1')).toMatchObject({ version: '4', deleted: true });
      });

      it('gets the existing rows among many ids, tombstones included', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([
          write('1', '1'),
          write('2', '1'),
          tombstone('3', '1'),
          write('4', '1'),
        ]);
        await tenant.applyRecordWrites([
          { entity: 'contact', id: '5', version: '1', deleted: false, attributes: {} },
        ]);
        const found = await tenant.getRecords('account', ['1', '3', '5', 'missing', '4']);
        expect(found.map((r) => [r.id, r.deleted]).sort()).toEqual([
          ['1', false],
          ['3', true],
          ['4', false],
        ]);
        expect(await tenant.getRecords('account', [])).toEqual([]);
      });

      it('scans an entity by id in pages, with or without tombstones, and counts live rows', async () => {
        const tenant = await newTenant();
        const ids = Array.from({ length: 25 }, (_, i) => `r${String(i).padStart(2, '0')}`);
        await tenant.applyRecordWrites(ids.map((id) => write(id, '1', { id })));
        const deletedIds = ids.filter((_, i) => i % 5 === 0);
        await tenant.applyRecordWrites(deletedIds.map((id) => tombstone(id, '2')));
        await tenant.applyRecordWrites([
          { entity: 'contact', id: 'r00', version: '1', deleted: false, attributes: {} },
        ]);

        const scanAll = async (includeDeleted: boolean): Promise<StoredRecord[]> => {
          const rows: StoredRecord[] = [];
          let afterId: string | undefined;
          for (;;) {
            const page = await tenant.scanRecords('account', { afterId, limit: 7, includeDeleted });
            expect(page.length).toBeLessThanOrEqual(7);
            rows.push(...page);
            if (page.length < 7) return rows;
            afterId = page[page.length - 1]!.id;
          }
        };
        const live = await scanAll(false);
        expect(live.map((r) => r.id)).toEqual(ids.filter((id) => !deletedIds.includes(id)));
        expect(live.every((r) => r.entity === 'account' && !r.deleted && r.attributes.id === r.id)).toBe(
          true,
        );

        const everything = await scanAll(true);
        expect(everything.map((r) => r.id)).toEqual(ids);
        expect(everything.filter((r) => r.deleted).map((r) => r.id)).toEqual(deletedIds);

        expect((await tenant.scanRecords('account', { afterId: 'r22', limit: 10 })).map((r) => r.id)).toEqual(
          ['r23', 'r24'],
        );
        expect(await tenant.countRecords('account')).toBe(ids.length - deletedIds.length);
        expect(await tenant.countRecords('contact')).toBe(1);
        expect(await tenant.countRecords('lead')).toBe(0);
      });
    });

    describe('look-ups and scoped changes', () => {
      /** Every row a probe finds, page by page, checking each page's promises on the way. */
      async function findAll(
        tenant: TenantStore,
        entity: string,
        probe: RecordProbe,
        limit: number,
      ): Promise<{ records: StoredRecord[]; pages: StoredRecord[][] }> {
        const pages: StoredRecord[][] = [];
        let after: string | undefined;
        for (let guard = 0; guard < 10_000; guard++) {
          const page = await tenant.findRecords(entity, probe, { after, limit });
          expect(page.records.length).toBeLessThanOrEqual(limit);
          pages.push(page.records);
          if (page.next === undefined) {
            const records = pages.flat();
            // No row twice across the pages of one probe while nothing is written.
            expect(new Set(records.map(key)).size).toBe(records.length);
            return { records, pages };
          }
          expect(typeof page.next).toBe('string');
          after = page.next;
        }
        throw new Error('the probe never ended');
      }

      const ids = (records: readonly StoredRecord[]): string[] => records.map((r) => r.id).sort();

      /** What the probe must find: record-keys.ts `probeMatches` over every row (values as given, folded). */
      async function expectedIds(tenant: TenantStore, entity: string, probe: RecordProbe): Promise<string[]> {
        const rows = await tenant.scanRecords(entity, { limit: 1000, includeDeleted: true });
        return ids(rows.filter((r) => probeMatches(normalizeProbe(probe), r)));
      }

      function row(
        id: string,
        version: string,
        attributes: Record<string, unknown>,
        entity = 'account',
      ): RecordWrite {
        return { entity, id, version, deleted: false, attributes };
      }

      /** Every change after `cursor` within `scopes`, page by page; each page holds a row at most once. */
      async function drainScoped(
        tenant: TenantStore,
        cursor: string | undefined,
        limit: number,
        scopes?: readonly ChangeScope[],
      ): Promise<{ pages: StoredRecord[][]; cursor: string }> {
        const pages: StoredRecord[][] = [];
        let current = cursor;
        for (let guard = 0; guard < 10_000; guard++) {
          const page = await tenant.readChanges(current, limit, scopes);
          expect(page.records.length).toBeLessThanOrEqual(limit);
          expect(new Set(page.records.map(key)).size).toBe(page.records.length);
          pages.push(page.records);
          current = page.cursor;
          if (!page.more) return { pages, cursor: current };
        }
        throw new Error('the change sequence never ended');
      }

      const day = (iso: string): number => Date.parse(iso);

      async function probeTenant(): Promise<TenantStore> {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([
          row('a1', '1', { name: 'Alpha', n: 5, at: '2026-01-10T00:00:00Z', ownerid: 'U-1' }),
          row('a2', '1', { name: 'alpha', n: '5', at: '2026-01-10T12:00:00' }),
          row('a3', '1', { name: 'ÉCOLE', n: 5.5, at: '2026-01-11' }),
          row('a4', '1', { name: 'école', n: true, at: day('2026-01-10T06:00:00Z') }),
          row('a5', '1', { name: 7, n: 'x', at: 'not a date' }),
          row('a6', '1', { name: null, n: null, at: null }),
          row('a7', '1', {}),
          row('a8', '1', { name: 'alpha', n: 5, at: '2026-01-10T01:00:00Z' }),
          row('B9', '1', { name: true, n: -2, at: '2025-12-31T23:59:59.999Z', 'odd name': 'Odd' }),
          row('a10', '1', { name: ['alpha'], n: [5], at: {} }),
          row('c1', '1', { name: 'alpha', n: 5, at: '2026-01-10T00:00:00Z' }, 'contact'),
        ]);
        await tenant.applyRecordWrites([tombstone('a8', '2')]);
        return tenant;
      }

      it('finds rows by text, number and time keys and by id, exactly as probeMatches decides', async () => {
        const tenant = await probeTenant();
        const cases: [RecordProbe, string[]][] = [
          [{ kind: 'text', attribute: 'name', values: ['ALPHA'] }, ['a1', 'a2']],
          [{ kind: 'text', attribute: 'name', values: ['École'] }, ['a3', 'a4']],
          [
            { kind: 'text', attribute: 'name', values: ['é'.toUpperCase() + 'cole', 'nothing'] },
            ['a3', 'a4'],
          ],
          [{ kind: 'text', attribute: 'name', values: ['7', 'TRUE'] }, ['B9', 'a5']],
          [{ kind: 'text', attribute: 'name', values: [] }, []],
          [{ kind: 'text', attribute: 'missing', values: ['alpha'] }, []],
          [{ kind: 'text', attribute: null, values: ['A1', 'b9', 'a8', 'c1'] }, ['B9', 'a1']],
          [{ kind: 'text', attribute: 'odd name', values: ['ODD'] }, ['B9']],
          [{ kind: 'number', attribute: 'n', values: [5] }, ['a1', 'a2']],
          [{ kind: 'number', attribute: 'n', values: [1, 5.5, -2, 99] }, ['B9', 'a3', 'a4']],
          [{ kind: 'number', attribute: 'n', values: [] }, []],
          [
            {
              kind: 'time',
              attribute: 'at',
              from: day('2026-01-10T00:00:00Z'),
              to: day('2026-01-11T00:00:00Z'),
            },
            ['a1', 'a2', 'a4'],
          ],
          [
            { kind: 'time', attribute: 'at', from: day('2026-01-10T06:00:00Z'), to: null },
            ['a2', 'a3', 'a4'],
          ],
          [{ kind: 'time', attribute: 'at', from: null, to: day('2026-01-10T00:00:00Z') }, ['B9']],
          [{ kind: 'time', attribute: 'at', from: null, to: null }, ['B9', 'a1', 'a2', 'a3', 'a4']],
          [{ kind: 'time', attribute: 'at', from: day('2026-01-11'), to: day('2026-01-10') }, []],
          [{ kind: 'all' }, ['B9', 'a1', 'a10', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7']],
          // A text key within a date range: both hold (a composite look-up).
          [
            {
              kind: 'text',
              attribute: 'name',
              values: ['alpha', 'école'],
              within: { attribute: 'at', from: day('2026-01-10T00:00:00Z'), to: day('2026-01-10T10:00:00Z') },
            },
            ['a1', 'a4'],
          ],
          [
            {
              kind: 'text',
              attribute: 'name',
              values: ['alpha'],
              within: { attribute: 'at', from: day('2026-01-10T06:00:00Z'), to: null },
            },
            ['a2'],
          ],
          [
            {
              kind: 'text',
              attribute: 'name',
              values: ['alpha'],
              within: { attribute: 'at', from: day('2026-01-11'), to: day('2026-01-10') },
            },
            [],
          ],
        ];
        for (const [probe, want] of cases) {
          const found = await findAll(tenant, 'account', probe, 2);
          expect([probe, ids(found.records)]).toEqual([probe, want]);
          expect(ids(found.records)).toEqual(await expectedIds(tenant, 'account', probe));
          expect(await tenant.countRecords('account', probe)).toBe(want.length);
          // Counting up to a bound stops there, and is exact below it.
          expect(await tenant.countRecords('account', probe, { upTo: 2 })).toBe(Math.min(2, want.length));
          expect(await tenant.countRecords('account', probe, { upTo: 100 })).toBe(want.length);
          for (const record of found.records) {
            expect(record).toEqual(await tenant.getRecord('account', record.id));
          }
        }
        expect(
          ids((await findAll(tenant, 'contact', { kind: 'number', attribute: 'n', values: [5] }, 5)).records),
        ).toEqual(['c1']);
        expect(await tenant.countRecords('account')).toBe(9);
        expect(
          await tenant.countRecords('lead', { kind: 'text', attribute: 'name', values: ['alpha'] }),
        ).toBe(0);
      });

      /** 40 accounts whose keys many rows share (two of them deleted), and probes of each kind. */
      async function sharedKeysTenant(): Promise<TenantStore> {
        const tenant = await newTenant();
        const writes: RecordWrite[] = [];
        for (let i = 0; i < 40; i++) {
          writes.push(
            row(`r${String(i).padStart(2, '0')}`, '1', {
              ownerid: ['U-1', 'u-2', 'U-3'][i % 3],
              n: i % 4,
              // Many rows share each instant: a page must continue inside a key, not only after it.
              at: `2026-02-0${1 + (i % 3)}T00:00:00Z`,
            }),
          );
        }
        await tenant.applyRecordWrites(writes);
        await tenant.applyRecordWrites([tombstone('r00', '2'), tombstone('r07', '2')]);
        return tenant;
      }

      /** A probe of each kind over {@link sharedKeysTenant}'s rows, a composite one included. */
      const sharedKeyProbes = (): RecordProbe[] => [
        { kind: 'text', attribute: 'ownerid', values: ['u-1', 'U-2'] },
        { kind: 'number', attribute: 'n', values: [0, 3] },
        { kind: 'time', attribute: 'at', from: day('2026-02-01'), to: day('2026-02-03') },
        { kind: 'all' },
        {
          kind: 'text',
          attribute: 'ownerid',
          values: ['u-1', 'U-2', 'u-3'],
          within: { attribute: 'at', from: day('2026-02-02'), to: day('2026-02-04') },
        },
      ];

      it('pages a probe after its last page, in the same order on every call, over keys many rows share', async () => {
        const tenant = await sharedKeysTenant();
        const probes = sharedKeyProbes();
        // Prepared as configuration publishes do (the composite one included); unprepared ones are built on first use.
        await tenant.prepareLookups([{ attribute: 'ownerid', kind: 'text', within: 'at' }]);
        for (const probe of probes) {
          const first = await findAll(tenant, 'account', probe, 4);
          expect(first.pages.length).toBeGreaterThan(3);
          expect(ids(first.records)).toEqual(await expectedIds(tenant, 'account', probe));
          expect(first.records.every((r) => !r.deleted)).toBe(true);
          // The same probe pages the same way again.
          const again = await findAll(tenant, 'account', probe, 4);
          expect(again.pages.map((page) => page.map((r) => r.id))).toEqual(
            first.pages.map((page) => page.map((r) => r.id)),
          );
          const whole = await findAll(tenant, 'account', probe, 1000);
          expect(whole.pages).toHaveLength(1);
          expect(ids(whole.records)).toEqual(ids(first.records));
        }
      });

      it('pages the ids of what a probe finds as findRecords pages its rows, positions interchangeable', async () => {
        const tenant = await sharedKeysTenant();
        const probes: RecordProbe[] = [
          ...sharedKeyProbes(),
          { kind: 'text', attribute: 'ownerid', values: [] },
        ];
        for (const probe of probes) {
          const rows = await findAll(tenant, 'account', probe, 4);
          const pages: string[][] = [];
          let after: string | undefined;
          for (let guard = 0; guard < 100; guard++) {
            const page = await tenant.findRecordIds('account', probe, { after, limit: 4 });
            pages.push(page.ids);
            if (page.next === undefined) break;
            // A position of the ids continues the rows' pages too.
            const rest = await tenant.findRecords('account', probe, { after: page.next, limit: 4 });
            expect(rest.records.map((r) => r.id)).toEqual(rows.pages[pages.length]!.map((r) => r.id));
            after = page.next;
          }
          expect(pages).toEqual(rows.pages.map((page) => page.map((r) => r.id)));
        }
        // A keyed probe's ids are read from the index (one more to know a page follows, on SQLite),
        // and at most one row, for the page's position.
        const meter = newReadMeter();
        const page = await tenant
          .metered(meter)
          .findRecordIds('account', { kind: 'text', attribute: 'ownerid', values: ['u-2'] }, { limit: 4 });
        expect(page.ids).toHaveLength(4);
        expect(meter.keys).toBeGreaterThanOrEqual(page.ids.length);
        expect(meter.keys).toBeLessThanOrEqual(page.ids.length + 1);
        expect(meter.rows).toBeLessThanOrEqual(1);
      });

      it('refuses a malformed page position', async () => {
        const tenant = await probeTenant();
        const probe: RecordProbe = { kind: 'text', attribute: 'name', values: ['alpha'] };
        for (const after of ['%%%', 'not a position']) {
          await expect(tenant.findRecords('account', probe, { after, limit: 2 })).rejects.toMatchObject({
            code: 'ValidationFailed',
          });
        }
        await expect(tenant.findRecords('account', probe, { limit: 0 })).rejects.toMatchObject({
          code: 'ValidationFailed',
        });
      });

      it('follows writes: rows that stop matching and tombstones are not found, new matches are', async () => {
        const tenant = await newTenant();
        await tenant.prepareLookups([
          { attribute: 'parentid', kind: 'text' },
          { attribute: 'n', kind: 'number' },
          { attribute: null, kind: 'text' },
        ]);
        // Preparing again changes nothing.
        await tenant.prepareLookups([{ attribute: 'parentid', kind: 'text' }]);
        await tenant.applyRecordWrites([
          row('a1', '1', { parentid: 'P-1', n: 1 }),
          row('a2', '1', { parentid: 'p-1', n: 1 }),
          row('a3', '1', { parentid: 'p-1', n: 1 }),
        ]);
        const byParent: RecordProbe = { kind: 'text', attribute: 'parentid', values: ['p-1'] };
        const byNumber: RecordProbe = { kind: 'number', attribute: 'n', values: [1] };
        expect(ids((await findAll(tenant, 'account', byParent, 10)).records)).toEqual(['a1', 'a2', 'a3']);

        await tenant.applyRecordWrites([
          row('a1', '2', { parentid: 'p-2', n: 2 }),
          tombstone('a2', '2'),
          { ...row('a3', '2', { n: '1' }), mode: 'merge' },
          row('a4', '1', { parentid: 'P-1', n: 1 }),
        ]);
        expect(ids((await findAll(tenant, 'account', byParent, 10)).records)).toEqual(['a3', 'a4']);
        expect(ids((await findAll(tenant, 'account', byNumber, 10)).records)).toEqual(['a3', 'a4']);
        expect(await tenant.countRecords('account', byParent)).toBe(2);
        expect(await tenant.countRecords('account', { kind: 'text', attribute: null, values: ['A2'] })).toBe(
          0,
        );
        // A tombstone brought back is found again.
        await tenant.applyRecordWrites([row('a2', '3', { parentid: 'p-1' })]);
        expect(ids((await findAll(tenant, 'account', byParent, 1)).records)).toEqual(['a2', 'a3', 'a4']);
      });

      it('reads only the changes of the scoped entities, and every change unscoped', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([row('a1', '1', {}), row('c1', '1', {}, 'contact')]);
        const head = await tenant.headCursor();
        await tenant.applyRecordWrites([
          row('a2', '1', {}),
          row('c2', '1', {}, 'contact'),
          row('l1', '1', {}, 'lead'),
          row('c1', '2', { again: true }, 'contact'),
        ]);
        const contacts = (await drainScoped(tenant, head, 10, [{ entity: 'contact' }])).pages.flat();
        expect(contacts.map((r) => [r.entity, r.id, r.version])).toEqual([
          ['contact', 'c2', '1'],
          ['contact', 'c1', '2'],
        ]);
        const two = (
          await drainScoped(tenant, head, 10, [{ entity: 'lead' }, { entity: 'account' }])
        ).pages.flat();
        expect(two.map(key).sort()).toEqual(['account/a2', 'lead/l1']);
        expect((await drainScoped(tenant, head, 10, [{ entity: 'task' }])).pages.flat()).toEqual([]);
        expect((await drainScoped(tenant, head, 10, [])).pages.flat()).toEqual([]);
        const all = (await drainScoped(tenant, head, 10)).pages.flat();
        expect(all.map(key)).toEqual(['account/a2', 'contact/c2', 'lead/l1', 'contact/c1']);
        for (const record of all) expect(record).toEqual(await tenant.getRecord(record.entity, record.id));
      });

      it('reads the changes of owners and business units, rows that left them included', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([
          row('r1', '1', { ownerid: 'A', name: 'moves' }),
          row('r2', '1', { ownerid: 'b' }),
          row('r3', '1', { ownerid: 'c', owningbusinessunit: 'X' }),
          row('r5', '1', { ownerid: 'a' }),
          row('r6', '1', { ownerid: 'a' }),
        ]);
        const head = await tenant.headCursor();
        await tenant.applyRecordWrites([
          row('r1', '2', { ownerid: 'B', name: 'moved' }),
          row('r2', '2', { ownerid: 'b', n: 2 }),
          row('r4', '1', { ownerid: 'A' }),
          tombstone('r5', '2'),
          row('r3', '2', { ownerid: 'c', owningbusinessunit: 'y' }),
          row('c1', '1', { ownerid: 'a' }, 'contact'),
        ]);
        const read = async (keys: string[]): Promise<[string, string, boolean][]> =>
          (await drainScoped(tenant, head, 10, [{ entity: 'account', ownershipKeys: keys }])).pages
            .flat()
            .map((r) => [r.id, r.version, r.deleted]);

        // r1 left A for B: a reader of A's rows sees it, at its latest state, so it can let it go.
        expect(await read([ownerKey('a')])).toEqual([
          ['r1', '2', false],
          ['r4', '1', false],
          ['r5', '2', true],
        ]);
        expect(await read([ownerKey('B')])).toEqual([
          ['r1', '2', false],
          ['r2', '2', false],
        ]);
        expect(await read([businessUnitKey('x')])).toEqual([['r3', '2', false]]);
        expect(await read([businessUnitKey('Y'), ownerKey('c')])).toEqual([['r3', '2', false]]);
        expect(await read([ownerKey('nobody')])).toEqual([]);
        expect(await read([])).toEqual([]);
        const [r1] = (
          await drainScoped(tenant, head, 10, [{ entity: 'account', ownershipKeys: [ownerKey('a')] }])
        ).pages.flat();
        expect(r1).toEqual(await tenant.getRecord('account', 'r1'));
        // A keyed scope and an unkeyed one of the same entity: every change of the entity.
        const both = (
          await drainScoped(tenant, head, 10, [
            { entity: 'account', ownershipKeys: [ownerKey('nobody')] },
            { entity: 'account' },
          ])
        ).pages.flat();
        expect(both.map((r) => r.id)).toEqual(['r1', 'r2', 'r4', 'r5', 'r3']);
      });

      it('pages scoped changes to their end, and continues from there with later changes only', async () => {
        const tenant = await newTenant();
        const head = await tenant.headCursor();
        const mine = new Set<string>();
        for (let batch = 0; batch < 6; batch++) {
          const writes: RecordWrite[] = [];
          for (let i = 0; i < 8; i++) {
            const id = `r${batch}-${i}`;
            const owner = i % 2 === 0 ? 'me' : 'other';
            if (owner === 'me') mine.add(id);
            writes.push(row(id, '1', { ownerid: owner }));
          }
          // A row of mine rewritten: once per page at most, at its latest state.
          writes.push(row('r0-0', String(batch + 2), { ownerid: 'me', batch }));
          await tenant.applyRecordWrites(writes);
        }
        const scopes: ChangeScope[] = [{ entity: 'account', ownershipKeys: [ownerKey('me')] }];
        const drained = await drainScoped(tenant, head, 4, scopes);
        expect(drained.pages.length).toBeGreaterThan(5);
        const seen = drained.pages.flat();
        expect(new Set(seen.map((r) => r.id))).toEqual(mine);
        expect(seen.every((r) => r.attributes.ownerid === 'me')).toBe(true);
        // The row written last comes last, at its latest version.
        expect(seen[seen.length - 1]).toMatchObject({ id: 'r0-0', version: '7' });

        const end = await tenant.readChanges(drained.cursor, 4, scopes);
        expect(end.records).toEqual([]);
        expect(end.more).toBe(false);
        await tenant.applyRecordWrites([
          row('late-mine', '1', { ownerid: 'me' }),
          row('late-other', '1', { ownerid: 'x' }),
        ]);
        const later = await drainScoped(tenant, drained.cursor, 4, scopes);
        expect(later.pages.flat().map((r) => r.id)).toEqual(['late-mine']);
      });

      it('gives a head cursor from which a scoped read sees only later changes', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([row('a1', '1', { ownerid: 'me' })]);
        const scopes: ChangeScope[] = [
          { entity: 'account', ownershipKeys: [ownerKey('me')] },
          { entity: 'contact' },
        ];
        const head = await tenant.headCursor();
        const empty = await tenant.readChanges(head, 10, scopes);
        expect(empty).toMatchObject({ records: [], more: false });
        await tenant.settleChanges();
        await tenant.applyRecordWrites([row('a1', '2', { ownerid: 'me' }), row('c1', '1', {}, 'contact')]);
        await tenant.settleChanges();
        const later = (await drainScoped(tenant, head, 10, scopes)).pages.flat();
        expect(later.map((r) => [key(r), r.version])).toEqual([
          ['account/a1', '2'],
          ['contact/c1', '1'],
        ]);
        // Reading from the beginning finds the first write too.
        const fromStart = (await drainScoped(tenant, undefined, 10, scopes)).pages.flat();
        expect(fromStart.map(key)).toEqual(['account/a1', 'contact/c1']);
      });

      it('answers ChangeCursorExpired for a cursor it did not issue', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([row('a1', '1', {})]);
        for (const cursor of ['0', '42', 'not-a-cursor']) {
          await expect(tenant.readChanges(cursor, 10)).rejects.toMatchObject({ code: 'ChangeCursorExpired' });
          await expect(tenant.readChanges(cursor, 10, [{ entity: 'account' }])).rejects.toMatchObject({
            code: 'ChangeCursorExpired',
          });
        }
      });

      it('counts what a metered view reads, and nothing through the unmetered handle', async () => {
        const tenant = await probeTenant();
        await tenant.putDoc('profile', 'p1', { name: 'p' });
        const meter = newReadMeter();
        const metered = tenant.metered(meter);
        expect(metered.org).toBe(tenant.org);

        const probe: RecordProbe = { kind: 'text', attribute: 'name', values: ['alpha', 'école'] };
        await tenant.findRecords('account', probe, { limit: 10 });
        expect(meter).toEqual(newReadMeter());

        const page = await metered.findRecords('account', probe, { limit: 10 });
        expect(ids(page.records)).toEqual(['a1', 'a2', 'a3', 'a4']);
        expect(meter.rows).toBeGreaterThanOrEqual(4);
        const afterProbe = meter.rows;

        expect((await metered.getRecord('account', 'a1'))?.id).toBe('a1');
        expect(meter.rows).toBeGreaterThan(afterProbe);
        expect((await metered.getDoc('profile', 'p1'))?.value).toEqual({ name: 'p' });
        expect(meter.docs).toBeGreaterThanOrEqual(1);

        const changes = await metered.readChanges(undefined, 100, [{ entity: 'contact' }]);
        expect(changes.records.map(key)).toEqual(['contact/c1']);
        expect(meter.changes).toBeGreaterThanOrEqual(1);
        // The view writes to the same tenant.
        await metered.applyRecordWrites([row('new', '1', { name: 'Alpha' })]);
        expect(
          await tenant.countRecords('account', { kind: 'text', attribute: 'name', values: ['alpha'] }),
        ).toBe(3);
      });
    });

    describe('change sequence', () => {
      it('starts empty', async () => {
        const tenant = await newTenant();
        const page = await tenant.readChanges(undefined, 10);
        expect(page.records).toEqual([]);
        expect(page.more).toBe(false);
        const head = await tenant.headCursor();
        expect((await tenant.readChanges(head, 10)).records).toEqual([]);
      });

      it('pages every changed row once, at its latest state, in change order', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites(Array.from({ length: 20 }, (_, i) => write(`r${i}`, '1', { i })));
        await tenant.applyRecordWrites([write('r3', '2', { i: 'second' }), tombstone('r7', '2')]);
        await tenant.applyRecordWrites([write('r3', '1', { i: 'stale' })]);
        await tenant.applyRecordWrites([
          { entity: 'contact', id: 'c1', version: '1', deleted: false, attributes: {} },
        ]);

        const first = await tenant.readChanges(undefined, 7);
        expect(first.records).toHaveLength(7);
        expect(first.more).toBe(true);

        const { pages } = await drainChanges(tenant, undefined, 7);
        const rows = pages.flat();
        // Every changed row comes. The port promises uniqueness per page only, so a row may come
        // again in a later page; with no writes during the drain, every copy is its latest state.
        expect(new Set(rows.map(key)).size).toBe(21);
        const byKey = new Map(rows.map((r) => [key(r), r]));
        expect(byKey.get('account/r3')).toMatchObject({ version: '2', attributes: { i: 'second' } });
        expect(byKey.get('account/r7')).toMatchObject({ version: '2', deleted: true });
        expect(byKey.get('contact/c1')).toBeDefined();
        // The rows changed last come last: r3 and r7 were rewritten after the first twenty.
        expect(rows.slice(-3).map(key)).toEqual(['account/r3', 'account/r7', 'contact/c1']);
        for (const row of rows) expect(row).toEqual(await tenant.getRecord(row.entity, row.id));
      });

      it('returns from a cursor only what changed after it, and nothing for stale writes', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([write('a', '1'), write('b', '1'), write('c', '1')]);
        const { cursor } = await drainChanges(tenant, undefined, 2);
        expect((await tenant.readChanges(cursor, 10)).records).toEqual([]);

        await tenant.applyRecordWrites([write('b', '1', { stale: true })]);
        expect((await tenant.readChanges(cursor, 10)).records).toEqual([]);

        await tenant.applyRecordWrites([write('b', '2', { n: 2 }), write('d', '1')]);
        const after = await drainChanges(tenant, cursor, 10);
        expect(after.pages.flat().map((r) => [r.id, r.version])).toEqual([
          ['b', '2'],
          ['d', '1'],
        ]);
      });

      it('gives a head cursor from which only later writes are read', async () => {
        const tenant = await newTenant();
        await tenant.applyRecordWrites([write('old1', '1'), write('old2', '1')]);
        const head = await tenant.headCursor();
        const empty = await tenant.readChanges(head, 10);
        expect(empty.records).toEqual([]);
        expect(empty.more).toBe(false);

        await tenant.applyRecordWrites([write('new1', '1'), write('old1', '2', { updated: true })]);
        const later = (await drainChanges(tenant, head, 10)).pages.flat();
        expect(later.map((r) => [r.id, r.version])).toEqual([
          ['new1', '1'],
          ['old1', '2'],
        ]);
      });

      it('lets a reader paging during concurrent writes end with exactly the final state', async () => {
        const tenant = await newTenant();
        const ids = Array.from({ length: 40 }, (_, i) => `row${i}`);
        let nextVersion = 1;
        /** What the store must hold at the end: the highest version written to each row. */
        const expected = new Map<string, RecordWrite>();
        let writersDone = false;

        const writer = async (seed: number): Promise<void> => {
          for (let batch = 0; batch < 15; batch++) {
            const writes: RecordWrite[] = [];
            for (let i = 0; i < 5; i++) {
              const id = ids[(seed * 7 + batch * 13 + i * 17) % ids.length]!;
              const version = nextVersion++;
              const w =
                version % 9 === 0
                  ? tombstone(id, String(version))
                  : write(id, String(version), { version, seed });
              writes.push(w);
              const known = expected.get(id);
              if (known === undefined || compareVersions(w.version, known.version) > 0) expected.set(id, w);
            }
            await tenant.applyRecordWrites(writes);
            // Yield to the event loop so the reader runs between batches even on a synchronous store.
            await nextTurn();
          }
        };

        const replica = new Map<string, StoredRecord>();
        const reader = async (): Promise<void> => {
          let cursor: string | undefined;
          for (let guard = 0; guard < 100_000; guard++) {
            const finished = writersDone;
            const page = await tenant.readChanges(cursor, 11);
            expect(new Set(page.records.map(key)).size).toBe(page.records.length);
            for (const record of page.records) replica.set(record.id, record);
            cursor = page.cursor;
            // Stop only after a complete read that started once every writer had finished.
            if (finished && !page.more) return;
            await nextTurn();
          }
          throw new Error('the reader never caught up');
        };

        const readerDone = reader();
        await Promise.all([0, 1, 2, 3].map((seed) => writer(seed)));
        writersDone = true;
        await readerDone;

        const stored = await tenant.scanRecords('account', { limit: 1000, includeDeleted: true });
        expect(stored.map((r) => r.id).sort()).toEqual([...expected.keys()].sort());
        for (const row of stored) {
          const want = expected.get(row.id)!;
          expect([row.id, row.version, row.deleted]).toEqual([row.id, want.version, want.deleted]);
          if (!want.deleted) expect(row.attributes).toEqual(want.attributes);
        }
        expect([...replica.keys()].sort()).toEqual(stored.map((r) => r.id).sort());
        for (const row of stored) expect(replica.get(row.id)).toEqual(row);
      });
    });
  });
}
