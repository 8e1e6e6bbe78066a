import type { Container, ItemDefinition, OperationInput } from '@azure/cosmos';
import type { AppError } from '../../errors';
import type { Clock } from '../../clock';
import { cosmosStatusOf } from './cosmos-errors';
import { SEQ_BLOCK_SIZE } from './layout';

/*
 * The change sequence of a tenant, safe with any number of concurrent writers in any number of
 * processes, on the real Cosmos DB service and on @vercel/cosmosdb-server.
 *
 * Why not the Cosmos change feed: its continuation tokens are per partition range and would be the
 * natural choice on the real service, but @vercel/cosmosdb-server has no change feed (it ignores the
 * change-feed headers and answers a plain read with a constant etag), so it could not be tested. Instead:
 *
 * Documents (container `changes`, partition `/block` = floor(seq / SEQ_BLOCK_SIZE)):
 *   counter   {id: 'counter', block: 'counter', value}  the last allocated seq
 *   marker    {id: '<seq>', seq, state: 'claimed', entity, recordId} | {…, state: 'void'}
 *   gap       {id: 'gap-<seq>', seq, observedAt, ttl}    when a reader first waited at seq
 *   watermark {id: 'watermark', block: 'counter', value} a prefix of the sequence readers have passed
 * Rows (container `records`) carry `seq`, the seq of their latest change.
 *
 * Writer, per row:
 *   1. read the row (etag E) and decide the outcome;
 *   2. allocate seq S: patch `incr` on the counter (one range per chunk of rows). S is allocated after
 *      the read, and any earlier write of the row happened before that read, so a row's seq only grows;
 *   3. claim S: create marker S → (entity, id) BEFORE writing the row. 409: a reader voided S (the
 *      writer was too slow): allocate a new seq and claim again;
 *   4. replace the row IfMatch E (create it when there was none) with seq S. 412/409: another writer
 *      (or a reader's fence, below) changed the row first: void marker S and go back to 1.
 *   So a row can only ever hold a seq whose marker names it.
 *
 * Reader, from cursor C (the last seq passed), marker by marker in seq order:
 *   - no marker at seq: if the counter is below it, the end. Otherwise a writer holds it between steps
 *     2 and 3: the reader waits there (does not pass it). The first reader to wait records
 *     `observedAt` (time from the injected Clock); once the gap has been open for `gapTimeoutMs`, a
 *     reader creates a void marker. A writer that comes later gets 409 at step 3 and re-allocates.
 *   - void marker: passed.
 *   - claimed marker S for row R: read R. R.seq = S: R's change at S is visible: returned (its current
 *     state). R.seq > S: R changed again later; it is returned at its later marker (which exists, by
 *     step 3), so each row appears once, at its latest change. R.seq < S or no R: the write of step 4
 *     has not landed (or failed and its writer is about to void S): the reader waits there, as at a
 *     gap. Past the timeout, it FENCES R: it replaces R with the same content IfMatch R's etag (or,
 *     when R does not exist, creates an invisible fence item), which changes R's etag so that the
 *     writer's step 4 can no longer succeed with seq S; then it voids S. If the fence itself fails with
 *     412/409, R changed meanwhile: the reader looks again.
 *
 * Why no change is skipped: the reader passes S only when S has no row (void: never written, and
 * after the fence never writable) or when R has been read at seq ≥ S, i.e. R's change at S is
 * visible and returned now or at R's later marker. Markers are never deleted, so a passed prefix
 * stays complete; the watermark only records a prefix a reader has passed.
 * Consistency: the account must use Session or stronger consistency; the gap timeout (default 60 s)
 * is far above replica lag.
 *
 * Writers do steps 2–4 for a chunk of rows at once: one counter patch for the chunk's range, one bulk
 * create of its markers, one bulk replace/create of its rows; a row whose bulk operation did not go
 * through goes on alone (claimMany, CosmosTenantStore.persistRows).
 *
 * Throughput: a total order has one allocation point; the counter takes one request per chunk and the
 * current block partition one bulk request per 100 markers, so the sequence is far from the limit of
 * what replication and device uploads of one tenant produce.
 */

/** A marker of the change sequence: a seq claimed for a row's change, or a void (unused) seq. */
export interface ChangeMarker {
  seq: number;
  state: 'claimed' | 'void';
  entity?: string;
  recordId?: string;
}

interface MarkerItem extends ItemDefinition, ChangeMarker {
  id: string;
  block: string;
  type: 'marker';
}

interface GapItem extends ItemDefinition {
  id: string;
  block: string;
  type: 'gap';
  seq: number;
  observedAt: string;
  ttl: number;
}

interface CounterItem extends ItemDefinition {
  id: string;
  block: string;
  value: number;
}

/** Why a walk stopped: the end, a missing marker (still open), or the visitor asked to stop. */
export type WalkStop = 'end' | 'gap' | 'visitor';

const COUNTER_BLOCK = 'counter';
const COUNTER_ID = 'counter';
const WATERMARK_ID = 'watermark';
/** Gap documents are only needed while the gap is open; Cosmos removes them after a week. */
const GAP_TTL_SECONDS = 7 * 24 * 3600;
const MARKER_PAGE_SIZE = 500;
/** Marker creates per bulk request: Cosmos takes at most 100 operations per request. */
const BULK_CLAIM_SIZE = 100;

export function blockOf(seq: number): string {
  return String(Math.floor(seq / SEQ_BLOCK_SIZE));
}

/** The tenant's change sequence: allocation, markers, walking, gap timing. */
export class ChangeSequence {
  constructor(
    private readonly changes: Container,
    private readonly clock: Clock,
    private readonly gapTimeoutMs: number,
    private readonly fail: (error: unknown, what: string) => Promise<AppError>,
  ) {}

  /** Allocates `count` consecutive seqs and returns the first. */
  async allocate(count: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { resource } = await this.changes
          .item(COUNTER_ID, COUNTER_BLOCK)
          .patch<CounterItem>([{ op: 'incr', path: '/value', value: count }]);
        if (resource === undefined) throw new Error('the counter patch returned no document');
        return resource.value - count + 1;
      } catch (error) {
        if (cosmosStatusOf(error) !== 404 || attempt > 0)
          throw await this.fail(error, 'Allocating change sequence numbers');
      }
      // The first write of a tenant creates the counter.
      await this.createIgnoringConflict<CounterItem>(
        { id: COUNTER_ID, block: COUNTER_BLOCK, value: 0 },
        'Creating the change counter',
      );
    }
  }

  /** Claims seq for a row's change (before the row is written). False when a reader voided it first. */
  async claim(seq: number, entity: string, recordId: string): Promise<boolean> {
    try {
      await this.changes.items.create<MarkerItem>(marker(seq, { state: 'claimed', entity, recordId }));
      return true;
    } catch (error) {
      if (cosmosStatusOf(error) === 409) return false;
      throw await this.fail(error, `Claiming change ${seq}`);
    }
  }

  /**
   * Claims many seqs at once, with bulk creates of their markers (100 per request). Per claim: true
   * (claimed), false (a reader voided it first), or undefined when the outcome is not known (throttled,
   * or the request failed): the marker may then exist, so the caller voids that seq and takes another.
   */
  async claimMany(
    claims: readonly { seq: number; entity: string; recordId: string }[],
  ): Promise<(boolean | undefined)[]> {
    const outcomes = new Array<boolean | undefined>(claims.length);
    for (let start = 0; start < claims.length; start += BULK_CLAIM_SIZE) {
      const batch = claims.slice(start, start + BULK_CLAIM_SIZE);
      const operations: OperationInput[] = batch.map(({ seq, entity, recordId }) => ({
        operationType: 'Create',
        partitionKey: blockOf(seq),
        resourceBody: marker(seq, { state: 'claimed', entity, recordId }),
      }));
      try {
        const responses = await this.changes.items.bulk(operations, { continueOnError: true });
        responses.forEach((response, j) => {
          const status = response.statusCode;
          outcomes[start + j] = status === 201 ? true : status === 409 ? false : undefined;
        });
      } catch {
        // Outcomes unknown: each is claimed on its own, which reports a real failure precisely.
      }
    }
    return outcomes;
  }

  /** Voids a seq whose row write will not happen (lost race, or fenced), so readers pass it. */
  async abandon(seq: number): Promise<void> {
    try {
      await this.changes.items.upsert<MarkerItem>(marker(seq, { state: 'void' }));
    } catch (error) {
      throw await this.fail(error, `Voiding change ${seq}`);
    }
  }

  /**
   * Walks the markers after `from` in seq order, passing each to `visit` (return false to stop
   * before it), up to the first seq without a marker; voids such a seq once it stayed missing past
   * the timeout. Returns the last seq passed and why the walk stopped.
   */
  async walk(
    from: number,
    visit: (marker: ChangeMarker) => boolean,
  ): Promise<{ position: number; stop: WalkStop }> {
    let position = from;
    for (;;) {
      const block = blockOf(position + 1);
      const iterator = this.changes.items.query<MarkerItem>(
        {
          query: "SELECT * FROM c WHERE c.type = 'marker' AND c.seq > @after ORDER BY c.seq",
          parameters: [{ name: '@after', value: position }],
        },
        { partitionKey: block, maxItemCount: MARKER_PAGE_SIZE },
      );
      let gap = false;
      try {
        while (!gap && iterator.hasMoreResults()) {
          const { resources } = await iterator.fetchNext();
          for (const item of resources) {
            if (item.seq !== position + 1) {
              gap = true;
              break;
            }
            if (!visit(item)) return { position, stop: 'visitor' };
            position = item.seq;
          }
        }
      } catch (error) {
        throw await this.fail(error, 'Reading the change sequence');
      }
      // The block was complete up to its last seq: go on in the next block.
      if (blockOf(position + 1) !== block) continue;
      const missing = position + 1;
      if ((await this.readValue(COUNTER_ID)) < missing) return { position, stop: 'end' };
      if (!(await this.waitedPastTimeout(missing))) return { position, stop: 'gap' };
      // A 409 means the writer claimed it meanwhile: either way the seq now has a marker.
      await this.createIgnoringConflict(marker(missing, { state: 'void' }), `Closing gap ${missing}`);
    }
  }

  /**
   * Whether readers have been waiting at seq for longer than the gap timeout. The first call starts
   * the timer (a gap document with the injected clock's time), so a wait is measured from when a
   * reader first saw it, in any process.
   */
  async waitedPastTimeout(seq: number): Promise<boolean> {
    const now = this.clock.now();
    const gap: GapItem = {
      id: `gap-${seq}`,
      block: blockOf(seq),
      type: 'gap',
      seq,
      observedAt: now.toISOString(),
      ttl: GAP_TTL_SECONDS,
    };
    try {
      await this.changes.items.create(gap);
      return false;
    } catch (error) {
      if (cosmosStatusOf(error) !== 409) throw await this.fail(error, `Recording gap ${seq}`);
    }
    const existing = await this.readItem<GapItem>(gap.id, gap.block, `Reading gap ${seq}`);
    if (existing === undefined) return false;
    return now.getTime() - Date.parse(existing.observedAt) >= this.gapTimeoutMs;
  }

  /** A position every reader has passed: all seqs up to it are settled. */
  async watermark(): Promise<number> {
    return this.readValue(WATERMARK_ID);
  }

  /** Moves the watermark forward (never back). */
  async advanceWatermark(value: number): Promise<void> {
    try {
      // Conditional, so a slower reader never moves the watermark back.
      await this.changes.item(WATERMARK_ID, COUNTER_BLOCK).patch({
        condition: `FROM c WHERE c["value"] < ${value}`,
        operations: [{ op: 'set', path: '/value', value }],
      });
    } catch (error) {
      const status = cosmosStatusOf(error);
      if (status === 412) return;
      if (status !== 404) throw await this.fail(error, 'Advancing the change watermark');
      // The first advance creates the watermark; if another reader created it meanwhile, theirs stands.
      await this.createIgnoringConflict<CounterItem>(
        { id: WATERMARK_ID, block: COUNTER_BLOCK, value },
        'Creating the change watermark',
      );
    }
  }

  private async readValue(id: string): Promise<number> {
    const item = await this.readItem<CounterItem>(id, COUNTER_BLOCK, `Reading the change ${id}`);
    return item?.value ?? 0;
  }

  private async readItem<T extends ItemDefinition>(
    id: string,
    block: string,
    what: string,
  ): Promise<T | undefined> {
    try {
      const { resource } = await this.changes.item(id, block).read<T>();
      return resource;
    } catch (error) {
      throw await this.fail(error, what);
    }
  }

  private async createIgnoringConflict<T extends ItemDefinition>(item: T, what: string): Promise<void> {
    try {
      await this.changes.items.create<T>(item);
    } catch (error) {
      if (cosmosStatusOf(error) !== 409) throw await this.fail(error, what);
    }
  }
}

function marker(seq: number, fields: Omit<ChangeMarker, 'seq'>): MarkerItem {
  return { id: String(seq), block: blockOf(seq), type: 'marker', seq, ...fields };
}
