import { SyncClientError } from '../../client';
import {
  INITIAL_SYNC_STATUS,
  nextSyncStatus,
  type SyncStatus,
  type SyncStatusEvent,
} from '../../client/sync-status';
import { fakeSyncServer, testClient } from './client-fixtures';

const idle = INITIAL_SYNC_STATUS;
const checking: SyncStatus = { ...idle, phase: 'checking' };
const uploading: SyncStatus = { ...idle, phase: 'uploading', uploading: true, upload: { done: 1, total: 3 } };
const downloading: SyncStatus = {
  ...idle,
  phase: 'downloading',
  downloading: true,
  download: { done: 10, total: 20, percent: 50, initial: true, entities: { account: 10 } },
};
const failedOffline: SyncStatus = {
  ...idle,
  online: false,
  lastError: { code: 'Network', message: 'POST download failed: fetch failed' },
};
const synced: SyncStatus = { ...idle, hasSynced: true, lastSyncedAt: '2026-01-01T00:00:00.000Z' };
const network = { code: 'Network', message: 'POST download failed: fetch failed' };
const forbidden = { code: 'Forbidden', message: 'No.' };

describe('SyncStatus transitions (nextSyncStatus)', () => {
  const table: [string, SyncStatus, SyncStatusEvent, SyncStatus][] = [
    ['idle, sync() starts: checking', idle, { type: 'started' }, checking],
    [
      'checking, an upload batch answered: uploading with counts, online',
      { ...checking, online: false },
      { type: 'upload', done: 1, total: 3 },
      uploading,
    ],
    [
      'checking, outbox empty, first page applied: downloading',
      checking,
      { type: 'download', done: 10, total: 20, percent: 50, initial: true, entities: { account: 10 } },
      downloading,
    ],
    [
      'uploading, first page applied: downloading, upload counts gone',
      uploading,
      { type: 'download', done: 10, total: 20, percent: 50, initial: true, entities: { account: 10 } },
      downloading,
    ],
    [
      'downloading, last page applied: idle, synced, progress gone',
      downloading,
      { type: 'succeeded', at: '2026-01-01T00:00:00.000Z' },
      synced,
    ],
    [
      'a success clears the last error and reads as online',
      { ...failedOffline, phase: 'downloading', downloading: true },
      { type: 'succeeded', at: '2026-01-01T00:00:00.000Z' },
      synced,
    ],
    [
      'checking, the network fails: idle, offline, error kept',
      checking,
      { type: 'failed', error: network },
      failedOffline,
    ],
    [
      'downloading, the server refuses: idle, still online, error kept, hasSynced unchanged',
      { ...downloading, hasSynced: true, lastSyncedAt: 'earlier' },
      { type: 'failed', error: forbidden },
      { ...idle, hasSynced: true, lastSyncedAt: 'earlier', lastError: forbidden },
    ],
    [
      'a new sync keeps lastSyncedAt and the last error until it ends',
      { ...synced, lastError: forbidden },
      { type: 'started' },
      { ...synced, phase: 'checking', lastError: forbidden },
    ],
    [
      'an offline event while downloading: phase kept',
      downloading,
      { type: 'offline' },
      { ...downloading, online: false },
    ],
    [
      'an online event after a network failure',
      failedOffline,
      { type: 'online' },
      { ...failedOffline, online: true },
    ],
  ];
  it.each(table)('%s', (_name, before, event, after) => {
    expect(nextSyncStatus(before, event)).toEqual(after);
  });

  it('an event that changes nothing returns the same status (no notification)', () => {
    expect(nextSyncStatus(idle, { type: 'online' })).toBe(idle);
    expect(nextSyncStatus(failedOffline, { type: 'offline' })).toBe(failedOffline);
  });
});

describe('a client reports its status through a sync', () => {
  it('checking → uploading → downloading with per-entity counts → idle, synced; then a network failure', async () => {
    const pages = [
      {
        changes: [
          { entity: 'account', id: 'a1', op: 'upsert', version: '1', row: { accountid: 'a1' } },
          { entity: 'account', id: 'a2', op: 'upsert', version: '1', row: { accountid: 'a2' } },
          { entity: 'contact', id: 'c1', op: 'upsert', version: '1', row: { contactid: 'c1' } },
        ],
        checkpoint: 'cp-1',
        more: true,
        progress: { done: 3, total: 4, percent: 75 },
        nextSyncSeconds: 60,
      },
      {
        changes: [{ entity: 'account', id: 'a2', op: 'remove', version: '2' }],
        checkpoint: 'cp-2',
        more: false,
        progress: { done: 4, total: 4, percent: 100 },
        nextSyncSeconds: 60,
      },
    ];
    // Every sync reads both pages again.
    const server = fakeSyncServer({ download: (_body, n) => pages[(n - 1) % pages.length] });
    const client = testClient({
      fetch: server.fetch,
      retry: { maxAttempts: 1 },
      now: () => new Date('2026-01-01T00:00:00.000Z'),
    });
    // The store needs metadata before a local write: a first sync brings it.
    const seen: SyncStatus[] = [];
    const unsubscribe = client.subscribeStatus((s) => seen.push(s));
    expect(client.status()).toEqual(INITIAL_SYNC_STATUS);
    await client.sync();
    await client.create('contact', { name: 'New' });
    seen.length = 0;
    await client.sync();
    expect(seen.map((s) => s.phase)).toEqual([
      'checking',
      'uploading',
      'uploading',
      'downloading',
      'downloading',
      'idle',
    ]);
    expect(seen[2]?.upload).toEqual({ done: 1, total: 1 });
    expect(seen[3]?.download).toEqual({
      done: 3,
      total: 4,
      percent: 75,
      initial: false,
      entities: { account: 2, contact: 1 },
    });
    expect(seen[4]?.download?.entities).toEqual({ account: 3, contact: 1 });
    expect(client.status()).toEqual({
      ...INITIAL_SYNC_STATUS,
      hasSynced: true,
      lastSyncedAt: '2026-01-01T00:00:00.000Z',
    });

    server.state.offline = true;
    await expect(client.sync()).rejects.toBeInstanceOf(SyncClientError);
    expect(client.status()).toMatchObject({
      phase: 'idle',
      online: false,
      hasSynced: true,
      lastError: { code: 'Network' },
    });
    client.setOnline(true);
    expect(client.status().online).toBe(true);

    unsubscribe();
    const count = seen.length;
    client.setOnline(false);
    expect(seen).toHaveLength(count);
  });
});
