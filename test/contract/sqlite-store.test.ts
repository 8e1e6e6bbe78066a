import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ManualClock } from '../../shared/clock';
import type { StoredRecord } from '../../shared/model/record';
import { compareVersions } from '../../shared/model/record';
import type { ChangeScope, LookupSpec, RecordWrite } from '../../shared/store/port';
import { newReadMeter } from '../../shared/store/port';
import { ownerKey } from '../../shared/store/record-keys';
import { createSqliteStore } from '../../shared/store/sqlite';
import { keyedStatementSql } from '../../shared/store/sqlite/sqlite-lookups';
import { lookupIndex, registerRecordKeyFunctions } from '../../shared/store/sqlite/sqlite-record-keys';
import { describeStoreContract } from './store-contract';
import { concurrentWrite, type ConcurrentWriterPlan } from './support/concurrent-writes';

/** The seq a cursor of this store holds (`s2:<seq>:<epochHour>`). */
function cursorSeq(cursor: string): number {
  const match = /^s2:(\d+):\d+$/.exec(cursor);
  if (match === null) throw new Error(`not a cursor of the SQLite store: ${cursor}`);
  return Number(match[1]);
}

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
        let cursor: string | undefined;
        for (;;) {
          const finished = writersDone;
          const page = await tenant.readChanges(cursor, 25);
          expect(cursorSeq(page.cursor)).toBeGreaterThanOrEqual(cursor === undefined ? 0 : cursorSeq(cursor));
          for (const record of page.records) replica.set(record.id, record);
          cursor = page.cursor;
          if (finished && !page.more) return;
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();

      const [applied] = await Promise.all([writing, reading]);

      // Every applied write took the next seq: the head is exactly their number, with no gap.
      const totalApplied = applied.reduce((sum, n) => sum + n, 0);
      expect(cursorSeq(await tenant.headCursor())).toBe(totalApplied);

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

  it('notices a tenant file removed outside any store of this process within a second', async () => {
    const store = createSqliteStore({ dataDir });
    try {
      await store.createTenantDatabase('contoso');
      await store.tenant('contoso').applyRecordWrites([write('1', '1')]);
      // As another process's drop would: the files go, this process is not told.
      for (const suffix of ['', '-wal', '-shm'])
        rmSync(join(dataDir, 'tenants', `contoso.db${suffix}`), { force: true });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await expect(store.tenant('contoso').getRecord('account', '1')).rejects.toMatchObject({
        code: 'TenantNotProvisioned',
      });
    } finally {
      await store.close();
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
    // Not of this store's format (earlier versions' plain seqs included): the caller starts over.
    for (const cursor of ['abc', '-1', '7', 's2:x:1', 's2:1:']) {
      await expect(tenant.readChanges(cursor, 10)).rejects.toMatchObject({ code: 'ChangeCursorExpired' });
    }
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

describe('SQLite store, look-up indexes and the change log', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sqlite-store-'));
  });

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const HOUR = 60 * 60 * 1000;
  const DAY = 24 * HOUR;

  const owned = (id: string, version: string, owner: string): RecordWrite => ({
    entity: 'account',
    id,
    version,
    deleted: false,
    attributes: { ownerid: owner, name: `Row ${id}` },
  });

  const mine: ChangeScope[] = [{ entity: 'account', ownershipKeys: [ownerKey('me')] }];

  /** A second connection to a tenant's file, with the key functions its indexes need. */
  function openTenantFile(org: string): Database.Database {
    const db = new Database(join(dataDir, 'tenants', `${org}.db`));
    registerRecordKeyFunctions(db);
    return db;
  }

  it('reads a scoped change page once per head: devices of one user after the same write share it', async () => {
    const store = createSqliteStore({ dataDir });
    try {
      await store.createTenantDatabase('contoso');
      const tenant = store.tenant('contoso');
      await tenant.applyRecordWrites([owned('r1', '1', 'me'), owned('r2', '1', 'you')]);
      const cursor = await tenant.headCursor();
      await tenant.applyRecordWrites([
        owned('r1', '2', 'me'),
        owned('r3', '1', 'me'),
        owned('r2', '2', 'you'),
      ]);

      const first = newReadMeter();
      const page = await tenant.metered(first).readChanges(cursor, 10, mine);
      expect(page.records.map((r) => [r.id, r.version])).toEqual([
        ['r1', '2'],
        ['r3', '1'],
      ]);
      expect(first.rows).toBe(2);
      expect(first.changes).toBeGreaterThan(0);
      // The same read at the same head: the same answer, nothing read from the database.
      const again = newReadMeter();
      const shared = await tenant.metered(again).readChanges(cursor, 10, mine);
      expect(shared).toEqual(page);
      expect(again).toEqual(newReadMeter());
      // Shared records cannot be changed by one reader for the next; the list is each reader's own.
      expect(Object.isFrozen(shared.records[0])).toBe(true);
      expect(Object.isFrozen(shared.records[0]!.attributes)).toBe(true);
      shared.records.length = 0;
      expect((await tenant.readChanges(cursor, 10, mine)).records).toHaveLength(2);
      // Other scopes or limits are other pages.
      const yours = newReadMeter();
      const other = await tenant
        .metered(yours)
        .readChanges(cursor, 10, [{ entity: 'account', ownershipKeys: [ownerKey('you')] }]);
      expect(other.records.map((r) => r.id)).toEqual(['r2']);
      expect(yours.rows).toBe(1);
      expect((await tenant.readChanges(cursor, 1, mine)).records.map((r) => r.id)).toEqual(['r1']);

      // A write moves the head: the page is read again, at the rows' new state.
      await tenant.applyRecordWrites([owned('r3', '2', 'me')]);
      const after = newReadMeter();
      const moved = await tenant.metered(after).readChanges(cursor, 10, mine);
      expect(moved.records.map((r) => [r.id, r.version])).toEqual([
        ['r1', '2'],
        ['r3', '2'],
      ]);
      expect(after.rows).toBe(2);
      // A write through another connection moves it too (a raw one, outside the change log: the
      // page's rows come in the log's order, read at their state at the new head).
      const other2 = openTenantFile('contoso');
      try {
        other2
          .prepare(
            "UPDATE records SET version = '3', seq = (SELECT max(seq) + 1 FROM records) WHERE id = 'r1'",
          )
          .run();
      } finally {
        other2.close();
      }
      const outside = await tenant.readChanges(cursor, 10, mine);
      expect(outside.records.map((r) => [r.id, r.version])).toEqual([
        ['r1', '3'],
        ['r3', '2'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('answers a text probe from its expression index, and counts from the index alone', async () => {
    const store = createSqliteStore({ dataDir });
    try {
      await store.createTenantDatabase('contoso');
      const tenant = store.tenant('contoso');
      const spec: LookupSpec = { attribute: 'ownerid', kind: 'text' };
      const specs: LookupSpec[] = [
        spec,
        { attribute: null, kind: 'text' },
        { attribute: 'createdon', kind: 'time' },
        { attribute: 'ownerid', kind: 'text', within: 'createdon' },
      ];
      await tenant.prepareLookups(specs);
      await tenant.applyRecordWrites(Array.from({ length: 50 }, (_, i) => owned(`r${i}`, '1', `U-${i % 5}`)));
      const probe = { kind: 'text', attribute: 'ownerid', values: ['u-1'] } as const;
      expect((await tenant.findRecords('account', probe, { limit: 100 })).records).toHaveLength(10);

      const db = openTenantFile('contoso');
      try {
        const indexes = db
          .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index'")
          .all()
          .map((r) => r.name);
        for (const s of specs) expect(indexes).toContain(lookupIndex(s).name);
        const sql = keyedStatementSql(spec);
        const plan = (text: string, ...params: unknown[]): string =>
          db
            .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${text}`)
            .all(...params)
            .map((r) => r.detail)
            .join('\n');
        const { name } = lookupIndex(spec);
        const values = JSON.stringify(['u-1', 'u-2']);
        const first = plan(sql.ofValues!, 'account', values, 11);
        expect(first).toContain(`USING INDEX ${name}`);
        // Rows come in index order: no sort of every match before the page is cut.
        expect(first).not.toContain('TEMP B-TREE');
        expect(plan(sql.ofValuesAfter!, 'account', values, 'u-1', 11)).toContain(`USING INDEX ${name}`);
        expect(plan(sql.restOfKey!, 'account', 'u-1', 'r1', 11)).toContain(`USING INDEX ${name}`);
        // Counted from an index alone: the key's, or the composite one that starts with the same key.
        const compositeName = lookupIndex({ attribute: 'ownerid', kind: 'text', within: 'createdon' }).name;
        expect(plan(sql.countOfValues!, 'account', values, -1)).toMatch(
          new RegExp(`USING COVERING INDEX (${name}|${compositeName})`),
        );
        const time = keyedStatementSql({ attribute: 'createdon', kind: 'time' });
        expect(plan(time.afterInRange!, 'account', 0, 10, 11)).toContain(
          `USING INDEX ${lookupIndex({ attribute: 'createdon', kind: 'time' }).name}`,
        );
        // An owner's rows of a date range: one stretch of the composite index, key and date both sought.
        const withinSpec: LookupSpec = { attribute: 'ownerid', kind: 'text', within: 'createdon' };
        const within = keyedStatementSql(withinSpec);
        const composite = plan(within.ofValues!, 'account', 0, 10, values, 11);
        expect(composite).toContain(`USING INDEX ${lookupIndex(withinSpec).name}`);
        expect(composite).toMatch(
          /<expr>=\? AND <expr>>\? AND <expr><\?|<expr>=\? AND <expr>>=\? AND <expr><\?/,
        );
        expect(plan(within.countOfValues!, 'account', 0, 10, values, -1)).toContain(
          `USING COVERING INDEX ${lookupIndex(withinSpec).name}`,
        );
      } finally {
        db.close();
      }

      // A probe of an attribute nobody prepared builds its index on first use.
      const byName = { kind: 'text', attribute: 'name', values: ['ROW R7'] } as const;
      expect((await tenant.findRecords('account', byName, { limit: 5 })).records.map((r) => r.id)).toEqual([
        'r7',
      ]);
      const db2 = openTenantFile('contoso');
      try {
        const found = db2
          .prepare<[string], { name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?",
          )
          .get(lookupIndex({ attribute: 'name', kind: 'text' }).name);
        expect(found).toBeDefined();
      } finally {
        db2.close();
      }
    } finally {
      await store.close();
    }
  });

  it('meters the rows a probe fetched: a page and the row that tells there is another', async () => {
    const store = createSqliteStore({ dataDir });
    try {
      await store.createTenantDatabase('contoso');
      const tenant = store.tenant('contoso');
      await tenant.applyRecordWrites(
        Array.from({ length: 30 }, (_, i) => owned(`r${i}`, '1', i < 12 ? 'me' : 'you')),
      );
      const meter = newReadMeter();
      const page = await tenant
        .metered(meter)
        .findRecords('account', { kind: 'text', attribute: 'ownerid', values: ['me'] }, { limit: 5 });
      expect(page.records).toHaveLength(5);
      expect(meter).toEqual({ ...newReadMeter(), rows: 6 });
      expect(
        await tenant
          .metered(meter)
          .countRecords('account', { kind: 'text', attribute: 'ownerid', values: ['me'] }),
      ).toBe(12);
      // A count reads the index, no rows.
      expect(meter.rows).toBe(6);
    } finally {
      await store.close();
    }
  });

  it('expires a cursor older than the retention, by its hour', async () => {
    const clock = new ManualClock('2026-03-01T10:30:00.000Z');
    const store = createSqliteStore({ dataDir, clock, changeRetentionDays: 2 });
    try {
      await store.createTenantDatabase('contoso');
      const tenant = store.tenant('contoso');
      const start = await tenant.headCursor();
      // The hour is the store clock's, rounded down.
      expect(start).toBe(`s2:0:${Math.floor(Date.parse('2026-03-01T10:00:00.000Z') / HOUR)}`);
      await tenant.applyRecordWrites([owned('a', '1', 'me')]);
      clock.advance(45 * HOUR);
      expect((await tenant.readChanges(start, 10, mine)).records.map((r) => r.id)).toEqual(['a']);
      // An idle reader's cursor moves to the current hour: it stays readable while it keeps reading.
      const idle = await tenant.readChanges((await tenant.readChanges(start, 10, mine)).cursor, 10, mine);
      expect(idle.cursor).toBe(`s2:1:${Math.floor(clock.now().getTime() / HOUR)}`);
      clock.advance(HOUR);
      // 46 hours: retention (48 h) less the 2 h margin is still readable, a later hour is not.
      expect((await tenant.readChanges(start, 10, mine)).records.map((r) => r.id)).toEqual(['a']);
      clock.advance(HOUR);
      await expect(tenant.readChanges(start, 10, mine)).rejects.toMatchObject({
        code: 'ChangeCursorExpired',
      });
      await expect(tenant.readChanges(start, 10)).rejects.toMatchObject({ code: 'ChangeCursorExpired' });
      expect((await tenant.readChanges(idle.cursor, 10, mine)).records).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('compacts log entries past the retention and expires cursors below the horizon', async () => {
    const clock = new ManualClock('2026-03-01T00:00:00.000Z');
    const store = createSqliteStore({ dataDir, clock, changeRetentionDays: 2 });
    try {
      await store.createTenantDatabase('contoso');
      const tenant = store.tenant('contoso');
      await tenant.applyRecordWrites(Array.from({ length: 6 }, (_, i) => owned(`r${i}`, '1', 'me')));
      clock.advance(DAY);
      // A reader half-way through the old changes: its cursor's hour is recent, its seq is not.
      const halfWay = await tenant.readChanges(undefined, 2, mine);
      expect(halfWay).toMatchObject({ more: true });
      expect(cursorSeq(halfWay.cursor)).toBe(2);

      clock.advance(DAY + 60_000);
      await tenant.applyRecordWrites([owned('late', '1', 'me')]);
      const db = openTenantFile('contoso');
      try {
        // Only the latest write's entries remain: '' and its owner key.
        expect(db.prepare('SELECT count(*) AS n FROM record_changes').get()).toEqual({ n: 2 });
        expect(db.prepare('SELECT seq FROM record_change_horizon').get()).toEqual({ seq: 6 });
      } finally {
        db.close();
      }
      await expect(tenant.readChanges(halfWay.cursor, 2, mine)).rejects.toMatchObject({
        code: 'ChangeCursorExpired',
      });
      await expect(tenant.readChanges(undefined, 2, mine)).rejects.toMatchObject({
        code: 'ChangeCursorExpired',
      });
      // Every change, unscoped, is read from the rows themselves: compaction does not limit it.
      expect((await tenant.readChanges(halfWay.cursor, 10)).records.map((r) => r.id)).toEqual([
        'r2',
        'r3',
        'r4',
        'r5',
        'late',
      ]);
      // A device starting over reads from a fresh head.
      const head = await tenant.headCursor();
      await tenant.applyRecordWrites([owned('later', '1', 'me')]);
      expect((await tenant.readChanges(head, 10, mine)).records.map((r) => r.id)).toEqual(['later']);
    } finally {
      await store.close();
    }
  });

  it('compacts a backlog a bounded batch per write transaction until it is gone', async () => {
    const clock = new ManualClock('2026-03-01T00:00:00.000Z');
    const store = createSqliteStore({ dataDir, clock, changeRetentionDays: 1 });
    try {
      await store.createTenantDatabase('contoso');
      const tenant = store.tenant('contoso');
      // 2,500 writes, two entries each: more than one compaction batch.
      for (let batch = 0; batch < 5; batch++) {
        await tenant.applyRecordWrites(
          Array.from({ length: 500 }, (_, i) => owned(`r${batch}-${i}`, '1', 'me')),
        );
      }
      clock.advance(2 * DAY);
      const entries = (): number => {
        const db = openTenantFile('contoso');
        try {
          return db.prepare<[], { n: number }>('SELECT count(*) AS n FROM record_changes').get()!.n;
        } finally {
          db.close();
        }
      };
      await tenant.applyRecordWrites([owned('x1', '1', 'me')]);
      const afterOne = entries();
      expect(afterOne).toBeGreaterThan(2);
      expect(afterOne).toBeLessThan(5_002);
      // While a backlog remains the next write compacts again at once, not a minute later.
      await tenant.applyRecordWrites([owned('x2', '1', 'me')]);
      expect(entries()).toBe(4);
    } finally {
      await store.close();
    }
  });

  it('starts the log at the head of a database that had rows before it, and drops superseded indexes', async () => {
    const first = createSqliteStore({ dataDir });
    await first.createTenantDatabase('contoso');
    await first.tenant('contoso').applyRecordWrites([owned('a', '1', 'me')]);
    const early = await first.tenant('contoso').headCursor();
    await first.tenant('contoso').applyRecordWrites([owned('b', '1', 'me'), owned('c', '1', 'me')]);
    await first.close();
    // As an earlier version left it: no log, and a lookup index of the old kind.
    const db = openTenantFile('contoso');
    db.exec(`DROP TABLE record_changes; DROP TABLE record_change_horizon;
      CREATE INDEX records_lookup_0123456789abcdef ON records (entity, lower(json_extract(attributes, '$.name')))`);
    db.close();

    const second = createSqliteStore({ dataDir });
    try {
      const tenant = second.tenant('contoso');
      const head = await tenant.headCursor();
      expect(cursorSeq(head)).toBe(3);
      await expect(tenant.readChanges(early, 10, mine)).rejects.toMatchObject({
        code: 'ChangeCursorExpired',
      });
      expect((await tenant.readChanges(early, 10)).records.map((r) => r.id)).toEqual(['b', 'c']);
      expect((await tenant.readChanges(head, 10, mine)).records).toEqual([]);
      await tenant.applyRecordWrites([owned('d', '1', 'me')]);
      expect((await tenant.readChanges(head, 10, mine)).records.map((r) => r.id)).toEqual(['d']);
      const check = openTenantFile('contoso');
      try {
        expect(
          check
            .prepare("SELECT name FROM sqlite_master WHERE name = 'records_lookup_0123456789abcdef'")
            .get(),
        ).toBeUndefined();
      } finally {
        check.close();
      }
    } finally {
      await second.close();
    }
  });

  it('rebuilds the docs table of earlier versions (WITHOUT ROWID) as a rowid table, keeping documents and etags', async () => {
    const first = createSqliteStore({ dataDir });
    await first.createTenantDatabase('contoso');
    const small = await first.tenant('contoso').putDoc('settings', 'tenant', { a: 1 });
    const large = await first.tenant('contoso').putDoc('syncHeld', 'd1', { ids: 'x'.repeat(20_000) });
    const control = await first.control.putDoc('tenant', 'contoso', { org: 'contoso' });
    await first.close();
    // As earlier versions made it: WITHOUT ROWID, the value before the etag.
    const oldLayout = `CREATE TABLE docs_old (kind TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL,
        etag TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
      INSERT INTO docs_old SELECT kind, id, value, etag FROM docs; DROP TABLE docs;
      ALTER TABLE docs_old RENAME TO docs;`;
    for (const file of [join(dataDir, 'tenants', 'contoso.db'), join(dataDir, 'control.db')]) {
      const db = new Database(file);
      registerRecordKeyFunctions(db);
      db.exec(oldLayout);
      db.close();
    }

    const second = createSqliteStore({ dataDir });
    try {
      const tenant = second.tenant('contoso');
      expect(await tenant.getDoc('settings', 'tenant')).toMatchObject({ value: { a: 1 }, etag: small.etag });
      expect((await tenant.getDoc('syncHeld', 'd1'))?.etag).toBe(large.etag);
      expect(await second.control.getDoc('tenant', 'contoso')).toMatchObject({ etag: control.etag });
      // The old etag still guards a conditional write.
      await expect(tenant.putDoc('settings', 'tenant', { a: 2 }, { ifMatch: 'stale' })).rejects.toMatchObject(
        {
          code: 'PreconditionFailed',
        },
      );
      await tenant.putDoc('settings', 'tenant', { a: 2 }, { ifMatch: small.etag });
      const check = openTenantFile('contoso');
      try {
        const { sql } = check.prepare("SELECT sql FROM sqlite_master WHERE name = 'docs'").get() as {
          sql: string;
        };
        expect(sql).not.toMatch(/WITHOUT ROWID/i);
        expect(
          check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'docs_rowid'").get(),
        ).toEqual({
          n: 0,
        });
      } finally {
        check.close();
      }
    } finally {
      await second.close();
    }
  });

  it('expires a cursor ahead of the database (the tenant was dropped and created again)', async () => {
    const store = createSqliteStore({ dataDir });
    try {
      await store.createTenantDatabase('contoso');
      await store.tenant('contoso').applyRecordWrites([owned('a', '1', 'me'), owned('b', '1', 'me')]);
      const head = await store.tenant('contoso').headCursor();
      await store.dropTenantDatabase('contoso');
      await store.createTenantDatabase('contoso');
      await expect(store.tenant('contoso').readChanges(head, 10)).rejects.toMatchObject({
        code: 'ChangeCursorExpired',
      });
    } finally {
      await store.close();
    }
  });
});
