import type { DeliveryInfo, QueueHandler } from '../../../shared/queue/port';
import { applySourceChanges } from '../../../shared/replication/apply-source-changes';
import {
  processReplicationMessage,
  readDeltaToken,
  syncEntityMessage,
  type ReplicationOutcome,
} from '../../../shared/replication';
import { READ_PROGRESS_KIND, readProgressSchema } from '../../../shared/replication/delta-token-store';
import { SEEN_IDS_KIND } from '../../../shared/replication/full-read-seen-ids';
import type { StoredRecord } from '../../../shared/model/record';
import type { Store, TenantStore } from '../../../shared/store/port';
import { createReplicationFixture, ORG, STORE_KINDS, type ReplicationFixture } from './replication-fixture';

/**
 * A full read's removal pass is bounded and resumable like its read (issue 14): the stored rows are
 * judged a page at a time in id order, the position is saved after each page, a message goes on in a
 * new one once its budget is used, and a crash or a redelivery resumes right after the saved position
 * — nothing tombstoned twice, nothing missed, rows written after the read began kept, and the delta
 * token stored only once the pass is done.
 */

const delivery = (messageId: string, deliveryCount = 1): DeliveryInfo => ({
  messageId,
  deliveryCount,
  enqueuedAt: new Date('2026-03-01T10:00:00.000Z'),
});

const ROWS = Array.from({ length: 60 }, (_, i) => `r${String(i + 1).padStart(3, '0')}`);
/** Deleted at the source before the second full read: first, last, neighbours, across pages. */
const GONE = ['r001', 'r002', 'r013', 'r014', 'r015', 'r029', 'r040', 'r041', 'r052', 'r060'];
const OPTIONS = { maxPages: 2, removalPageRows: 5 };

describe.each(STORE_KINDS)('chunked removal pass of a full read (%s store)', (storeKind) => {
  let fixture: ReplicationFixture;
  let store: TenantStore;
  let services: ReplicationFixture['services'];
  /** Rows of `account` the store handed to scans, per delivery. */
  let scannedBy: Map<string, number>;
  let delivering: string | undefined;
  /** Tombstones applied, per id. */
  let tombstones: Map<string, number>;
  /** Fails the progress save whose removal position has reached this many rows, once (a crash). */
  let crashAtScanned: number | undefined;

  beforeEach(async () => {
    fixture = await createReplicationFixture({ storeKind });
    store = fixture.store.tenant(ORG);
    scannedBy = new Map();
    tombstones = new Map();
    crashAtScanned = undefined;
    const watched = Object.create(store) as TenantStore;
    watched.scanRecords = async (entity, options) => {
      const rows = await store.scanRecords(entity, options);
      if (entity === 'account' && delivering !== undefined) {
        scannedBy.set(delivering, (scannedBy.get(delivering) ?? 0) + rows.length);
      }
      return rows;
    };
    watched.applyRecordWrites = async (writes) => {
      const results = await store.applyRecordWrites(writes);
      writes.forEach((write, i) => {
        if (write.deleted && results[i]!.outcome === 'applied') {
          tombstones.set(write.id, (tombstones.get(write.id) ?? 0) + 1);
        }
      });
      return results;
    };
    watched.putDoc = async (kind, id, value, options) => {
      if (kind === READ_PROGRESS_KIND && crashAtScanned !== undefined) {
        const removal = readProgressSchema.parse(value).removal;
        if (removal !== undefined && removal.scanned >= crashAtScanned) {
          crashAtScanned = undefined;
          // The page's tombstones are written; its position is not: the process dies here.
          throw new Error('worker killed');
        }
      }
      return store.putDoc(kind, id, value, options);
    };
    const wrapped = Object.create(fixture.store) as Store;
    wrapped.tenant = () => watched;
    services = { ...fixture.services, store: wrapped };
    fixture.source.pageSize = 10;
    for (const id of ROWS) fixture.source.upsert(id, { name: id });
  });
  afterEach(() => fixture.close());

  async function storedRows(): Promise<StoredRecord[]> {
    return store.scanRecords('account', { limit: 1000, includeDeleted: true });
  }

  /** Runs every due message; a failed one is redelivered after the queue's retry delay. */
  async function drainWithRetries(outcomes: ReplicationOutcome[], onEach?: () => Promise<void>) {
    const handler: QueueHandler = async (body, info) => {
      delivering = `${info.messageId}#${info.deliveryCount}`;
      try {
        outcomes.push(await processReplicationMessage(services, body, info, OPTIONS));
      } finally {
        delivering = undefined;
      }
      await onEach?.();
    };
    for (let round = 0; round < 50; round++) {
      const result = await fixture.queue.drain(handler);
      if (result.retried === 0 && fixture.queue.counts().pending === 0) return result;
      fixture.clock.advance(1_001);
    }
    throw new Error('the queue never drained');
  }

  it('removes exactly the rows the read did not return, over several messages, resuming after a crash', async () => {
    // The first full read stores every row (one message: 6 pages, then the removal pass).
    await processReplicationMessage(services, syncEntityMessage(ORG, 'account'), delivery('m0'), {
      maxPages: 100,
    });
    const token = (await readDeltaToken(store, 'account'))!;
    const before = new Map((await storedRows()).map((r) => [r.id, r.version]));
    expect(before.size).toBe(60);

    for (const id of GONE) fixture.source.remove(id);
    fixture.source.expiredTokens.add(token);
    fixture.clock.advance(60_000);
    // The read's third page in hand: a webhook stores a row the read never returns, and writes one
    // the source has just deleted again (both after the read began: they stay).
    let pages = 0;
    fixture.source.beforePage = async () => {
      if (++pages !== 3) return;
      fixture.clock.advance(1_000);
      await applySourceChanges(
        fixture.store.tenant(ORG),
        [
          { entity: 'account', id: 'w-webhook', op: 'upsert', version: '900', attributes: { name: 'w' } },
          { entity: 'account', id: 'r040', op: 'upsert', version: '901', attributes: { name: 'again' } },
        ],
        {},
      );
    };
    // The position save after the pass has judged 20 rows fails once, its tombstones written.
    crashAtScanned = 20;
    const tokens: (string | undefined)[] = [];
    const outcomes: ReplicationOutcome[] = [];
    await fixture.queue.send(syncEntityMessage(ORG, 'account'), { messageId: 'expired' });
    const drained = await drainWithRetries(outcomes, async () => {
      tokens.push(await readDeltaToken(store, 'account'));
    });

    expect(crashAtScanned).toBeUndefined();
    const last = outcomes.at(-1)!;
    // 9 rows tombstoned: r040 was written again by the webhook after the read began.
    expect(last).toMatchObject({ outcome: 'synced', full: true, changes: 50, removed: 9 });
    const removals = outcomes.filter((o) => o.outcome === 'continued' && o.phase === 'removal');
    expect(removals.length).toBeGreaterThanOrEqual(4);
    expect(drained.deadLettered).toBe(0);

    // Exactly the rows gone at the source, each tombstoned once, at its stored version + 1.
    const expectedGone = GONE.filter((id) => id !== 'r040');
    expect([...tombstones.keys()].sort()).toEqual(expectedGone);
    expect([...tombstones.values()].every((n) => n === 1)).toBe(true);
    const after = await storedRows();
    for (const row of after) {
      if (expectedGone.includes(row.id)) {
        expect(row).toMatchObject({ deleted: true, version: String(BigInt(before.get(row.id)!) + 1n) });
      } else {
        expect(row.deleted).toBe(false);
      }
    }
    expect(after.filter((r) => !r.deleted).map((r) => r.id)).toEqual(
      [...ROWS.filter((id) => !expectedGone.includes(id)), 'w-webhook'].sort(),
    );
    expect(after.find((r) => r.id === 'r040')).toMatchObject({ deleted: false, version: '901' });

    // The budget: no delivery judged more than 2 pages of 5 stored rows (a read page counts as one).
    for (const [, rows] of scannedBy) expect(rows).toBeLessThanOrEqual(10);
    // The token: the old one until the delivery that ended the pass, the read's own after it.
    expect(tokens.slice(0, -1).every((t) => t === token)).toBe(true);
    expect(tokens.at(-1)).not.toBe(token);
    expect(await store.getDoc(READ_PROGRESS_KIND, 'account')).toBeUndefined();
    expect(await store.listDocEtags(SEEN_IDS_KIND, { prefix: 'account/' })).toEqual([]);
  });

  it('resumes a pass whose holder died, from its saved position, through the next scheduled run', async () => {
    await processReplicationMessage(services, syncEntityMessage(ORG, 'account'), delivery('m0'));
    const token = (await readDeltaToken(store, 'account'))!;
    for (const id of GONE) fixture.source.remove(id);
    fixture.source.expiredTokens.add(token);
    fixture.clock.advance(60_000);

    // One message: 5 read pages, then the pass pauses after 2 steps (10 rows) of its 7-step budget.
    const first = await processReplicationMessage(
      services,
      syncEntityMessage(ORG, 'account'),
      delivery('m1'),
      { maxPages: 7, removalPageRows: 5 },
    );
    expect(first).toMatchObject({ outcome: 'continued', phase: 'removal', scanned: 10, scannedSoFar: 10 });
    expect([...tombstones.keys()].sort()).toEqual(['r001', 'r002']);
    // Its continuation is lost (the chain died): the next scheduled run goes on with the pass.
    delivering = 'm2';
    const next = await processReplicationMessage(
      services,
      syncEntityMessage(ORG, 'account'),
      delivery('m2'),
      { removalPageRows: 5 },
    );
    expect(next).toMatchObject({ outcome: 'synced', full: true, removed: GONE.length });
    // The read was not read again: the pass went on from row r010.
    expect(fixture.source.reads).toBe(2);
    expect(scannedBy.get('m2')).toBe(50);
    expect([...tombstones.keys()].sort()).toEqual(GONE);
    expect([...tombstones.values()].every((n) => n === 1)).toBe(true);
    expect(await readDeltaToken(store, 'account')).not.toBe(token);
  });
});
