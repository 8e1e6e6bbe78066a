import type { LocalStore } from '../../client';
import { NEXT_CHECKPOINT_HEADER, type DownloadResponse } from '../../shared/sync/sync-protocol';
import { createMemoryLocalStore } from '../../client/memory';
import { downloadPage, fakeSyncServer, testClient, testMetadata, upsert } from './client-fixtures';

const page = (n: number, more: boolean) => downloadPage([upsert('account', `a${n}`)], n, more, 3);

/** The memory store, noting the checkpoint of each committed transaction as it commits. */
function watchedStore(failAt?: { checkpoint: string; enabled: boolean }, writeMs = 0) {
  const inner = createMemoryLocalStore();
  const seen: { committed?: string } = {};
  const store: LocalStore = {
    async transaction(work) {
      // A slow disk: the next page's answer arrives while this one is written.
      if (writeMs > 0) await new Promise((resolve) => setTimeout(resolve, writeMs));
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

/** A page as the server sends it: the next checkpoint in its header while there is more. */
function withHeader(answer: DownloadResponse, header = answer.checkpoint): Response {
  return new Response(JSON.stringify(answer), {
    headers: {
      'content-type': 'application/json',
      ...(answer.more ? { [NEXT_CHECKPOINT_HEADER]: header } : {}),
    },
  });
}

/** A page whose body is cut off after its first bytes (its headers arrived whole). */
function cutOff(answer: DownloadResponse): Response {
  const text = JSON.stringify(answer);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text.slice(0, 10)));
      controller.error(new TypeError('terminated'));
    },
  });
  return new Response(body, { headers: { [NEXT_CHECKPOINT_HEADER]: answer.checkpoint } });
}

/**
 * A server of three pages that records, per download request, the checkpoint committed by then;
 * `answer` turns a page into the response sent (default: the page as JSON, without the header).
 */
function server(
  seen: { committed?: string },
  answer: (page: DownloadResponse, n: number) => DownloadResponse | Response = (p) => p,
) {
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
      if (!(n >= 1 && n <= 3)) {
        return new Response(JSON.stringify({ error: { code: 'CheckpointInvalid', message: 'unknown' } }), {
          status: 400,
        });
      }
      return answer(page(n, n < 3), n);
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

  it('asks for the next page with the checkpoint its header gives, yet never more than one page ahead of the last written', async () => {
    const { store, seen } = watchedStore(undefined, 20);
    const { fetch, requests } = server(seen, (p) => withHeader(p));
    const client = testClient({ store, fetch });
    expect(await client.sync()).toMatchObject({ downloaded: 3, pages: 3 });
    // Page 2 arrived while page 1 was written; page 3 was asked for only once page 1 was committed.
    expect(requests).toEqual([{}, { asked: 'cp-1' }, { asked: 'cp-2', committed: 'cp-1' }]);
    expect((await store.transaction((tx) => tx.readState())).checkpoint).toBe('cp-3');
  });

  it('asks for the next page once the headers arrive; a page then cut off is asked for again with the checkpoint before it', async () => {
    const { store, seen } = watchedStore();
    const cut = { enabled: true };
    const { fetch, requests } = server(seen, (p, n) => (cut.enabled && n === 2 ? cutOff(p) : withHeader(p)));
    const client = testClient({ store, fetch });
    await expect(client.sync()).rejects.toMatchObject({ code: 'Network' });
    // Page 3 was asked for with page 2's checkpoint while page 2's body was on its way.
    expect(requests.map((r) => r.asked)).toEqual([undefined, 'cp-1', 'cp-2']);
    expect((await store.transaction((tx) => tx.readState())).checkpoint).toBe('cp-1');
    cut.enabled = false;
    requests.length = 0;
    await client.sync();
    // The server takes pages 2 and 3 back for cp-1 (download.test.ts shows it) and sends page 2 again.
    expect(requests.map((r) => r.asked)).toEqual(['cp-1', 'cp-2']);
    expect((await client.list('account')).map((r) => r.accountid)).toEqual(['a1', 'a2', 'a3']);
  });

  it('a header that disagrees with its page is not followed: the page after is asked for with the page checkpoint', async () => {
    const { store, seen } = watchedStore();
    const { fetch, requests } = server(seen, (p, n) => withHeader(p, n === 1 ? 'cp-9' : p.checkpoint));
    const client = testClient({ store, fetch });
    expect(await client.sync()).toMatchObject({ downloaded: 3, pages: 3 });
    expect(requests.map((r) => r.asked)).toEqual([undefined, 'cp-9', 'cp-1', 'cp-2']);
    expect((await store.transaction((tx) => tx.readState())).checkpoint).toBe('cp-3');
  });
});
