import type { Container, ItemDefinition, OperationInput, SqlParameter } from '@azure/cosmos';
import type { AppError } from '../../errors';
import type { Clock } from '../../clock';
import type { ChangeScope } from '../port';
import { cosmosStatusOf } from './cosmos-errors';
import { SEQ_BLOCK_SIZE } from './layout';
import type { ReadCounter } from './read-counter';

/*
 * The change sequence of a tenant, safe with any number of concurrent writers in any number of
 * processes, on the real Cosmos DB service and on @vercel/cosmosdb-server.
 *
 * Why not the Cosmos change feed: its continuation tokens are per partition range and would be the
 * natural choice on the real service, but @vercel/cosmosdb-server has no change feed (it ignores the
 * change-feed headers and answers a plain read with a constant etag), so it could not be tested; nor
 * could a reader ask it for the changes of some owners only. Instead:
 *
 * Documents (container `changes`, partition `/block` = floor(seq / SEQ_BLOCK_SIZE)):
 *   counter   {id: 'counter', block: 'counter', value}   the last allocated seq
 *   watermark {id: 'watermark', block: 'counter', value} every seq up to it is settled (below)
 *   marker    {id: '<seq>', type: 'marker', seq, state: 'claimed', entity, recordId, keys, ttl}
 *             | {…, state: 'void', ttl}
 *   gap       {id: 'gap-<seq>', type: 'gap', seq, observedAt, ttl} when a settler first waited at seq
 * Rows (container `records`) carry `seq`, the seq of their latest change. A claimed marker's `keys`
 * are the ownership keys of the row before and after its change (record-keys.ts `changeKeys`), so a
 * reader can ask for the changes of some owners and business units only. Markers expire after the
 * change retention (`ttl`); counter and watermark never do.
 *
 * Writer, per row (CosmosTenantStore.applyRecordWrites):
 *   1. read the row (etag E, state B) and decide the outcome (state A);
 *   2. allocate seq S: patch `incr` on the counter (one range per chunk of rows). S is allocated after
 *      the read, and any earlier write of the row happened before that read, so a row's seq only grows;
 *   3. claim S: create marker S → (entity, id, changeKeys(B, A)) BEFORE writing the row. 409: a
 *      settler voided S (the writer was too slow): allocate a new seq and claim again;
 *   4. replace the row IfMatch E (create it when there was none) with seq S. 412/409: another writer
 *      (or a settler's fence, below) changed the row first: void marker S and go back to 1. The
 *      IfMatch makes B exactly the state the change replaced, so the marker's keys are right;
 *   5. settle (below), at the end of the batch, knowing which of its own claims landed.
 *   So a row can only ever hold a seq whose marker names it.
 *
 * A seq S is SETTLED when its marker is void, or claimed and its row holds a seq ≥ S (the write of
 * step 4 landed). Both are final: a void marker can no longer be claimed (step 3 gets 409), nothing
 * voids a claim whose write landed (writers void only claims they did not write, settlers only
 * after fencing), and a row's seq never goes back.
 *
 * Settler (settleChanges: each writer after its writes, and recurring work so that a stalled claim
 * with no later write cannot hold readers back), from the watermark W, seq by seq in order:
 *   - void marker: passed.
 *   - claimed marker S for row R: passed when R.seq ≥ S (the settler's own landed claims are known
 *     without reading R). Otherwise the write has not landed: the settler waits there (stops). The
 *     first settler to wait records `observedAt` (time from the injected Clock); once the wait has
 *     lasted `gapTimeoutMs`, it FENCES R: it replaces R with the same content IfMatch R's etag (or,
 *     when R does not exist, creates an invisible fence item), which changes R's etag so that the
 *     writer's step 4 can no longer succeed with seq S; then it voids S. If the fence fails with
 *     412/409, R changed meanwhile: the settler looks again.
 *   - no marker at seq: if the counter is below it, the end. Otherwise a writer holds it between
 *     steps 2 and 3: the settler waits, and past the timeout creates a void marker (409: the writer
 *     claimed it meanwhile; either way it has a marker now, looked at again).
 *   Then it moves the watermark to the last seq it passed (a conditional patch: never back).
 *
 * Reader (readChanges from cursor C): one point read of W, then a query of the claimed markers in
 * (C, W] within its scopes (entity; with ownership keys, those whose `keys` hold one), in seq order,
 * up to its limit of rows, and the current state of their rows (bulk point reads). A reader never
 * writes: no fencing, no waiting, no walking.
 *
 * Why no change is skipped: a change is a row write that landed with seq S; its marker was claimed
 * before (step 3) and names the row, and the keys of the states before and after the change. The
 * watermark passes S only once S is settled, i.e. once the write landed, and settled stays settled;
 * so every read whose W ≥ S finds marker S claimed in (C, W] as long as C < S. A reader's cursor
 * moves only to W or to the seq of the last marker of a full page, so the cursor passes S only by
 * a read whose range held S — which returned R, in its current state: the change at S or a later
 * one (a row's seq only grows). A scoped reader asking for an owner that R left or joined at S finds
 * S by its keys. Markers are removed only by their TTL, and a cursor that may be older than that is
 * refused (change-cursor.ts). Consistency: the account must use Session or stronger consistency, and
 * a reader must see the markers a settler saw before it advanced W — replica lag is far below the
 * round trips between a marker's write and the advance of W over it.
 *
 * Writers do steps 2–4 for a chunk of rows at once: one counter patch for the chunk's range, one bulk
 * create of its markers, one bulk replace/create of its rows; a row whose bulk operation did not go
 * through goes on alone (claimMany, CosmosTenantStore.persistRows).
 *
 * Throughput: a total order has one allocation point; the counter takes one request per chunk and the
 * current block partition one bulk request per 100 markers, so the sequence is far from the limit of
 * what replication and device uploads of one tenant produce. Settling costs a writer a few small
 * requests per batch (watermark, one marker page, counter, watermark patch).
 */

/** A marker of the change sequence: a seq claimed for a row's change, or a void (unused) seq. */
export interface ChangeMarker {
  seq: number;
  state: 'claimed' | 'void';
  entity?: string;
  recordId?: string;
}

/** What a claim names: the row, and the ownership keys of its states before and after the change. */
export interface MarkerChange {
  entity: string;
  recordId: string;
  keys: readonly string[];
}

interface MarkerItem extends ItemDefinition {
  id: string;
  block: string;
  type: 'marker';
  seq: number;
  state: 'claimed' | 'void';
  entity?: string;
  recordId?: string;
  keys?: string[];
  ttl: number;
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

/** Which claimed markers a reader asks for: all, none, or those matching a query condition. */
export type MarkerFilter =
  { kind: 'all' } | { kind: 'none' } | { kind: 'some'; condition: string; parameters: SqlParameter[] };

const COUNTER_BLOCK = 'counter';
const COUNTER_ID = 'counter';
const WATERMARK_ID = 'watermark';
/** Gap documents are only needed while the gap is open; Cosmos removes them after a week. */
const GAP_TTL_SECONDS = 7 * 24 * 3600;
/** Marker creates per bulk request: Cosmos takes at most 100 operations per request. */
const BULK_CLAIM_SIZE = 100;

export function blockOf(seq: number): string {
  return String(Math.floor(seq / SEQ_BLOCK_SIZE));
}

/** The last seq of the block that holds seq. */
function blockEnd(seq: number): number {
  return (Math.floor(seq / SEQ_BLOCK_SIZE) + 1) * SEQ_BLOCK_SIZE - 1;
}

/**
 * The condition on markers that a reader's scopes ask for. Scopes of one entity merge (one without
 * ownership keys takes all of the entity's changes); entities asking for the same keys share a term.
 */
export function markerFilter(scopes: readonly ChangeScope[] | undefined): MarkerFilter {
  if (scopes === undefined) return { kind: 'all' };
  const byEntity = new Map<string, Set<string> | 'all'>();
  for (const scope of scopes) {
    const current = byEntity.get(scope.entity);
    if (current === 'all') continue;
    if (scope.ownershipKeys === undefined) {
      byEntity.set(scope.entity, 'all');
      continue;
    }
    const keys = current ?? new Set<string>();
    for (const key of scope.ownershipKeys) keys.add(key.toLowerCase());
    byEntity.set(scope.entity, keys);
  }
  const whole: string[] = [];
  const byKeys = new Map<string, { keys: string[]; entities: string[] }>();
  for (const [entity, keys] of byEntity) {
    if (keys === 'all') {
      whole.push(entity);
      continue;
    }
    // A scope with no keys asks for nothing of its entity.
    if (keys.size === 0) continue;
    const sorted = [...keys].sort();
    const id = JSON.stringify(sorted);
    const group = byKeys.get(id) ?? { keys: sorted, entities: [] };
    group.entities.push(entity);
    byKeys.set(id, group);
  }
  const terms: string[] = [];
  const parameters: SqlParameter[] = [];
  if (whole.length > 0) {
    terms.push('ARRAY_CONTAINS(@entities, c.entity)');
    parameters.push({ name: '@entities', value: whole.sort() });
  }
  [...byKeys.values()].forEach(({ keys, entities }, i) => {
    terms.push(
      `(ARRAY_CONTAINS(@entities${i}, c.entity) AND EXISTS(SELECT VALUE k FROM k IN c.keys WHERE ARRAY_CONTAINS(@keys${i}, k)))`,
    );
    parameters.push({ name: `@entities${i}`, value: entities.sort() }, { name: `@keys${i}`, value: keys });
  });
  if (terms.length === 0) return { kind: 'none' };
  return { kind: 'some', condition: terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`, parameters };
}

/** The tenant's change sequence: allocation, markers, gap timing, the watermark. */
export class ChangeSequence {
  constructor(
    private readonly changes: Container,
    private readonly clock: Clock,
    private readonly gapTimeoutMs: number,
    /** How long markers live (their `ttl`): the change retention. */
    private readonly retentionSeconds: number,
    private readonly fail: (error: unknown, what: string) => Promise<AppError>,
    private readonly counter: ReadCounter,
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

  /** Claims seq for a row's change (before the row is written). False when a settler voided it first. */
  async claim(seq: number, change: MarkerChange): Promise<boolean> {
    try {
      await this.changes.items.create<MarkerItem>(this.claimed(seq, change));
      return true;
    } catch (error) {
      if (cosmosStatusOf(error) === 409) return false;
      throw await this.fail(error, `Claiming change ${seq}`);
    }
  }

  /**
   * Claims many seqs at once, with bulk creates of their markers (100 per request). Per claim: true
   * (claimed), false (a settler voided it first), or undefined when the outcome is not known
   * (throttled, or the request failed): the marker may then exist, so the caller voids that seq and
   * takes another.
   */
  async claimMany(
    claims: readonly { seq: number; change: MarkerChange }[],
  ): Promise<(boolean | undefined)[]> {
    const outcomes = new Array<boolean | undefined>(claims.length);
    for (let start = 0; start < claims.length; start += BULK_CLAIM_SIZE) {
      const batch = claims.slice(start, start + BULK_CLAIM_SIZE);
      const operations: OperationInput[] = batch.map(({ seq, change }) => ({
        operationType: 'Create',
        partitionKey: blockOf(seq),
        resourceBody: this.claimed(seq, change),
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

  /** Voids a seq whose row write will not happen (lost race, or fenced), so settlers pass it. */
  async abandon(seq: number): Promise<void> {
    try {
      await this.changes.items.upsert<MarkerItem>(this.voided(seq));
    } catch (error) {
      throw await this.fail(error, `Voiding change ${seq}`);
    }
  }

  /** Voids a seq that has no marker; if a writer claimed it meanwhile (409), the claim stands. */
  async closeGap(seq: number): Promise<void> {
    await this.createIgnoringConflict(this.voided(seq), `Closing gap ${seq}`);
  }

  /**
   * The markers right after `after`, in seq order, as far as they are consecutive: at most `max`,
   * within one block partition. `missing` is the first seq of the range without a marker (the run
   * stopped there), undefined when the run covered the range (the caller goes on after it).
   */
  async markerRun(
    after: number,
    max: number,
  ): Promise<{ markers: ChangeMarker[]; missing: number | undefined }> {
    const first = after + 1;
    const last = Math.min(blockEnd(first), after + max);
    const markers: ChangeMarker[] = [];
    try {
      // Bounded by seq as well as by partition: the range is exactly the block's part wanted.
      const iterator = this.changes.items.query<ChangeMarker>(
        {
          query:
            "SELECT c.seq, c.state, c.entity, c.recordId FROM c WHERE c.type = 'marker' AND c.seq > @after AND c.seq <= @last ORDER BY c.type, c.seq",
          parameters: [
            { name: '@after', value: after },
            { name: '@last', value: last },
          ],
        },
        { partitionKey: blockOf(first), maxItemCount: max },
      );
      while (iterator.hasMoreResults()) {
        const response = await iterator.fetchNext();
        this.counter.add('changes', response.resources.length, response.requestCharge);
        for (const marker of response.resources) {
          if (marker.seq !== after + markers.length + 1)
            return { markers, missing: after + markers.length + 1 };
          markers.push(marker);
        }
      }
    } catch (error) {
      throw await this.fail(error, 'Reading the change sequence');
    }
    const next = after + markers.length + 1;
    return { markers, missing: next <= last ? next : undefined };
  }

  /**
   * The claimed markers in (after, upTo] that `filter` accepts, in seq order, at most `top` (the
   * reader's query: one cross-partition query, which fans out to the container's few physical
   * partitions, not to its block partitions).
   */
  async claimedMarkers(
    after: number,
    upTo: number,
    filter: MarkerFilter,
    top: number,
  ): Promise<ChangeMarker[]> {
    if (filter.kind === 'none' || upTo <= after) return [];
    const scope = filter.kind === 'some' ? ` AND ${filter.condition}` : '';
    const out: ChangeMarker[] = [];
    try {
      const iterator = this.changes.items.query<ChangeMarker>(
        {
          query: `SELECT TOP ${top} c.seq, c.entity, c.recordId FROM c WHERE c.state = 'claimed' AND c.seq > @after AND c.seq <= @upTo${scope} ORDER BY c.state, c.seq`,
          parameters: [
            { name: '@after', value: after },
            { name: '@upTo', value: upTo },
            ...(filter.kind === 'some' ? filter.parameters : []),
          ],
        },
        { maxItemCount: top },
      );
      while (out.length < top && iterator.hasMoreResults()) {
        const response = await iterator.fetchNext();
        this.counter.add('changes', response.resources.length, response.requestCharge);
        for (const marker of response.resources) out.push({ ...marker, state: 'claimed' });
      }
    } catch (error) {
      throw await this.fail(error, 'Reading changes');
    }
    return out.slice(0, top);
  }

  /**
   * Whether settlers have been waiting at seq for longer than the gap timeout. The first call starts
   * the timer (a gap document with the injected clock's time), so a wait is measured from when a
   * settler first saw it, in any process.
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

  /** The last allocated seq. */
  async lastAllocated(): Promise<number> {
    return this.readValue(COUNTER_ID);
  }

  /** The settled head: every seq up to it is settled. */
  async watermark(): Promise<number> {
    return this.readValue(WATERMARK_ID);
  }

  /** Moves the watermark forward (never back). */
  async advanceWatermark(value: number): Promise<void> {
    try {
      // Conditional, so a slower settler never moves the watermark back.
      await this.changes.item(WATERMARK_ID, COUNTER_BLOCK).patch({
        condition: `FROM c WHERE c["value"] < ${value}`,
        operations: [{ op: 'set', path: '/value', value }],
      });
    } catch (error) {
      const status = cosmosStatusOf(error);
      if (status === 412) return;
      if (status !== 404) throw await this.fail(error, 'Advancing the change watermark');
      // The first advance creates the watermark; if another settler created it meanwhile, theirs
      // stands and the next settle moves it on.
      await this.createIgnoringConflict<CounterItem>(
        { id: WATERMARK_ID, block: COUNTER_BLOCK, value },
        'Creating the change watermark',
      );
    }
  }

  private claimed(seq: number, change: MarkerChange): MarkerItem {
    return {
      id: String(seq),
      block: blockOf(seq),
      type: 'marker',
      seq,
      state: 'claimed',
      entity: change.entity,
      recordId: change.recordId,
      keys: [...change.keys],
      ttl: this.retentionSeconds,
    };
  }

  private voided(seq: number): MarkerItem {
    return {
      id: String(seq),
      block: blockOf(seq),
      type: 'marker',
      seq,
      state: 'void',
      ttl: this.retentionSeconds,
    };
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
      const response = await this.changes.item(id, block).read<T>();
      this.counter.add('none', 0, response.requestCharge);
      return response.resource;
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
