import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ManualClock } from '../../shared/clock';
import type { StoredRecord } from '../../shared/model/record';
import { compareVersions } from '../../shared/model/record';
import type { RecordWrite } from '../../shared/store/port';
import { createSqliteStore } from '../../shared/store/sqlite';
import { describeStoreContract } from './store-contract';
import { concurrentWrite, type ConcurrentWriterPlan } from './support/concurrent-writes';

describeStoreContract('SQLite store', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sqlite-store-'));
  const store = createSqliteStore({ dataDir });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

/**
 * Worker threads cannot load TypeScript on their own: this bootstrap compiles our `.ts` files on
 * require (transpile only; the test run type-checks them) and then runs the worker module.
 */
const WORKER_BOOTSTRAP = `
  const { workerData } = require('node:worker_threads');
  const fs = require('node:fs');
  const ts = require(workerData.typescript);
  require.extensions['.ts'] = (module, filename) => {
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    module._compile(outputText, filename);
  };
  require(workerData.entry);
`;

/** A writer in its own thread with its own Store, started but waiting for the go. */
interface WriterThread {
  ready: Promise<void>;
  /** Starts the writes; resolves with how many the writer applied. */
  go(): Promise<number>;
}

function startWriterThread(plan: ConcurrentWriterPlan): WriterThread {
  const worker = new Worker(WORKER_BOOTSTRAP, {
    eval: true,
    workerData: {
      ...plan,
      typescript: require.resolve('typescript'),
      entry: join(__dirname, 'support', 'sqlite-writer-worker.ts'),
    },
  });
  let outcome: { applied?: number; error?: string } | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: { ready?: boolean; applied?: number; error?: string }) => {
      if (message.ready === true) resolve();
      else outcome = message;
    });
    worker.once('exit', () => reject(new Error(`writer ${plan.writer} exited before it was ready`)));
  });
  const finished = new Promise<number>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', () => {
      if (outcome?.applied !== undefined) resolve(outcome.applied);
      else reject(new Error(`writer ${plan.writer} failed: ${outcome?.error ?? 'exited without a result'}`));
    });
  });
  return {
    ready,
    go: () => {
      worker.postMessage('go');
      return finished;
    },
  };
}

describe('SQLite store, beyond the contract', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sqlite-store-'));
  });

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const write = (id: string, version: string, attributes: Record<string, unknown> = {}): RecordWrite => ({
    entity: 'account',
    id,
    version,
    deleted: false,
    attributes,
  });

  it('keeps a gap-free change sequence that a reader on another instance follows without loss', async () => {
    const store = createSqliteStore({ dataDir });
    try {
      await store.createTenantDatabase('contoso');
      const tenant = store.tenant('contoso');
      const plans: ConcurrentWriterPlan[] = [0, 1].map((writer) => ({
        dataDir,
        org: 'contoso',
        writer,
        batches: 40,
        batchSize: 200,
        rowCount: 300,
      }));

      const threads = plans.map(startWriterThread);
      await Promise.all(threads.map((thread) => thread.ready));
      let writersDone = false;
      const writing = Promise.all(threads.map((thread) => thread.go())).finally(() => {
        writersDone = true;
      });

      const replica = new Map<string, StoredRecord>();
      const reading = (async () => {
        let cursor = '0';
        for (;;) {
          const finished = writersDone;
          const page = await tenant.readChanges(cursor, 25);
          expect(Number(page.cursor)).toBeGreaterThanOrEqual(Number(cursor));
          for (const record of page.records) replica.set(record.id, record);
          cursor = page.cursor;
          if (finished && !page.more) return;
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();

      const [applied] = await Promise.all([writing, reading]);

      // Every applied write took the next seq: the head is exactly their number, with no gap.
      const totalApplied = applied.reduce((sum, n) => sum + n, 0);
      expect(await tenant.headCursor()).toBe(String(totalApplied));

      const expected = new Map<string, RecordWrite>();
      for (const plan of plans) {
        for (let batch = 0; batch < plan.batches; batch++) {
          for (let i = 0; i < plan.batchSize; i++) {
            const w = concurrentWrite(plan, batch, i);
            const known = expected.get(w.id);
            if (known === undefined || compareVersions(w.version, known.version) > 0) expected.set(w.id, w);
          }
        }
      }
      const stored = await tenant.scanRecords('account', { limit: 1000, includeDeleted: true });
      expect(stored.map((r) => [r.id, r.version, r.deleted]).sort()).toEqual(
        [...expected.values()].map((w) => [w.id, w.version, w.deleted]).sort(),
      );
      expect(replica.size).toBe(stored.length);
      for (const row of stored) expect(replica.get(row.id)).toEqual(row);
    } finally {
      await store.close();
    }
  });

  it('returns each changed row exactly once across the pages of a drain, at its last position', async () => {
    const store = createSqliteStore({ dataDir });
    try {
      await store.createTenantDatabase('contoso');
      const tenant = store.tenant('contoso');
      await tenant.applyRecordWrites(Array.from({ length: 20 }, (_, i) => write(`r${i}`, '1')));
      await tenant.applyRecordWrites([write('r3', '2'), write('r0', '2'), write('r3', '3')]);
      const ids: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await tenant.readChanges(cursor, 6);
        ids.push(...page.records.map((r) => r.id));
        cursor = page.cursor;
        if (!page.more) break;
      }
      const untouched = Array.from({ length: 20 }, (_, i) => `r${i}`).filter(
        (id) => id !== 'r0' && id !== 'r3',
      );
      expect(ids).toEqual([...untouched, 'r0', 'r3']);
    } finally {
      await store.close();
    }
  });

  it('keeps documents, rows and the change sequence across close and reopen', async () => {
    const clock = new ManualClock('2026-02-01T08:00:00.000Z');
    const first = createSqliteStore({ dataDir, clock });
    await first.createTenantDatabase('contoso');
    await first.control.putDoc('tenant', 'contoso', { state: 'active' });
    const doc = await first.tenant('contoso').putDoc('settings', 'current', { conflictDetection: true });
    await first.tenant('contoso').applyRecordWrites([write('1', '1', { name: 'a' }), write('2', '1')]);
    const head = await first.tenant('contoso').headCursor();
    await first.close();

    const second = createSqliteStore({ dataDir, clock });
    try {
      expect(await second.tenantDatabaseExists('contoso')).toBe(true);
      expect((await second.control.getDoc('tenant', 'contoso'))?.value).toEqual({ state: 'active' });
      expect(await second.tenant('contoso').getDoc('settings', 'current')).toEqual(doc);
      expect(await second.tenant('contoso').getRecord('account', '1')).toEqual({
        entity: 'account',
        id: '1',
        version: '1',
        deleted: false,
        attributes: { name: 'a' },
        updatedAt: '2026-02-01T08:00:00.000Z',
      });
      expect(await second.tenant('contoso').headCursor()).toBe(head);
      await second.tenant('contoso').applyRecordWrites([write('3', '1')]);
      const later = await second.tenant('contoso').readChanges(head, 10);
      expect(later.records.map((r) => r.id)).toEqual(['3']);
    } finally {
      await second.close();
    }
  });

  it('stamps rows with the injected clock', async () => {
    const clock = new ManualClock('2026-03-01T00:00:00.000Z');
    const store = createSqliteStore({ dataDir, clock });
    try {
      await store.createTenantDatabase('contoso');
      await store.tenant('contoso').applyRecordWrites([write('1', '1')]);
      clock.advance(60_000);
      const [result] = await store.tenant('contoso').applyRecordWrites([write('1', '2')]);
      expect(result?.record?.updatedAt).toBe('2026-03-01T00:01:00.000Z');
    } finally {
      await store.close();
    }
  });

  it('sees a tenant dropped and created again through another instance', async () => {
    const a = createSqliteStore({ dataDir });
    const b = createSqliteStore({ dataDir });
    try {
      await a.createTenantDatabase('contoso');
      await a.tenant('contoso').applyRecordWrites([write('1', '1')]);
      expect(await b.tenant('contoso').getRecord('account', '1')).toBeDefined();

      await b.dropTenantDatabase('contoso');
      await expect(a.tenant('contoso').getRecord('account', '1')).rejects.toMatchObject({
        code: 'TenantNotProvisioned',
      });
      expect(await readdir(join(dataDir, 'tenants'))).toEqual([]);

      await b.createTenantDatabase('contoso');
      expect(await a.tenant('contoso').getRecord('account', '1')).toBeUndefined();
      await a.tenant('contoso').applyRecordWrites([write('2', '1')]);
      expect(await b.tenant('contoso').getRecord('account', '2')).toBeDefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps tenant files inside the data folder and refuses names that are not tenant names', async () => {
    const store = createSqliteStore({ dataDir });
    try {
      await store.createTenantDatabase('contoso');
      expect(await readdir(join(dataDir, 'tenants'))).toContain('contoso.db');
      for (const org of ['../escape', 'Contoso', 'a/b', '']) {
        await expect(store.createTenantDatabase(org)).rejects.toMatchObject({ code: 'ValidationFailed' });
        await expect(store.tenant(org).getDoc('k', 'i')).rejects.toMatchObject({ code: 'ValidationFailed' });
      }
      expect((await readdir(dataDir)).sort()).toEqual(expect.arrayContaining(['control.db', 'tenants']));
      expect((await readdir(dataDir)).filter((name) => !name.startsWith('control.db'))).toEqual(['tenants']);
    } finally {
      await store.close();
    }
  });

  it('rejects cursors and limits it did not issue, and any use after close', async () => {
    const store = createSqliteStore({ dataDir });
    await store.createTenantDatabase('contoso');
    const tenant = store.tenant('contoso');
    await expect(tenant.readChanges('abc', 10)).rejects.toMatchObject({ code: 'ValidationFailed' });
    await expect(tenant.readChanges('-1', 10)).rejects.toMatchObject({ code: 'ValidationFailed' });
    await expect(tenant.readChanges(undefined, 0)).rejects.toMatchObject({ code: 'ValidationFailed' });
    await expect(tenant.scanRecords('account', { limit: -1 })).rejects.toMatchObject({
      code: 'ValidationFailed',
    });
    await store.close();
    await store.close();
    await expect(tenant.getDoc('k', 'i')).rejects.toMatchObject({ code: 'Unavailable' });
    await expect(store.control.getDoc('k', 'i')).rejects.toMatchObject({ code: 'Unavailable' });
  });
});
