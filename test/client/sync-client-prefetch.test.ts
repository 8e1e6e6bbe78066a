import type { LocalStore } from '../../client';
import { createMemoryLocalStore } from '../../client/memory';
import { downloadPage, fakeSyncServer, testClient, testMetadata, upsert } from './client-fixtures';

const page = (n: number, more: boolean) => downloadPage([upsert('account', `a${n}`)], n, more, 3);

/** The memory store, noting the checkpoint of each committed transaction as it commits. */
function watchedStore(failAt?: { checkpoint: string; enabled: boolean }) {
  const inner = createMemoryLocalStore();
  const seen: { committed?: string } = {};
  const store: LocalStore = {
    async transaction(work) {
      let saved: string | undefined;
      const result = await inner.transaction((tx) =>
        work({
          ...tx,
          async saveCheckpoint(cp) {
            if (failAt?.enabled && cp === failAt.checkpoint) throw new Error('disk full');
            saved = cp;
            await tx.saveCheckpoint(cp);
          },
        }),
      );
      if (saved !== undefined) seen.committed = saved;
      return result;
    },
    close: () => inner.close(),
  };
  return { store, seen };
}

/** A server of three pages that records, per download request, the checkpoint committed by then. */
function server(seen: { committed?: string }) {
  const requests: { asked?: string; committed?: string }[] = [];
  const { fetch } = fakeSyncServer({
    metadata: testMetadata(['account']),
    download: (body) => {
      const checkpoint = typeof body.checkpoint === 'string' ? body.checkpoint : undefined;
      requests.push({
        ...(checkpoint ? { asked: checkpoint } : {}),
        ...(seen.committed ? { committed: seen.committed } : {}),
      });
      const n = checkpoint === undefined ? 1 : Number(checkpoint.slice(3)) + 1;
      return page(n, n < 3);
    },
  });
  return { fetch, requests };
}

describe('download pages are asked for while the page before is written', () => {
  it('asks for page N+1 with page N checkpoint, and still saves every page in order', async () => {
    const { store, seen } = watchedStore();
    const { fetch, requests } = server(seen);
    const client = testClient({ store, fetch });
    const summary = await client.sync();
    expect(summary).toMatchObject({ downloaded: 3, pages: 3 });
    // Each next page was asked for before the device had committed the page whose checkpoint it sent.
    expect(requests).toEqual([{}, { asked: 'cp-1' }, { asked: 'cp-2', committed: 'cp-1' }]);
    expect((await store.transaction((tx) => tx.readState())).checkpoint).toBe('cp-3');
  });

  it('a page whose write fails ends the sync with that error; the prefetched page is dropped and the next sync resumes', async () => {
    const failAt = { checkpoint: 'cp-2', enabled: true };
    const { store, seen } = watchedStore(failAt);
    const { fetch, requests } = server(seen);
    const client = testClient({ store, fetch });
    await expect(client.sync()).rejects.toThrow('disk full');
    expect((await store.transaction((tx) => tx.readState())).checkpoint).toBe('cp-1');
    expect((await client.list('account')).map((r) => r.accountid)).toEqual(['a1']);
    failAt.enabled = false;
    requests.length = 0;
    await client.sync();
    expect(requests[0]).toEqual({ asked: 'cp-1', committed: 'cp-1' });
    expect((await client.list('account')).map((r) => r.accountid)).toEqual(['a1', 'a2', 'a3']);
  });
});
