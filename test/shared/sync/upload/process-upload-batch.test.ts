import { AppError } from '../../../../shared/errors';
import type { Attributes } from '../../../../shared/model/record';
import type { Source, SourceWrite, SourceWriteResult } from '../../../../shared/sources/port';
import { listSyncErrors } from '../../../../shared/sync/sync-errors/sync-error-log';
import { retrySyncError } from '../../../../shared/sync/sync-errors/retry-sync-error';
import { processUploadBatch } from '../../../../shared/sync/upload/process-upload-batch';
import type { UploadOperation, UploadResult } from '../../../../shared/sync/upload/upload-protocol';
import { claimUploadReceipt } from '../../../../shared/sync/upload/upload-receipt-store';
import { APP, DEVICE, createUploadTestTenant, guid, oid, type UploadTestTenant } from './upload-test-tenant';

let t: UploadTestTenant;

afterEach(async () => {
  await t.close();
});

/** Uploads a batch as test user n. */
async function upload(n: number, operations: UploadOperation[], deviceId = DEVICE): Promise<UploadResult[]> {
  return (await processUploadBatch(t.deps, oid(n), { app: APP, deviceId, operations })).results;
}

/** Stores an account row as replication would, at the given version. */
async function seedAccount(id: string, version: string, attributes: Attributes): Promise<void> {
  const [result] = await t.tenantStore.applyRecordWrites([
    { entity: 'account', id, version, deleted: false, attributes: { accountid: id, ...attributes } },
  ]);
  expect(result?.outcome).toBe('applied');
}

const owned = (ownerid: string, owningbusinessunit: string): Attributes => ({ ownerid, owningbusinessunit });

describe('local tenant', () => {
  beforeEach(async () => {
    t = await createUploadTestTenant();
  });

  it('creates a row owned by the user in their business unit, at version 1, with modifiedon from the clock', async () => {
    const [result] = await upload(1, [
      {
        opId: 'op1',
        entity: 'account',
        id: guid(1),
        op: 'create',
        row: { name: 'Fabrikam', numberofemployees: 12 },
      },
    ]);
    expect(result).toMatchObject({ opId: 'op1', status: 'applied', version: '1' });
    const stored = await t.tenantStore.getRecord('account', guid(1));
    expect(stored?.version).toBe('1');
    expect(stored?.attributes).toEqual({
      accountid: guid(1),
      name: 'Fabrikam',
      numberofemployees: 12,
      ownerid: 'u1',
      owningbusinessunit: 'east',
      modifiedon: '2026-01-15T12:00:00.000Z',
    });
    expect(result?.row).toEqual(stored?.attributes);
  });

  it('creates over a tombstone with the version after it', async () => {
    await t.tenantStore.applyRecordWrites([
      { entity: 'account', id: guid(1), version: '7', deleted: true, attributes: {} },
    ]);
    const [result] = await upload(1, [
      { opId: 'a', entity: 'account', id: guid(1), op: 'create', row: { name: 'X' } },
    ]);
    expect(result).toMatchObject({ status: 'applied', version: '8' });
  });

  describe('validation against metadata', () => {
    const cases: [string, Attributes, string][] = [
      ['an unknown attribute', { name: 'A', shoesize: 42 }, 'row.shoesize'],
      ['a system attribute', { name: 'A', modifiedon: '2026-01-01T00:00:00Z' }, 'row.modifiedon'],
      ['the owning business unit', { name: 'A', owningbusinessunit: 'west' }, 'row.owningbusinessunit'],
      ['a version', { name: 'A', versionnumber: 3 }, 'row.versionnumber'],
      ['a string longer than its maximum', { name: 'A', description: 'x'.repeat(21) }, 'row.description'],
      ['a string of the wrong type', { name: 5 }, 'row.name'],
      ['a fractional integer', { name: 'A', numberofemployees: 1.5 }, 'row.numberofemployees'],
      ['a boolean given as text', { name: 'A', donotemail: 'yes' }, 'row.donotemail'],
      ['a money value as text', { name: 'A', revenue: '100' }, 'row.revenue'],
      ['a date-time that is not ISO 8601', { name: 'A', lastvisit: 'next tuesday' }, 'row.lastvisit'],
      ['a lookup that is not an id', { name: 'A', primarycontactid: 'not an id' }, 'row.primarycontactid'],
      [
        'a picklist value that is not an option number',
        { name: 'A', industrycode: 'retail' },
        'row.industrycode',
      ],
      ['a missing required attribute', {}, 'row.name'],
      ['a primary id other than the operation id', { name: 'A', accountid: guid(99) }, 'row.accountid'],
      ['a secured column the user may not access', { name: 'A', creditlimit: 1000 }, 'row.creditlimit'],
      ['an owner not in the directory', { name: 'A', ownerid: 'nobody' }, 'row.ownerid'],
    ];

    it.each(cases)('refuses %s, naming the attribute, and writes nothing', async (_, row, path) => {
      const [result] = await upload(1, [{ opId: 'v', entity: 'account', id: guid(1), op: 'create', row }]);
      expect(result?.status).toBe('rejected');
      expect(result?.error?.code).toBe('ValidationFailed');
      expect(result?.error?.details?.map((d) => d.path)).toContain(path);
      expect(await t.tenantStore.getRecord('account', guid(1))).toBeUndefined();
    });

    it('accepts every type in its valid form, and a secured column from a user who may access it', async () => {
      const row = {
        name: 'A',
        description: 'x'.repeat(20),
        numberofemployees: -3,
        donotemail: false,
        revenue: 12.5,
        lastvisit: '2026-01-14T08:30:00+02:00',
        primarycontactid: guid(5),
        industrycode: 3,
        creditlimit: 5000,
      };
      const [result] = await upload(3, [{ opId: 'ok', entity: 'account', id: guid(1), op: 'create', row }]);
      expect(result).toMatchObject({ status: 'applied', version: '1' });
      expect((await t.tenantStore.getRecord('account', guid(1)))?.attributes).toMatchObject(row);
    });

    it('refuses clearing a required attribute on update', async () => {
      await seedAccount(guid(1), '1', { name: 'A', ...owned('u1', 'east') });
      const [result] = await upload(1, [
        { opId: 'u', entity: 'account', id: guid(1), op: 'update', row: { name: null } },
      ]);
      expect(result?.error?.details?.map((d) => d.path)).toEqual(['row.name']);
    });

    it("refuses an entity that is not in the user's profile", async () => {
      const [result] = await upload(1, [
        { opId: 't', entity: 'territory', id: guid(1), op: 'create', row: { name: 'North' } },
      ]);
      expect(result).toMatchObject({ status: 'rejected', error: { code: 'ValidationFailed' } });
      expect(result?.error?.message).toContain('territory');
    });
  });

  describe('privileges', () => {
    it('refuses a user without Read on offline profiles before any operation', async () => {
      await expect(
        upload(4, [{ opId: 'x', entity: 'account', id: guid(1), op: 'create', row: { name: 'A' } }]),
      ).rejects.toMatchObject({ code: 'PrivilegeDenied' });
      expect(await t.tenantStore.getRecord('account', guid(1))).toBeUndefined();
    });

    it('refuses a token whose user is not in the directory', async () => {
      await expect(upload(42, [])).rejects.toMatchObject({ code: 'Forbidden' });
    });

    it('create: user level may own the row itself or give it to its team, not to another user', async () => {
      const results = await upload(1, [
        { opId: '1', entity: 'account', id: guid(1), op: 'create', row: { name: 'Team', ownerid: 't1' } },
        { opId: '2', entity: 'account', id: guid(2), op: 'create', row: { name: 'Other', ownerid: 'u2' } },
      ]);
      expect(results.map((r) => r.status)).toEqual(['applied', 'rejected']);
      expect(results[1]?.error?.code).toBe('PrivilegeDenied');
      expect((await t.tenantStore.getRecord('account', guid(1)))?.attributes).toMatchObject(
        owned('t1', 'east'),
      );
      expect(await t.tenantStore.getRecord('account', guid(2))).toBeUndefined();
    });

    it('create: business-unit level may give the row to a user of its business unit; a reader may not create', async () => {
      const [byManager] = await upload(2, [
        { opId: '1', entity: 'account', id: guid(1), op: 'create', row: { name: 'A', ownerid: 'u1' } },
      ]);
      expect(byManager?.status).toBe('applied');
      const [byReader] = await upload(5, [
        { opId: '1', entity: 'account', id: guid(2), op: 'create', row: { name: 'B' } },
      ]);
      expect(byReader?.error?.code).toBe('PrivilegeDenied');
    });

    it('update: user level writes its own rows only', async () => {
      await seedAccount(guid(1), '1', { name: 'Mine', ...owned('u1', 'east') });
      await seedAccount(guid(2), '1', { name: 'Theirs', ...owned('u2', 'east') });
      const results = await upload(1, [
        {
          opId: '1',
          entity: 'account',
          id: guid(1),
          op: 'update',
          row: { name: 'Mine 2' },
          baseVersion: '1',
        },
        {
          opId: '2',
          entity: 'account',
          id: guid(2),
          op: 'update',
          row: { name: 'Theirs 2' },
          baseVersion: '1',
        },
      ]);
      expect(results.map((r) => r.status)).toEqual(['applied', 'rejected']);
      expect(results[1]?.error?.code).toBe('PrivilegeDenied');
      expect((await t.tenantStore.getRecord('account', guid(2)))?.attributes.name).toBe('Theirs');
      expect((await t.tenantStore.getRecord('account', guid(2)))?.version).toBe('1');
    });

    it('update: business-unit level writes rows of its business unit, and cannot move a row out of it', async () => {
      await seedAccount(guid(1), '1', { name: 'East', ...owned('u1', 'east') });
      await seedAccount(guid(2), '1', { name: 'West', ...owned('u3', 'west') });
      const results = await upload(2, [
        { opId: '1', entity: 'account', id: guid(1), op: 'update', row: { name: 'East 2' } },
        { opId: '2', entity: 'account', id: guid(2), op: 'update', row: { name: 'West 2' } },
        { opId: '3', entity: 'account', id: guid(1), op: 'update', row: { ownerid: 'u3' } },
      ]);
      expect(results.map((r) => r.status)).toEqual(['applied', 'rejected', 'rejected']);
      expect((await t.tenantStore.getRecord('account', guid(1)))?.attributes).toMatchObject({
        name: 'East 2',
        ...owned('u1', 'east'),
      });
    });

    it('delete: organization level deletes anywhere; user level only its own', async () => {
      await seedAccount(guid(1), '1', { name: 'East', ...owned('u2', 'east') });
      const [byUser] = await upload(1, [{ opId: '1', entity: 'account', id: guid(1), op: 'delete' }]);
      expect(byUser?.error?.code).toBe('PrivilegeDenied');
      expect((await t.tenantStore.getRecord('account', guid(1)))?.deleted).toBe(false);
      const [byDirector] = await upload(3, [{ opId: '1', entity: 'account', id: guid(1), op: 'delete' }]);
      expect(byDirector).toMatchObject({ status: 'applied', version: '2' });
      expect((await t.tenantStore.getRecord('account', guid(1)))?.deleted).toBe(true);
    });
  });

  it('answers NotFound for an update or delete of a missing or deleted row', async () => {
    await t.tenantStore.applyRecordWrites([
      { entity: 'account', id: guid(2), version: '3', deleted: true, attributes: {} },
    ]);
    const results = await upload(3, [
      { opId: '1', entity: 'account', id: guid(1), op: 'update', row: { name: 'A' } },
      { opId: '2', entity: 'account', id: guid(2), op: 'delete' },
      { opId: '3', entity: 'account', id: guid(2), op: 'update', row: { name: 'A' } },
    ]);
    expect(results.map((r) => r.error?.code)).toEqual(['NotFound', 'NotFound', 'NotFound']);
    expect((await t.tenantStore.getRecord('account', guid(2)))?.version).toBe('3');
  });

  it('refuses a create of a row that exists', async () => {
    await seedAccount(guid(1), '1', { name: 'A', ...owned('u1', 'east') });
    const [result] = await upload(1, [
      { opId: '1', entity: 'account', id: guid(1), op: 'create', row: { name: 'B' } },
    ]);
    expect(result?.error?.code).toBe('Conflict');
    expect((await t.tenantStore.getRecord('account', guid(1)))?.attributes.name).toBe('A');
  });

  describe('conflict detection off (client wins column by column)', () => {
    it('merges only the columns sent over a row changed on the server since the base version', async () => {
      await seedAccount(guid(1), '1', { name: 'A', numberofemployees: 5, ...owned('u1', 'east') });
      await seedAccount(guid(1), '2', { name: 'Server name', numberofemployees: 5, ...owned('u1', 'east') });
      const [result] = await upload(1, [
        {
          opId: '1',
          entity: 'account',
          id: guid(1),
          op: 'update',
          row: { numberofemployees: 10 },
          baseVersion: '1',
        },
      ]);
      expect(result).toMatchObject({ status: 'applied', version: '3' });
      const stored = await t.tenantStore.getRecord('account', guid(1));
      expect(stored?.version).toBe('3');
      expect(stored?.attributes).toMatchObject({ name: 'Server name', numberofemployees: 10 });
      expect(stored?.attributes.modifiedon).toBe('2026-01-15T12:00:00.000Z');
    });

    it('re-reads and merges over a write that lands between its read and its write', async () => {
      await seedAccount(guid(1), '1', { name: 'A', numberofemployees: 5, ...owned('u1', 'east') });
      const store = t.tenantStore;
      let interfered = false;
      // A concurrent writer commits version 2 just before the upload's compare-and-set.
      const racingStore = Object.create(store) as typeof store;
      racingStore.applyRecordWrites = async (writes) => {
        if (!interfered) {
          interfered = true;
          await store.applyRecordWrites([
            {
              entity: 'account',
              id: guid(1),
              version: '2',
              deleted: false,
              attributes: {
                accountid: guid(1),
                name: 'Concurrent',
                numberofemployees: 5,
                ...owned('u1', 'east'),
              },
            },
          ]);
        }
        return store.applyRecordWrites(writes);
      };
      const results = (
        await processUploadBatch({ ...t.deps, store: racingStore }, oid(1), {
          app: APP,
          deviceId: DEVICE,
          operations: [
            { opId: '1', entity: 'account', id: guid(1), op: 'update', row: { numberofemployees: 9 } },
          ],
        })
      ).results;
      expect(results[0]).toMatchObject({ status: 'applied', version: '3' });
      expect((await store.getRecord('account', guid(1)))?.attributes).toMatchObject({
        name: 'Concurrent',
        numberofemployees: 9,
      });
    });
  });

  describe('conflict detection on (server wins)', () => {
    beforeEach(async () => {
      await t.setConflictDetection(true);
      await seedAccount(guid(1), '4', { name: 'Server', creditlimit: 99, ...owned('u1', 'east') });
    });

    it('answers a stale update with the server row, secured columns left out, and applies nothing', async () => {
      const [result] = await upload(1, [
        {
          opId: '1',
          entity: 'account',
          id: guid(1),
          op: 'update',
          row: { name: 'Device' },
          baseVersion: '3',
        },
      ]);
      expect(result?.status).toBe('conflict');
      expect(result?.version).toBe('4');
      expect(result?.row).toEqual({ accountid: guid(1), name: 'Server', ...owned('u1', 'east') });
      const stored = await t.tenantStore.getRecord('account', guid(1));
      expect(stored?.version).toBe('4');
      expect(stored?.attributes.name).toBe('Server');
    });

    it('applies an update based on the current version', async () => {
      const [result] = await upload(1, [
        {
          opId: '1',
          entity: 'account',
          id: guid(1),
          op: 'update',
          row: { name: 'Device' },
          baseVersion: '4',
        },
      ]);
      expect(result).toMatchObject({ status: 'applied', version: '5' });
      expect(result?.row?.creditlimit).toBeUndefined();
      expect((await t.tenantStore.getRecord('account', guid(1)))?.attributes).toMatchObject({
        name: 'Device',
        creditlimit: 99,
      });
    });

    it('treats a stale delete, or one without a base version, as a conflict', async () => {
      const results = await upload(1, [
        { opId: '1', entity: 'account', id: guid(1), op: 'delete', baseVersion: '2' },
        { opId: '2', entity: 'account', id: guid(1), op: 'delete' },
      ]);
      expect(results.map((r) => r.status)).toEqual(['conflict', 'conflict']);
      expect((await t.tenantStore.getRecord('account', guid(1)))?.deleted).toBe(false);
      const [current] = await upload(1, [
        { opId: '3', entity: 'account', id: guid(1), op: 'delete', baseVersion: '4' },
      ]);
      expect(current).toMatchObject({ status: 'applied', version: '5' });
    });
  });

  describe('idempotency', () => {
    it('answers a replayed batch with the first results as duplicates and changes nothing', async () => {
      await seedAccount(guid(2), '1', { name: 'B', ...owned('u1', 'east') });
      const batch: UploadOperation[] = [
        { opId: 'c', entity: 'account', id: guid(1), op: 'create', row: { name: 'A' } },
        { opId: 'u', entity: 'account', id: guid(2), op: 'update', row: { name: 'B2' }, baseVersion: '1' },
        { opId: 'x', entity: 'account', id: guid(3), op: 'delete' },
      ];
      const first = await upload(1, batch);
      expect(first.map((r) => r.status)).toEqual(['applied', 'applied', 'rejected']);
      const versions = async () =>
        (await t.tenantStore.getRecords('account', [guid(1), guid(2), guid(3)]))
          .map((r) => `${r.id}@${r.version}`)
          .sort();
      const before = await versions();
      const errorsBefore = await listSyncErrors(t.tenantStore, { limit: 100 });
      t.clock.advance(60_000);

      const replay = await upload(1, batch);
      expect(replay.map((r) => r.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
      replay.forEach((r, i) => {
        const { opId: _opId, ...outcome } = first[i]!;
        expect(r.original).toEqual(outcome);
        expect(r.version).toBe(first[i]?.version);
      });
      expect(await versions()).toEqual(before);
      expect(await listSyncErrors(t.tenantStore, { limit: 100 })).toEqual(errorsBefore);
    });

    it('keys operation ids by user and device', async () => {
      const op = (id: string): UploadOperation => ({
        opId: 'same',
        entity: 'account',
        id,
        op: 'create',
        row: { name: 'A' },
      });
      expect((await upload(1, [op(guid(1))], 'd1'))[0]?.status).toBe('applied');
      expect((await upload(1, [op(guid(2))], 'd2'))[0]?.status).toBe('applied');
      expect((await upload(2, [op(guid(3))], 'd1'))[0]?.status).toBe('applied');
    });

    it('refuses an operation id reused for another operation', async () => {
      await upload(1, [{ opId: 'o', entity: 'account', id: guid(1), op: 'create', row: { name: 'A' } }]);
      const [reused] = await upload(1, [
        { opId: 'o', entity: 'account', id: guid(2), op: 'create', row: { name: 'B' } },
      ]);
      expect(reused).toMatchObject({ status: 'rejected', error: { code: 'Conflict' } });
      expect(await t.tenantStore.getRecord('account', guid(2))).toBeUndefined();
    });

    const createAccountA: UploadOperation = {
      opId: 'p',
      entity: 'account',
      id: guid(1),
      op: 'create',
      row: { name: 'A' },
    };
    /** A receipt claimed for user u1's device, as a first delivery that then died leaves it. */
    const claimFor = (op: UploadOperation) =>
      claimUploadReceipt(t.tenantStore, { userId: 'u1', deviceId: DEVICE, now: t.clock.now() }, op);

    it('after a crash between applying and recording, answers the stored effect without applying again', async () => {
      const op = createAccountA;
      // The first delivery claimed the operation and wrote the row, then the process died.
      await claimFor(op);
      await seedAccount(guid(1), '1', { name: 'A', ...owned('u1', 'east') });
      const [result] = await upload(1, [op]);
      expect(result).toMatchObject({ status: 'applied', version: '1' });
      expect((await t.tenantStore.getRecord('account', guid(1)))?.version).toBe('1');
      expect((await upload(1, [op]))[0]?.status).toBe('duplicate');
    });

    it('after a crash before applying, applies the operation on the retry', async () => {
      const op = createAccountA;
      await claimFor(op);
      const [result] = await upload(1, [op]);
      expect(result).toMatchObject({ status: 'applied', version: '1' });
    });

    it('rejects a row nested too deep to serialize even when an earlier delivery left it pending', async () => {
      // What a device stuck before the upload limits holds: its receipt pending, the row 5,000 deep.
      const op: UploadOperation = {
        ...createAccountA,
        row: { name: JSON.parse(`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`) as unknown },
      };
      await claimFor(op);
      const [result] = await upload(1, [op]);
      expect(result).toMatchObject({ status: 'rejected', error: { code: 'ValidationFailed' } });
      const [entry] = await listSyncErrors(t.tenantStore, { userId: 'u1', limit: 10 });
      expect(entry).toMatchObject({ opId: 'p', errorCode: 'ValidationFailed' });
      expect(entry?.data).toBeUndefined();
      expect((await upload(1, [op]))[0]?.status).toBe('duplicate');
    });
  });

  it('processes every operation on its own: one bad operation does not block the others', async () => {
    const results = await upload(1, [
      { opId: '1', entity: 'account', id: guid(1), op: 'create', row: { name: 'A' } },
      { opId: '2', entity: 'account', id: guid(2), op: 'create', row: { name: 'B', shoesize: 1 } },
      { opId: '3', entity: 'account', id: guid(3), op: 'update', row: { name: 'C' } },
      { opId: '4', entity: 'account', id: guid(4), op: 'create', row: { name: 'D' } },
    ]);
    expect(results.map((r) => [r.opId, r.status])).toEqual([
      ['1', 'applied'],
      ['2', 'rejected'],
      ['3', 'rejected'],
      ['4', 'applied'],
    ]);
  });

  it('refuses a batch of more than 500 operations as too large', async () => {
    const operations = Array.from({ length: 501 }, (_, i): UploadOperation => ({
      opId: String(i),
      entity: 'account',
      id: guid(i),
      op: 'create',
      row: { name: 'A' },
    }));
    await expect(upload(1, operations)).rejects.toMatchObject({ code: 'PayloadTooLarge' });
    expect(await t.tenantStore.countRecords('account')).toBe(0);
  });

  describe('sync error log', () => {
    it('logs every rejected and conflicting operation with its type, code and the data sent', async () => {
      await t.setConflictDetection(true);
      await seedAccount(guid(1), '2', { name: 'A', ...owned('u1', 'east') });
      await upload(1, [
        { opId: '1', entity: 'account', id: guid(1), op: 'update', row: { name: 'B' }, baseVersion: '1' },
        { opId: '2', entity: 'account', id: guid(9), op: 'delete' },
        { opId: '3', entity: 'account', id: guid(3), op: 'create', row: { name: 'C', ownerid: 'u2' } },
        { opId: '4', entity: 'account', id: guid(4), op: 'create', row: { shoesize: 1 } },
        { opId: '5', entity: 'account', id: guid(5), op: 'create', row: { name: 'ok' } },
      ]);
      const entries = await listSyncErrors(t.tenantStore, { limit: 100 });
      expect(entries.map((e) => [e.opId, e.errorType, e.errorCode]).sort()).toEqual([
        ['1', 'Conflict', 'Conflict'],
        ['2', 'RecordNotFound', 'NotFound'],
        ['3', 'PrivilegeDenied', 'PrivilegeDenied'],
        ['4', 'ValidationFailed', 'ValidationFailed'],
      ]);
      const conflict = entries.find((e) => e.opId === '1');
      expect(conflict).toMatchObject({
        userId: 'u1',
        deviceId: DEVICE,
        app: APP,
        entity: 'account',
        recordId: guid(1),
        operation: 'update',
        baseVersion: '1',
        data: { name: 'B' },
        state: 'open',
        time: '2026-01-15T12:00:00.000Z',
      });
    });

    it('lists newest first, filtered by user, device and entity, up to the limit', async () => {
      await upload(1, [{ opId: '1', entity: 'account', id: guid(1), op: 'delete' }], 'd1');
      t.clock.advance(1000);
      await upload(2, [{ opId: '1', entity: 'account', id: guid(2), op: 'delete' }], 'd1');
      t.clock.advance(1000);
      await upload(1, [{ opId: '2', entity: 'contact', id: guid(3), op: 'delete' }], 'd2');
      const all = await listSyncErrors(t.tenantStore, { limit: 10 });
      expect(all.map((e) => e.recordId)).toEqual([guid(3), guid(2), guid(1)]);
      expect(
        (await listSyncErrors(t.tenantStore, { userId: 'U1', limit: 10 })).map((e) => e.recordId),
      ).toEqual([guid(3), guid(1)]);
      expect((await listSyncErrors(t.tenantStore, { userId: 'u1', deviceId: 'd1', limit: 10 })).length).toBe(
        1,
      );
      expect((await listSyncErrors(t.tenantStore, { entity: 'contact', limit: 10 })).length).toBe(1);
      expect((await listSyncErrors(t.tenantStore, { limit: 2 })).length).toBe(2);
    });

    it('retries a logged operation as its user: resolved once it applies, retried while it fails', async () => {
      await upload(1, [{ opId: '1', entity: 'account', id: guid(1), op: 'update', row: { name: 'Device' } }]);
      const [entry] = await listSyncErrors(t.tenantStore, { limit: 1 });
      const again = await retrySyncError(t.deps, entry!.id);
      expect(again.result.error?.code).toBe('NotFound');
      expect(again.entry.state).toBe('retried');

      await seedAccount(guid(1), '1', { name: 'Server', ...owned('u1', 'east') });
      const resolved = await retrySyncError(t.deps, entry!.id);
      expect(resolved.result).toMatchObject({ status: 'applied', version: '2' });
      expect(resolved.entry).toMatchObject({
        state: 'resolved',
        lastRetry: { result: { status: 'applied' } },
      });
      expect((await t.tenantStore.getRecord('account', guid(1)))?.attributes.name).toBe('Device');
    });

    it('answers a retry of a missing entry with NotFound', async () => {
      await expect(retrySyncError(t.deps, '000000000000000-x')).rejects.toMatchObject({ code: 'NotFound' });
    });
  });
});

/** A Dataverse stand-in: records writes; answers with the next queued result or error. */
class FakeDataverseSource implements Pick<Source, 'kind' | 'writeChange'> {
  readonly kind = 'dataverse' as const;
  readonly writes: SourceWrite[] = [];
  readonly answers: (SourceWriteResult | AppError)[] = [];
  writeChange(change: SourceWrite): Promise<SourceWriteResult> {
    this.writes.push(change);
    const answer = this.answers.shift();
    if (answer === undefined) throw new Error('unexpected write');
    return answer instanceof AppError ? Promise.reject(answer) : Promise.resolve(answer);
  }
}

describe('dataverse tenant', () => {
  let source: FakeDataverseSource;
  beforeEach(async () => {
    source = new FakeDataverseSource();
    t = await createUploadTestTenant({
      source: { kind: 'dataverse', url: 'https://contoso.crm.dynamics.com' },
      sourceFor: () => source as unknown as Source,
    });
  });

  it('writes to Dataverse on behalf of the user first, then stores the row at the version Dataverse gave', async () => {
    source.answers.push({
      version: '470867',
      attributes: { accountid: guid(1), name: 'A', ownerid: 'u1', owningbusinessunit: 'east' },
    });
    const [result] = await upload(1, [
      { opId: '1', entity: 'account', id: guid(1), op: 'create', row: { name: 'A' } },
    ]);
    expect(result).toMatchObject({ status: 'applied', version: '470867' });
    expect(source.writes).toEqual([
      { entity: 'account', id: guid(1), op: 'create', attributes: { name: 'A' }, callerObjectId: oid(1) },
    ]);
    const stored = await t.tenantStore.getRecord('account', guid(1));
    expect(stored?.version).toBe('470867');
    expect(stored?.attributes.name).toBe('A');
  });

  it('refuses ids that are not GUIDs before reaching Dataverse', async () => {
    const [result] = await upload(1, [
      { opId: '1', entity: 'account', id: 'acc-1', op: 'create', row: { name: 'A' } },
    ]);
    expect(result?.error?.details?.map((d) => d.path)).toEqual(['id']);
    expect(source.writes).toEqual([]);
  });

  it('with conflict detection on, sends the base version and answers a 412 as a conflict with the stored row', async () => {
    await t.setConflictDetection(true);
    await seedAccount(guid(1), '100', { name: 'Stored', ...owned('u1', 'east') });
    source.answers.push(
      new AppError('PreconditionFailed', 'The version of the existing record does not match.'),
    );
    const [result] = await upload(1, [
      {
        opId: '1',
        entity: 'account',
        id: guid(1),
        op: 'update',
        row: { name: 'Device' },
        baseVersion: '100',
      },
    ]);
    expect(source.writes[0]?.baseVersion).toBe('100');
    expect(result).toMatchObject({ status: 'conflict', version: '100', row: { name: 'Stored' } });
    expect((await t.tenantStore.getRecord('account', guid(1)))?.version).toBe('100');
    expect((await listSyncErrors(t.tenantStore, { limit: 10 }))[0]?.errorType).toBe('Conflict');
  });

  it('with conflict detection off, writes without a base version', async () => {
    await seedAccount(guid(1), '100', { name: 'Stored', ...owned('u1', 'east') });
    source.answers.push({
      version: '120',
      attributes: { accountid: guid(1), name: 'Device', ...owned('u1', 'east') },
    });
    const [result] = await upload(1, [
      { opId: '1', entity: 'account', id: guid(1), op: 'update', row: { name: 'Device' }, baseVersion: '90' },
    ]);
    expect(source.writes[0]?.baseVersion).toBeUndefined();
    expect(result).toMatchObject({ status: 'applied', version: '120' });
  });

  it('stores a tombstone after Dataverse deletes the row', async () => {
    await seedAccount(guid(1), '100', { name: 'Stored', ...owned('u1', 'east') });
    source.answers.push({ version: undefined, attributes: {} });
    const [result] = await upload(1, [{ opId: '1', entity: 'account', id: guid(1), op: 'delete' }]);
    expect(result).toMatchObject({ status: 'applied', version: '101' });
    expect((await t.tenantStore.getRecord('account', guid(1)))?.deleted).toBe(true);
  });

  it('passes Dataverse refusals on as rejections', async () => {
    await seedAccount(guid(1), '100', { name: 'Stored', ...owned('u1', 'east') });
    source.answers.push(new AppError('PrivilegeDenied', 'Principal user is missing prvWriteAccount.'));
    const [result] = await upload(1, [
      { opId: '1', entity: 'account', id: guid(1), op: 'update', row: { name: 'X' } },
    ]);
    expect(result).toMatchObject({ status: 'rejected', error: { code: 'PrivilegeDenied' } });
    expect((await t.tenantStore.getRecord('account', guid(1)))?.attributes.name).toBe('Stored');
  });

  it('does not record a passing failure: the same operation id runs again on the retry', async () => {
    source.answers.push(new AppError('SourceUnavailable', 'Dataverse did not answer.'));
    const op: UploadOperation = {
      opId: '1',
      entity: 'account',
      id: guid(1),
      op: 'create',
      row: { name: 'A' },
    };
    const [first] = await upload(1, [op]);
    expect(first).toMatchObject({ status: 'rejected', error: { code: 'SourceUnavailable' } });
    expect(await listSyncErrors(t.tenantStore, { limit: 10 })).toEqual([]);
    source.answers.push({
      version: '5',
      attributes: { accountid: guid(1), name: 'A', ...owned('u1', 'east') },
    });
    const [second] = await upload(1, [op]);
    expect(second).toMatchObject({ status: 'applied', version: '5' });
  });
});
