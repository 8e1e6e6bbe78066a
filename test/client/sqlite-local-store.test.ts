import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPendingOperations } from '../../client';
import { createSqliteLocalStore, type SqliteLocalStore } from '../../client/sqlite';
import type { SyncMetadataResponse } from '../../shared/sync/sync-protocol';

function metadata(version: number, entities: string[]): SyncMetadataResponse {
  return {
    app: 'field-sales',
    profile: { id: 'p', name: 'P', version: 1 },
    entities: entities.map((logicalName) => ({
      logicalName,
      primaryIdAttribute: `${logicalName}id`,
      primaryNameAttribute: 'name',
      ownership: 'user',
      attributes: [{ name: 'name', type: 'string', required: false, secured: false, readable: true }],
      relationships: [],
    })),
    metadataVersion: version,
    profileVersion: 1,
    directoryVersion: 1,
    syncIntervalSeconds: 900,
  };
}

describe('better-sqlite3 local store', () => {
  let dir: string;
  let store: SqliteLocalStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-store-'));
    store = createSqliteLocalStore(join(dir, 'device.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits a page of rows and its checkpoint together, or neither', async () => {
    await store.transaction(async (tx) => {
      await tx.saveMetadata(metadata(1, ['account']));
      await tx.putRow({ entity: 'account', id: 'a1', row: { name: 'one' }, version: '1', pending: false });
      await tx.saveCheckpoint('cp-1');
    });
    const failing = store.transaction(async (tx) => {
      await tx.putRow({ entity: 'account', id: 'a2', row: { name: 'two' }, version: '2', pending: false });
      await tx.deleteRow('account', 'a1');
      throw new Error('crash mid-page');
    });
    await expect(failing).rejects.toThrow('crash mid-page');
    await store.transaction(async (tx) => {
      expect((await tx.readState()).checkpoint).toBe('cp-1');
      expect((await tx.listRows('account')).map((r) => r.id)).toEqual(['a1']);
    });
  });

  it('checkpoints its log every 4,000 pages, and into the file when closed', async () => {
    expect(store.database.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    const row = { name: 'x'.repeat(600) };
    await store.transaction(async (tx) => {
      await tx.saveMetadata(metadata(1, ['account']));
      for (let i = 0; i < 3000; i++)
        await tx.putRow({ entity: 'account', id: `a${i}`, row, version: '1', pending: false });
      await tx.saveCheckpoint('cp-1');
    });
    const path = join(dir, 'device.db');
    expect(existsSync(`${path}-wal`)).toBe(true);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    store = createSqliteLocalStore(path);
    await store.transaction(async (tx) => {
      expect((await tx.readState()).checkpoint).toBe('cp-1');
      expect(await tx.listRows('account')).toHaveLength(3000);
    });
  });

  it('keeps rows when new metadata arrives, and creates tables for new entities', async () => {
    await store.transaction(async (tx) => {
      await tx.saveMetadata(metadata(1, ['account']));
      await tx.putRow({ entity: 'account', id: 'a1', row: { name: 'one' }, version: '1', pending: false });
    });
    await store.transaction((tx) => tx.saveMetadata(metadata(2, ['account', 'contact'])));
    await store.close();
    store = createSqliteLocalStore(join(dir, 'device.db'));
    await store.transaction(async (tx) => {
      expect((await tx.readState()).metadata?.metadataVersion).toBe(2);
      expect(await tx.getRow('account', 'a1')).toMatchObject({
        row: { name: 'one' },
        version: '1',
        pending: false,
      });
      expect(await tx.listRows('contact')).toEqual([]);
    });
    const tables = store.database
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rows_%'",
      )
      .all()
      .map((t) => t.name);
    expect(tables.sort()).toEqual(['rows_account', 'rows_contact']);
  });

  it('keeps the outbox in order and the saved server image of pending rows', async () => {
    await store.transaction(async (tx) => {
      await tx.putRow({
        entity: 'account',
        id: 'a1',
        row: { name: 'local' },
        version: '3',
        serverRow: { name: 'server' },
        pending: true,
      });
      await tx.addOutbox({
        opId: 'op-1',
        entity: 'account',
        id: 'a1',
        op: 'update',
        row: { name: 'local' },
        baseVersion: '3',
        createdAt: 't',
      });
      await tx.addOutbox({
        opId: 'op-2',
        entity: 'account',
        id: 'a1',
        op: 'delete',
        afterOpId: 'op-1',
        createdAt: 't',
      });
    });
    await store.transaction(async (tx) => {
      expect((await tx.listOutbox()).map((e) => [e.opId, e.op, e.baseVersion, e.afterOpId])).toEqual([
        ['op-1', 'update', '3', undefined],
        ['op-2', 'delete', undefined, 'op-1'],
      ]);
      expect(await tx.getRow('account', 'a1')).toMatchObject({
        serverRow: { name: 'server' },
        pending: true,
      });
    });
  });

  it('lays pending operations over a server image', () => {
    const server = { name: 'server', city: 'Oslo' };
    expect(applyPendingOperations(server, [])).toEqual(server);
    const update = {
      opId: 'u',
      seq: 1,
      entity: 'a',
      id: '1',
      op: 'update' as const,
      row: { name: 'mine' },
      createdAt: 't',
    };
    expect(applyPendingOperations(server, [update])).toEqual({ name: 'mine', city: 'Oslo' });
    expect(
      applyPendingOperations(server, [update, { ...update, opId: 'd', seq: 2, op: 'delete' }]),
    ).toBeNull();
    expect(applyPendingOperations(null, [update])).toBeNull();
  });
});
