import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncClient, type SyncClient, type SyncClientOptions } from '../../client';
import { createSqliteLocalStore, type SqliteLocalStore } from '../../client/sqlite';
import { DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { DEMO_APP_ID } from '../../local/demo/seed-demo-tenant';
import { loadDirectory } from '../../shared/admin/directory-store';
import { ADMIN_ROLE } from '../../shared/auth/principal';
import type { DirectoryUser } from '../../shared/model/directory';
import type { HostFixture } from '../support/local-host-fixture';

/** A simulated device: an SDK client over its own SQLite file. */
export interface TestDevice {
  user: DirectoryUser;
  deviceId: string;
  client: SyncClient;
  store: SqliteLocalStore;
  path: string;
}

/** Snapshot of a device's rows: `entity/id` → version and columns. */
export type DeviceSnapshot = Map<
  string,
  { version: string | undefined; row: Record<string, unknown> | null }
>;

/** Opens simulated devices against a host fixture; `close()` closes them and removes their files. */
export function deviceFactory(f: HostFixture) {
  const folder = mkdtempSync(join(tmpdir(), 'offline-sync-devices-'));
  const opened: TestDevice[] = [];
  let count = 0;
  return {
    folder,
    async adminToken(): Promise<string> {
      return f.token({
        oid: '33333333-3333-4333-8333-333333333333',
        tid: DEMO_ENTRA_TENANT_ID,
        roles: [ADMIN_ROLE],
      });
    },
    async user(userName: string): Promise<DirectoryUser> {
      const directory = await loadDirectory(f.host.runtime.services.store.tenant(DEMO_ORG));
      const user = directory.users.find((u) => u.userName === userName);
      if (!user) throw new Error(`no demo user ${userName}`);
      return user;
    },
    /** Opens a device; `path` reopens an existing device file (same device id). */
    async open(
      userName: string,
      options: Partial<SyncClientOptions> & { reuse?: TestDevice } = {},
    ): Promise<TestDevice> {
      const user = await this.user(userName);
      const n = ++count;
      const deviceId = options.reuse?.deviceId ?? `test-${userName}-${n}`;
      const path = options.reuse?.path ?? join(folder, `${userName}-${n}.db`);
      const store = createSqliteLocalStore(path);
      const token = await f.token({ oid: user.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
      const client = createSyncClient({
        baseUrl: f.host.url,
        org: DEMO_ORG,
        app: DEMO_APP_ID,
        deviceId,
        getToken: () => token,
        store,
        sleep: async () => undefined,
        // Every answer the device receives is checked against the OpenAPI document.
        fetch: f.fetch,
        ...options,
      });
      const device = { user, deviceId, client, store, path };
      opened.push(device);
      return device;
    },
    async close(): Promise<void> {
      for (const d of opened) await d.store.close().catch(() => undefined);
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Every row a device holds, by `entity/id`. */
export async function snapshot(device: TestDevice): Promise<DeviceSnapshot> {
  const metadata = await device.client.metadata();
  const result: DeviceSnapshot = new Map();
  for (const entity of metadata?.entities ?? []) {
    const rows = await device.store.transaction((tx) => tx.listRows(entity.logicalName));
    for (const r of rows) result.set(`${entity.logicalName}/${r.id}`, { version: r.version, row: r.row });
  }
  return result;
}
