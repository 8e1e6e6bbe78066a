import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncClient } from '../../client';
import { createMemoryLocalStore } from '../../client/memory';
import { runDeviceApp } from '../../examples/device-app';
import { loadDirectory } from '../../shared/admin/directory-store';
import { DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

describe('examples/device-app.ts (the README snippet)', () => {
  let f: HostFixture;
  let dir: string;
  beforeAll(async () => {
    f = await startHostFixture({ DEMO_ROWS: '60' });
    dir = mkdtempSync(join(tmpdir(), 'sdk-example-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f.close();
  });

  it("syncs dave's rows, uploads an offline edit and a new contact, and the server has both", async () => {
    const directory = await loadDirectory(f.host.runtime.services.store.tenant(DEMO_ORG));
    const dave = directory.users.find((u) => u.userName.startsWith('dave'))!;
    const token = await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
    const lines: string[] = [];
    const { first, second, contactId } = await runDeviceApp({
      baseUrl: f.host.url,
      getToken: () => token,
      dbPath: join(dir, 'dave.db'),
      log: (line) => lines.push(line),
    });
    expect(first.downloaded).toBeGreaterThan(0);
    expect(second).toMatchObject({ uploaded: 2, rejected: 0, conflicts: 0 });
    expect(lines).toContain('done 100% 1/1');
    // Another device of dave's receives both from the server.
    const other = createSyncClient({
      baseUrl: f.host.url,
      org: DEMO_ORG,
      app: 'field-sales',
      deviceId: 'dave-laptop',
      getToken: () => token,
      store: createMemoryLocalStore(),
    });
    await other.sync();
    expect(await other.get('contact', contactId)).toMatchObject({ fullname: 'New Buyer' });
    const [account] = await other.table('account').orderBy('name').limit(1).get();
    expect(account).toMatchObject({ telephone1: '+1 555 0100' });
  });
});
