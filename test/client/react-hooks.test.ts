import { createElement, type ReactElement } from 'react';
import TestRenderer, { act } from 'react-test-renderer';
import type { SyncClient } from '../../client';
import { useQuery, useSyncStatus } from '../../client/react';
import { downloadPage, fakeSyncServer, testClient, testMetadata, upsert } from './client-fixtures';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function makeClient(): SyncClient {
  const { fetch } = fakeSyncServer({
    metadata: testMetadata(['account']),
    download: () => downloadPage([upsert('account', 'a1', { name: 'Contoso' })], 1, false, 1),
  });
  return testClient({ fetch, now: () => new Date('2026-01-01T00:00:00.000Z') });
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
