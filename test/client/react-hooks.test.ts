import { createElement, type ReactElement } from 'react';
import TestRenderer, { act } from 'react-test-renderer';
import { createSyncClient, type SyncClient } from '../../client';
import { createMemoryLocalStore } from '../../client/memory';
import { useQuery, useSyncStatus } from '../../client/react';
import type { SyncMetadataResponse } from '../../shared/sync/sync-protocol';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const metadata: SyncMetadataResponse = {
  app: 'field-sales',
  profile: { id: 'p', name: 'P', version: 1 },
  entities: [
    {
      logicalName: 'account',
      primaryIdAttribute: 'accountid',
      primaryNameAttribute: 'name',
      ownership: 'user',
      attributes: [],
      relationships: [],
    },
  ],
  metadataVersion: 1,
  profileVersion: 1,
  directoryVersion: 1,
  syncIntervalSeconds: 900,
};
const json = (body: unknown): Response =>
  new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });

function makeClient(): SyncClient {
  const fetch: typeof globalThis.fetch = async (input) => {
    const url = input instanceof Request ? input.url : input.toString();
    if (url.includes('/metadata')) return json(metadata);
    return json({
      changes: [
        {
          entity: 'account',
          id: 'a1',
          op: 'upsert',
          version: '1',
          row: { accountid: 'a1', name: 'Contoso' },
        },
      ],
      checkpoint: 'cp',
      more: false,
      progress: { done: 1, total: 1, percent: 100 },
      nextSyncSeconds: 900,
    });
  };
  return createSyncClient({
    baseUrl: 'http://device.test',
    org: 'contoso',
    app: 'field-sales',
    deviceId: 'd1',
    getToken: () => 't',
    store: createMemoryLocalStore(),
    fetch,
    now: () => new Date('2026-01-01T00:00:00.000Z'),
  });
}

/** Waits until the rendered text matches (the store answers asynchronously). */
async function until(renderer: TestRenderer.ReactTestRenderer, pattern: RegExp): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const text = JSON.stringify(renderer.toJSON());
    if (pattern.test(text)) return text;
    await act(() => new Promise<void>((resolve) => setImmediate(resolve)));
  }
  throw new Error(`never rendered ${String(pattern)}: ${JSON.stringify(renderer.toJSON())}`);
}

describe('React hooks', () => {
  it('useSyncStatus re-renders through a sync; useQuery shows rows and follows local writes', async () => {
    const client = makeClient();
    function Status(): ReactElement {
      const s = useSyncStatus(client);
      return createElement('p', null, `${s.phase} synced=${String(s.hasSynced)} at=${s.lastSyncedAt ?? '-'}`);
    }
    function Accounts(): ReactElement {
      // A new query object each render: compared by value, not re-subscribed.
      const { rows, loading } = useQuery(client, client.table('account').orderBy('name'));
      return createElement(
        'p',
        null,
        loading ? 'loading' : (rows ?? []).map((r) => String(r.name)).join(','),
      );
    }
    let renderer!: TestRenderer.ReactTestRenderer;
    await act(async () => {
      renderer = TestRenderer.create(
        createElement('div', null, createElement(Status), createElement(Accounts)),
      );
    });
    await until(renderer, /idle synced=false at=-/);
    await act(async () => {
      await client.sync();
    });
    await until(renderer, /idle synced=true at=2026-01-01T00:00:00.000Z/);
    await until(renderer, /"Contoso"/);
    await act(async () => {
      await client.create('account', { name: 'Adatum' });
    });
    await until(renderer, /"Adatum,Contoso"/);
    await act(async () => renderer.unmount());
  });
});
