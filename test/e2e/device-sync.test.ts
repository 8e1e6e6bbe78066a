import { startHostFixture, type HostFixture } from '../support/local-host-fixture';
import { deviceFactory, snapshot, type TestDevice } from './device-fixture';

/**
 * Two simulated devices of different users against the local host (SPEC §6): initial download,
 * offline edits seen by the other user, a conflict under each setting, a rejected edit.
 */
describe('device SDK against the local host', () => {
  let f: HostFixture;
  let devices: ReturnType<typeof deviceFactory>;
  let dave: TestDevice; // a seller in East
  let bob: TestDevice; // East's sales manager: sees East's rows

  beforeAll(async () => {
    f = await startHostFixture();
    devices = deviceFactory(f);
    dave = await devices.open('dave');
    bob = await devices.open('bob');
  });
  afterAll(async () => {
    await devices.close();
    await f.close();
  });

  /** An account dave owns that bob's device also holds. */
  async function sharedAccount(): Promise<{ id: string; row: Record<string, unknown> }> {
    const bobs = new Set((await bob.client.list('account')).map((r) => r.accountid));
    const row = (await dave.client.list('account')).find(
      (r) => r.ownerid === dave.user.id && bobs.has(r.accountid),
    );
    if (!row) throw new Error('no account shared by dave and bob');
    return { id: String(row.accountid), row };
  }

  it('downloads exactly what the server lets the user hold, the same on a second fresh device', async () => {
    const progress: number[] = [];
    const first = await dave.client.sync();
    await bob.client.sync();
    const again = await devices.open('dave', {
      onProgress: (p) => p.phase === 'download' && progress.push(p.percent),
    });
    const second = await again.client.sync();

    const a = await snapshot(dave);
    const b = await snapshot(again);
    expect(a.size).toBeGreaterThan(0);
    expect(first.downloaded).toBe(a.size);
    expect(second.downloaded).toBe(b.size);
    expect([...b.entries()].sort()).toEqual([...a.entries()].sort());
    expect(first.metadataChanged).toBe(true);
    expect(first.nextSyncSeconds).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(100);

    // A seller holds only his own and his team's business rows, never the secured credit limit.
    const accounts = await dave.client.list('account');
    expect(accounts.length).toBeGreaterThan(0);
    for (const account of accounts) {
      expect([dave.user.id, 'team-east']).toContain(account.ownerid);
      expect(account).not.toHaveProperty('creditlimit');
    }
    // The manager sees more of the business unit than the seller.
    expect((await bob.client.list('account')).length).toBeGreaterThan(accounts.length);

    // A second sync with nothing changed moves nothing.
    const idle = await dave.client.sync();
    expect(idle).toMatchObject({ uploaded: 0, downloaded: 0, removed: 0 });
  });

  it('applies offline edits at once, uploads them, and the other user sees them', async () => {
    const { id } = await sharedAccount();
    await dave.client.update('account', id, { name: 'Edited offline by dave' });
    const contactId = await dave.client.create('contact', {
      fullname: 'New Offline Contact',
      jobtitle: 'Buyer',
    });
    expect((await dave.client.get('account', id))?.name).toBe('Edited offline by dave');
    expect((await dave.client.pending()).map((e) => e.op)).toEqual(['update', 'create']);

    const summary = await dave.client.sync();
    expect(summary).toMatchObject({ uploaded: 2, conflicts: 0, rejected: 0 });
    expect(await dave.client.pending()).toEqual([]);
    const created = await dave.client.get('contact', contactId);
    expect(created).toMatchObject({ fullname: 'New Offline Contact', ownerid: dave.user.id });

    await bob.client.sync();
    expect((await bob.client.get('account', id))?.name).toBe('Edited offline by dave');
    expect((await bob.client.get('contact', contactId))?.fullname).toBe('New Offline Contact');

    // Dave's device equals a fresh download of the same user after the round trip.
    const fresh = await devices.open('dave');
    await fresh.client.sync();
    expect([...(await snapshot(fresh)).entries()].sort()).toEqual(
      [...(await snapshot(dave)).entries()].sort(),
    );
  });

  it('conflict detection off: the device wins column by column', async () => {
    const { id } = await sharedAccount();
    await dave.client.update('account', id, { name: 'Dave name (off)' });
    await bob.client.update('account', id, { telephone1: '+1 555 0100' });
    expect((await bob.client.sync()).uploaded).toBe(1);

    const summary = await dave.client.sync();
    expect(summary).toMatchObject({ uploaded: 1, conflicts: 0 });
    expect(await dave.client.get('account', id)).toMatchObject({
      name: 'Dave name (off)',
      telephone1: '+1 555 0100',
    });
    await bob.client.sync();
    expect(await bob.client.get('account', id)).toMatchObject({
      name: 'Dave name (off)',
      telephone1: '+1 555 0100',
    });
  });

  it('a rejected edit is reverted locally and listed in the local sync errors', async () => {
    // Everyone may read users; a seller may not write them.
    const [user] = await dave.client.list('systemuser');
    const id = String(user!.systemuserid);
    const before = await dave.client.get('systemuser', id);
    await dave.client.update('systemuser', id, { fullname: 'Renamed by a seller' });
    expect((await dave.client.get('systemuser', id))?.fullname).toBe('Renamed by a seller');

    const summary = await dave.client.sync();
    expect(summary).toMatchObject({ rejected: 1, uploaded: 0 });
    expect(await dave.client.get('systemuser', id)).toEqual(before);
    expect(await dave.client.pending()).toEqual([]);
    const errors = await dave.client.syncErrors();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      entity: 'systemuser',
      recordId: id,
      op: 'update',
      status: 'rejected',
      row: { fullname: 'Renamed by a seller' },
      error: { code: 'PrivilegeDenied' },
    });
    expect((await dave.client.serverSyncErrors()).map((e) => e.opId)).toContain(errors[0]!.id);

    // A retry records it again; refused again, it is listed again under the new operation.
    await dave.client.retrySyncError(errors[0]!.id);
    expect((await dave.client.get('systemuser', id))?.fullname).toBe('Renamed by a seller');
    expect((await dave.client.sync()).rejected).toBe(1);
    const after = await dave.client.syncErrors();
    expect(after).toHaveLength(1);
    expect(after[0]!.id).not.toBe(errors[0]!.id);
    await dave.client.dismissSyncError(after[0]!.id);
    expect(await dave.client.syncErrors()).toEqual([]);
    expect(await dave.client.get('systemuser', id)).toEqual(before);
  });

  it('conflict detection on: the server row wins on the device', async () => {
    const settings = await f.request('PUT', '/api/admin/contoso/settings', {
      token: await devices.adminToken(),
      body: { conflictDetection: true },
    });
    expect(settings.status).toBe(200);

    const { id } = await sharedAccount();
    await dave.client.update('account', id, { name: 'Dave name (on)', websiteurl: 'https://dave.example' });
    await bob.client.update('account', id, { name: 'Bob name (on)' });
    expect((await bob.client.sync()).uploaded).toBe(1);

    const summary = await dave.client.sync();
    expect(summary).toMatchObject({ uploaded: 0, conflicts: 1 });
    const row = await dave.client.get('account', id);
    expect(row?.name).toBe('Bob name (on)');
    expect(row?.websiteurl).not.toBe('https://dave.example');
    // The same row as the manager's, but for the secured column the seller may not read.
    const { creditlimit: _secured, ...bobsRow } = (await bob.client.get('account', id))!;
    expect(row).toEqual(bobsRow);
    const conflict = (await dave.client.syncErrors()).find((e) => e.recordId === id);
    expect(conflict).toMatchObject({ status: 'conflict', op: 'update' });
  });
});
