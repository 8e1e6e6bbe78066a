import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalStore } from '../../client';
import {
  describeLocalStoreConformance,
  localStoreConformanceCases,
  runLocalStoreConformance,
  type LocalStoreFactory,
} from '../../client/conformance';
import { createMemoryLocalStore } from '../../client/memory';
import { createSqliteLocalStore } from '../../client/sqlite';

describeLocalStoreConformance('memory', { open: createMemoryLocalStore }, { describe, it });

describe('the better-sqlite3 store', () => {
  let dir: string;
  let n = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sdk-conformance-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = (): string => join(dir, `device-${n}.db`);
  describeLocalStoreConformance(
    'better-sqlite3',
    {
      open: () => {
        n++;
        return createSqliteLocalStore(path());
      },
      reopen: () => createSqliteLocalStore(path()),
    },
    { describe, it },
  );
});

describe('the conformance suite itself', () => {
  /** The memory store with one rule broken: a rejected transaction keeps what it wrote. */
  function withoutRollback(): LocalStore {
    const inner = createMemoryLocalStore();
    let broken: Parameters<Parameters<LocalStore['transaction']>[0]>[0] | undefined;
    void inner.transaction(async (tx) => {
      broken = tx;
    });
    return {
      async transaction(work) {
        await inner.transaction(async () => undefined);
        return work(broken!);
      },
      close: () => inner.close(),
    };
  }

  /** The memory store listing rows in insert order instead of by id. */
  function unordered(): LocalStore {
    const inner = createMemoryLocalStore();
    return {
      transaction: (work) =>
        inner.transaction((tx) =>
          work({
            ...tx,
            listRows: async (entity) => (await tx.listRows(entity)).reverse(),
          }),
        ),
      close: () => inner.close(),
    };
  }

  it('fails a store that does not roll back, and names the case', async () => {
    const results = await runLocalStoreConformance({ open: withoutRollback });
    const failed = results.filter((r) => r.status === 'failed').map((r) => r.name);
    expect(failed).toContain(
      'a transaction that rejects writes nothing: rows, outbox, errors, checkpoint and metadata stay',
    );
  });

  it('fails a store that lists rows out of order, saying what it expected', async () => {
    const results = await runLocalStoreConformance({ open: unordered });
    const listing = results.find((r) => r.name.startsWith('listRows'));
    expect(listing).toMatchObject({ status: 'failed' });
    expect(listing?.error).toMatch(/ids in binary order: expected \["B","a","a10"/);
  });

  it('passes the memory store on every case but persistence, which it skips', async () => {
    const factory: LocalStoreFactory = { open: createMemoryLocalStore };
    const results = await runLocalStoreConformance(factory);
    expect(results.filter((r) => r.status !== 'passed')).toEqual([
      { name: 'what was committed is there after close and reopen', status: 'skipped' },
    ]);
    expect(results).toHaveLength(localStoreConformanceCases.length);
  });
});
