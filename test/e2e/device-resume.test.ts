import { loadDirectory } from '../../shared/admin/directory-store';
import { join } from 'node:path';
import { SyncClientError, type LocalStore, type LocalStoreTransaction } from '../../client';
import { createSqliteLocalStore } from '../../client/sqlite';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';
import { deviceFactory, snapshot, type DeviceSnapshot } from './device-fixture';

/** The URL a fetch call asks for (the SDK passes strings). */
const urlOf = (input: string | URL | Request): string =>
  typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;

const sorted = (s: DeviceSnapshot) => [...s.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Interrupted downloads resumed from the saved checkpoint, and removals after a directory change. */
describe('device SDK: resume and removals', () => {
  let f: HostFixture;
  let devices: ReturnType<typeof deviceFactory>;

  beforeAll(async () => {
    f = await startHostFixture();
    devices = deviceFactory(f);
  });
  afterAll(async () => {
    await devices.close();
    await f.close();
  });

  it('an interrupted download resumes from the saved checkpoint without duplicates', async () => {
    const reference = await devices.open('erin');
    await reference.client.sync();
    const expected = await snapshot(reference);

    // The network dies for good after two download pages.
    let pages = 0;
    const dying: typeof fetch = async (input, init) => {
      if (urlOf(input).endsWith('/download') && ++pages > 2) throw new TypeError('fetch failed');
      return f.fetch(input, init);
    };
    const device = await devices.open('erin', { fetch: dying, pageSize: 8, retry: { maxAttempts: 3 } });
    await expect(device.client.sync()).rejects.toMatchObject({ code: 'Network' });
    await expect(device.client.sync()).rejects.toBeInstanceOf(SyncClientError);
    const partial = await snapshot(device);
    expect(partial.size).toBeGreaterThan(0);
    expect(partial.size).toBeLessThan(expected.size);
    const saved = (await device.store.transaction((tx) => tx.readState())).checkpoint;
    expect(saved).toBeDefined();
    await device.store.close();

    // The app restarts on the same file: the first request carries the saved checkpoint.
    const bodies: Array<{ checkpoint?: string }> = [];
    const watching: typeof fetch = async (input, init) => {
      if (urlOf(input).endsWith('/download'))
        bodies.push(JSON.parse(init?.body as string) as { checkpoint?: string });
      return f.fetch(input, init);
    };
    const resumed = await devices.open('erin', { reuse: device, fetch: watching, pageSize: 8 });
    const summary = await resumed.client.sync();
    expect(bodies[0]?.checkpoint).toBe(saved);
    expect(summary.downloaded).toBe(expected.size - partial.size);
    expect(sorted(await snapshot(resumed))).toEqual(sorted(expected));
  });

  it('a lost response is retried with the same checkpoint and the page is sent again', async () => {
    let calls = 0;
    // Every third download is served by the host but its answer never reaches the device.
    const lossy: typeof fetch = async (input, init) => {
      const response = await f.fetch(input, init);
      if (urlOf(input).endsWith('/download') && ++calls % 3 === 0) {
        await response.body?.cancel();
        throw new TypeError('socket hang up');
      }
      return response;
    };
    const sleeps: number[] = [];
    const device = await devices.open('grace', {
      fetch: lossy,
      pageSize: 8,
      sleep: async (ms) => void sleeps.push(ms),
    });
    const fresh = await devices.open('grace');
    await fresh.client.sync();
    await device.client.sync();
    expect(sleeps.length).toBeGreaterThan(0);
    expect(sorted(await snapshot(device))).toEqual(sorted(await snapshot(fresh)));
  });

  it('a page cut off after the next was asked for is sent again: the download goes on, nothing sent twice', async () => {
    const reference = await devices.open('heidi');
    await reference.client.sync();
    const expected = await snapshot(reference);

    let downloads = 0;
    const asked: Promise<unknown>[] = [];
    const cutting: typeof fetch = async (input, init) => {
      if (!urlOf(input).endsWith('/download')) return f.fetch(input, init);
      const n = ++downloads;
      const answer = f.fetch(input, init);
      asked.push(answer.then((r) => r.clone().arrayBuffer()).catch(() => undefined));
      const response = await answer;
      if (n !== 2) return response;
      // Page 2's headers arrive whole (the SDK asks for page 3 with them); then its body breaks off.
      const body = new Uint8Array(await response.arrayBuffer()).slice(0, 32);
      const broken = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(body);
          controller.error(new TypeError('terminated'));
        },
      });
      return new Response(broken, { status: response.status, headers: response.headers });
    };
    const device = await devices.open('heidi', { fetch: cutting, pageSize: 8 });
    await expect(device.client.sync()).rejects.toMatchObject({ code: 'Network' });
    await Promise.all(asked);
    expect(downloads).toBe(3);
    const partial = await snapshot(device);
    expect(partial.size).toBeGreaterThan(0);

    // The next sync presents page 1's checkpoint: the host takes pages 2 and 3 back and goes on from
    // there, so nothing the device holds is sent again (a new download would send it all).
    const summary = await device.client.sync();
    expect(summary.downloaded).toBe(expected.size - partial.size);
    expect(sorted(await snapshot(device))).toEqual(sorted(expected));
  });

  it('a page whose local write fails after the next was asked for is sent again, with nothing sent twice', async () => {
    const reference = await devices.open('ivan');
    await reference.client.sync();
    const expected = await snapshot(reference);

    let downloads = 0;
    const asked: Promise<unknown>[] = [];
    const counting: typeof fetch = async (input, init) => {
      if (!urlOf(input).endsWith('/download')) return f.fetch(input, init);
      downloads += 1;
      const answer = f.fetch(input, init);
      asked.push(answer.then((r) => r.clone().arrayBuffer()).catch(() => undefined));
      return answer;
    };
    // The device's disk fails while page 2 is written (its rows and checkpoint roll back together);
    // page 3 was asked for on page 2's headers by then.
    const file = createSqliteLocalStore(join(devices.folder, 'ivan-failing.db'));
    let checkpoints = 0;
    const failing: LocalStore = {
      transaction: (work) =>
        file.transaction((tx) =>
          work(
            Object.assign(Object.create(tx) as LocalStoreTransaction, {
              saveCheckpoint: async (checkpoint: string | undefined) => {
                if (checkpoint !== undefined && ++checkpoints === 2) throw new Error('disk I/O error');
                return tx.saveCheckpoint(checkpoint);
              },
            }),
          ),
        ),
      close: () => file.close(),
    };
    const device = await devices.open('ivan', { fetch: counting, pageSize: 8, store: failing });
    await expect(device.client.sync()).rejects.toThrow('disk I/O error');
    await Promise.all(asked);
    expect(downloads).toBe(3);
    const partial = await snapshot({ ...device, store: file });
    expect(partial.size).toBe(8);

    // The next sync presents page 1's checkpoint: the host takes pages 2 and 3 back and goes on.
    const summary = await device.client.sync();
    expect(summary.downloaded).toBe(expected.size - partial.size);
    expect(sorted(await snapshot({ ...device, store: file }))).toEqual(sorted(expected));
    await file.close();
  });

  it('rows no longer in the set after a directory change disappear from the device', async () => {
    const dave = await devices.open('dave');
    await dave.client.sync();
    const teamRows = (await dave.client.list('account')).filter((r) => r.ownerid === 'team-east');
    expect(teamRows.length).toBeGreaterThan(0);

    // Dave moves from East to West (business unit and team).
    const directory = await loadDirectory(f.host.runtime.services.store.tenant('contoso'));
    const moved = {
      ...directory,
      users: directory.users.map((u) => (u.id === dave.user.id ? { ...u, businessUnitId: 'bu-west' } : u)),
      teams: directory.teams.map((t) =>
        t.id === 'team-east'
          ? { ...t, memberIds: t.memberIds.filter((m) => m !== dave.user.id) }
          : t.id === 'team-west'
            ? { ...t, memberIds: [...t.memberIds, dave.user.id] }
            : t,
      ),
    };
    const put = await f.request('PUT', '/api/admin/contoso/directory', {
      token: await devices.adminToken(),
      body: moved,
    });
    expect(put.status).toBe(200);

    const summary = await dave.client.sync();
    expect(summary.removed).toBeGreaterThanOrEqual(teamRows.length);
    for (const row of teamRows)
      expect(await dave.client.get('account', String(row.accountid))).toBeUndefined();
    const owners = new Set((await dave.client.list('account')).map((r) => r.ownerid));
    expect(owners.has('team-east')).toBe(false);

    const fresh = await devices.open('dave');
    await fresh.client.sync();
    expect(sorted(await snapshot(dave))).toEqual(sorted(await snapshot(fresh)));
  });
});
