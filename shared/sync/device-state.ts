import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../errors';
import { conditionSchema } from '../model/condition';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';
import { deepFreeze } from '../store/parsed-doc-cache';
import type { RowFormula } from '../filters/row-formula';
import type { EntityJudgement } from './compile-device-profile';

/*
 * The one home of a device's download state (SPEC §6): which rows the device holds, what they were
 * judged under, the sync in progress, and the page sent last. Every document id format and every
 * undo lives here; the sync engine (download.ts) sees a state object, a held-set reader and a
 * transaction that commits with one version-checked write.
 *
 * Documents (tenant DocStore, per device key):
 *   syncDevice/{key}                 the state below: small, written IfMatch its etag, so of two
 *                                    concurrent requests of one device only one commits
 *   syncHeld/{key}|b{n}.{generation} held bucket n: entity → id → held value; copy-on-write under a
 *                                    new generation, so a losing request leaves committed ones intact
 *   syncHeld/{key}|s{seq}.{random}   a page's segment: what page `seq` changes in the held set, and
 *                                    the entries it was built from (to send again if it is lost)
 *   syncPlan/{key}|o.{random}        outbox entries beyond what the state holds inline
 *   syncPlan/{key}|r.{random}        a reach task's sorted source values (see download.ts)
 *
 * State machine of one device (checkpoint = the page sequence number the device presents):
 *
 *        download without checkpoint: new epoch (old documents dropped once it commits)
 *                        |
 *                        v
 *   +-------> Idle (work = null) --changes, or judgement differs--> Working (work ≠ null)
 *   |                                                                  |
 *   |               page issued: pending = {seq, segment}  <-----------+
 *   |                          |                 |
 *   |   checkpoint = pending   |                 |  checkpoint = base (page lost): the page's
 *   |   (acknowledged): the    |                 |  entries go back to the front of the outbox
 *   |   segment joins the held |                 |  and are sent again
 *   |   set; work done? -------+                 |
 *   +------------ yes                            +---> Working
 *                                                |
 *          checkpoint = previous.base (the device asked for a page with the checkpoint of one it
 *          then lost, and lost that answer too): the pending page goes back as above, then the
 *          acknowledged one leaves the held set (its segment is the last) and goes back too,
 *          before it ---> Working. `previous` is kept from an acknowledgement until the work ends,
 *          is judged again (rebased, or its cursor expired) or the held set is compacted; a
 *          checkpoint older still is stale (the device starts over).
 *
 * The held set = buckets (compacted) + segments (acknowledged pages since, applied in order). It is
 * compacted into buckets by {@link compactionDue} (amortized: each row is rewritten a logarithmic
 * number of times over an initial download; between works, once the segments are many or large) and
 * when a first download ends (its size is then exact). Buckets are sized by
 * the set (about {@link BUCKET_TARGET_ROWS} rows each) so no document approaches Cosmos' 2 MB.
 */

const STATE_KIND = 'syncDevice';
const HELD_KIND = 'syncHeld';
const PLAN_KIND = 'syncPlan';
/** Rows per held bucket the bucket count aims at: ~10,000 × ~100 bytes ≈ 1 MB per document. */
export const BUCKET_TARGET_ROWS = 10_000;
/**
 * One bucket until the set outgrows it: a small set's sync then reads and rewrites one document
 * instead of sixteen small ones (each write its own commit on SQLite, its own request on Cosmos).
 */
const MIN_BUCKETS = 1;
/** Segment or bucket documents a compaction reads (and buckets it folds) at once. */
const COMPACTION_READS_AT_ONCE = 4;
/**
 * Segment rows that make a fold due during a work whatever the buckets hold: a fold keeps the
 * segments' rows in memory, so they stay bounded (about 30-50 MB) however large the set grows.
 */
const MAX_SEGMENT_ROWS = 100_000;
/** Entries per outbox or value-list chunk document. */
export const CHUNK_SIZE = 5000;
/** Outbox entries kept inside the state document. */
const INLINE_OUTBOX_MAX = 1000;

/** A held row: its version, or its version and the values its remembered associations offer. */
export const heldValueSchema = z.union([z.string(), z.tuple([z.string()]).rest(z.string().nullable())]);
export type HeldValue = z.infer<typeof heldValueSchema>;

/** The version of a held value. */
export function heldVersion(value: HeldValue): string {
  return typeof value === 'string' ? value : value[0];
}

/** The remembered association values of a held value (entity `remembered` order). */
export function heldLinks(value: HeldValue): readonly (string | null)[] {
  return typeof value === 'string' ? [] : value.slice(1);
}

/** A held value from a version and remembered values (a plain version when there are none). */
export function toHeldValue(version: string, links: readonly (string | null)[]): HeldValue {
  return links.length === 0 ? version : [version, ...links];
}

/**
 * One change a sync plans to send: entity, id, what it does, and the held value planned (the version,
 * with remembered values) or, for a removal, the version held. What it does, relative to what the
 * device holds when it is planned: `a` upsert of a row not held (one row more), `u` upsert of a held
 * row, `r` removal of a held row (one row less), `x` removal of a row not held (sent all the same:
 * the device may hold it from a page it applied without keeping the checkpoint).
 */
const planOpSchema = z.enum(['a', 'u', 'r', 'x']);
export const planEntrySchema = z.tuple([z.string(), z.string(), planOpSchema, heldValueSchema]);
export type PlanEntry = z.infer<typeof planEntrySchema>;

/** One change to the held set: entity, id, the value now held (null: no longer held). */
export const heldDeltaSchema = z.tuple([z.string(), z.string(), heldValueSchema.nullable()]);
export type HeldDelta = z.infer<typeof heldDeltaSchema>;

const rowFormulaSchema: z.ZodType<RowFormula> = z.lazy(() =>
  z.union([
    z.object({ op: z.enum(['and', 'or']), parts: z.array(rowFormulaSchema) }),
    z.object({ op: z.literal('const'), value: z.boolean() }),
    z.object({
      op: z.literal('ids'),
      attribute: z.string(),
      values: z.array(z.string()),
      negated: z.literal(true).optional(),
    }),
    z.object({ op: z.literal('numbers'), attribute: z.string(), values: z.array(z.number()) }),
    z.object({ op: z.literal('window'), attribute: z.string(), from: z.number(), to: z.number() }),
    z.object({ op: z.literal('condition'), condition: conditionSchema, path: z.string() }),
  ]),
);

const entityJudgementSchema: z.ZodType<EntityJudgement> = z.object({
  formulas: z.object({ own: rowFormulaSchema, org: rowFormulaSchema, read: rowFormulaSchema }),
  signature: z.string(),
  hidden: z.string(),
});

/** What a device's rows were (or, for a work, will be) judged under: entity → judgement, and its digest. */
export const judgementSchema = z.object({
  digest: z.string(),
  entities: z.record(z.string(), entityJudgementSchema),
});
export type Judgement = z.infer<typeof judgementSchema>;

const probeSchema = z.union([
  z.object({ kind: z.literal('all') }),
  z.object({
    kind: z.literal('text'),
    attribute: z.string().nullable(),
    values: z.array(z.string()).readonly(),
    within: z
      .object({ attribute: z.string(), from: z.number().nullable(), to: z.number().nullable() })
      .optional(),
  }),
  z.object({ kind: z.literal('number'), attribute: z.string(), values: z.array(z.number()).readonly() }),
  z.object({
    kind: z.literal('time'),
    attribute: z.string(),
    from: z.number().nullable(),
    to: z.number().nullable(),
  }),
]);

const scopeSchema = z.object({
  entity: z.string(),
  ownershipKeys: z.array(z.string()).readonly().optional(),
});

/** A chunked list of strings in documents (an outbox's or a reach task's). */
const chunkRefSchema = z.object({ id: z.string(), count: z.number().int().nonnegative() });

/**
 * One step of a sync's work (download.ts runs them in order):
 * - `enumerate`: rows of an entity the cover's probes find, judged as direct members (`fresh`: the
 *   device holds none of the entity's rows, so nothing is compared with what it holds);
 * - `reach`: rows of an entity reached through one incoming association from what the device will
 *   hold of the source (`values`: the sources' sorted distinct values, listed once);
 * - `sweep`: every held row of an entity (or those a filter matches) judged again (ids after `after`);
 * - `judge`: the rows probes find (or those a filter matches) judged again, with what follows
 *   through associations;
 * - `resend`: every held row of an entity sent again (its visible columns changed);
 * - `drop`: every held row of an entity removed (it left the profile);
 * - `changes`: the changes after `cursor` judged, chunk by chunk, with what follows.
 */
export const taskSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('enumerate'),
    entity: z.string(),
    fresh: z.boolean(),
    probes: z.array(probeSchema),
    index: z.number().int().nonnegative(),
    after: z.string().nullable(),
    estimate: z.number().int().nonnegative(),
    read: z.number().int().nonnegative(),
  }),
  z.object({
    kind: z.literal('reach'),
    entity: z.string(),
    relationship: z.string(),
    source: z.string(),
    fresh: z.boolean(),
    values: z.object({ chunks: z.array(chunkRefSchema), total: z.number().int() }).nullable(),
    position: z.number().int().nonnegative(),
    after: z.string().nullable(),
  }),
  z.object({
    kind: z.literal('sweep'),
    entity: z.string(),
    after: z.string().nullable(),
    /** Only the held rows these probes match (null: all, unless `held` names some). */
    filter: z.array(probeSchema).nullable(),
    /**
     * Also (or, with `filter` null, only) the held rows whose kept time keys these probes match
     * (compile-device-profile.ts `keys`): only those are read.
     */
    held: z.array(probeSchema).nullable().optional(),
    /** Follow membership changes to association targets (not when those are judged again anyway). */
    propagate: z.boolean(),
  }),
  z.object({
    kind: z.literal('judge'),
    entity: z.string(),
    probes: z.array(probeSchema),
    index: z.number().int().nonnegative(),
    after: z.string().nullable(),
    /** Only the rows found that these probes match (null: all). */
    filter: z.array(probeSchema).nullable(),
  }),
  z.object({ kind: z.literal('resend'), entity: z.string(), after: z.string().nullable() }),
  z.object({ kind: z.literal('drop'), entity: z.string(), after: z.string().nullable() }),
  z.object({ kind: z.literal('changes'), scopes: z.array(scopeSchema), cursor: z.string() }),
]);
export type Task = z.infer<typeof taskSchema>;

/** Planned entries not sent yet: chunk documents first (older), then the inline ones. */
export const outboxSchema = z.object({
  chunks: z.array(chunkRefSchema),
  /** Entries of the first chunk already sent. */
  offset: z.number().int().nonnegative(),
  inline: z.array(planEntrySchema),
});
export type Outbox = z.infer<typeof outboxSchema>;

/** A sync in progress. */
export const workSchema = z.object({
  phase: z.enum(['initial', 'incremental']),
  /** What the held set will be judged under once the work is done. */
  judgement: judgementSchema,
  tasks: z.array(taskSchema),
  outbox: outboxSchema,
  /** Changes sent by this work so far (progress). */
  sent: z.number().int().nonnegative(),
  /** Where the change sequence stands once the work is done (set by its last `changes` task). */
  cursor: z.string().nullable(),
  /** Entities this work judges again from their rows (a republish, an expired cursor…). */
  recomputed: z.array(z.string()),
});
export type Work = z.infer<typeof workSchema>;

export const heldStateSchema = z.object({
  /** Bucket count (a power of two); `generations[n]` names bucket n's document (null: empty). */
  buckets: z.number().int().positive(),
  generations: z.array(z.string().nullable()),
  /** Rows in each bucket. */
  counts: z.array(z.number().int().nonnegative()),
  /** Acknowledged pages' segments since the last compaction, in order. */
  segments: z.array(chunkRefSchema),
  /**
   * Rows held: the buckets' counts plus what the segments add (exact after a compaction; during a
   * fresh download it may count a row sent twice).
   */
  size: z.number().int().nonnegative(),
});
export type HeldState = z.infer<typeof heldStateSchema>;

/** A page as the state keeps it: its sequence number, its segment document, and what it does. */
const pageSchema = z.object({
  seq: z.number().int().nonnegative(),
  segment: z.string(),
  count: z.number().int().nonnegative(),
  sizeDelta: z.number().int(),
});

export const deviceStateSchema = z.object({
  epoch: z.string(),
  /** The `oid` that owns this state: a checkpoint replayed by another Entra identity is refused. */
  objectId: z.string(),
  /** Sequence number of the last page issued. */
  issuedSeq: z.number().int().nonnegative(),
  /** Sequence number of the last page the device acknowledged: the held set reflects it. */
  baseSeq: z.number().int().nonnegative(),
  held: heldStateSchema,
  /** Where in the change sequence the held set is right (null before the first sync ends). */
  cursor: z.string().nullable(),
  /** What the held set was judged under (null before the first sync ends). */
  judgement: judgementSchema.nullable(),
  work: workSchema.nullable(),
  /** The page issued last and not yet acknowledged: its segment document, and what it does. */
  pending: pageSchema.nullable(),
  /**
   * The page acknowledged last, while it can still be taken back (`baseSeq` before it): a device
   * that asked for the next page before writing this one (the SDK does) and then lost both presents
   * the checkpoint before them. Null once the work ended or was judged again, or the held set was
   * compacted, since; absent in states of earlier versions.
   */
  previous: pageSchema.extend({ baseSeq: z.number().int().nonnegative() }).nullable().default(null),
});
export type DeviceState = z.infer<typeof deviceStateSchema>;

/**
 * A segment document: what a page changes in the held set (`delta`) and the entries it was built from.
 * Entry `i` planned the row of `delta[i]`, so only what `delta` lacks is kept: each entry's op (`ops`,
 * one letter per entry) and its planned value where it differs from the value held after the page
 * (`values`: index and value; a removal's version, an upsert's planned version when the row changed
 * since it was planned). Earlier versions kept the entries whole, as JSON text or an array (`planned`),
 * which doubled every segment; both are still read.
 */
interface SegmentValue {
  delta: HeldDelta[];
  ops?: string;
  values?: [number, HeldValue][];
  planned?: string | PlanEntry[];
}
type BucketValue = Record<string, Record<string, HeldValue>>;

/** The storage key of a user's device (hashed: user ids may hold characters Cosmos ids refuse). */
export function deviceKey(userId: string, deviceId: string): string {
  return createHash('sha256').update(`${userId}\n${deviceId}`).digest('hex').slice(0, 40);
}

/** The bucket of a row among `count` (FNV-1a over entity and id; `count` is a power of two). */
export function bucketOf(entity: string, id: string, count: number): number {
  if (count === 1) return 0;
  let hash = 0x811c9dc5;
  const text = `${entity}\u0000${id}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** The bucket count for a held set of `size` rows. */
export function bucketCountFor(size: number): number {
  let count = MIN_BUCKETS;
  while (count * BUCKET_TARGET_ROWS < size) count *= 2;
  return count;
}

/**
 * What a presented checkpoint (its page sequence number) does, as the state machine above draws it:
 * `acknowledge` the pending page, send the pending page again (`resend`, it was lost), take back the
 * pending page and the one acknowledged before it (`takeBack`), nothing (`current`: nothing pending),
 * or refuse it (`stale`: the device starts over).
 */
export type CheckpointStep = 'acknowledge' | 'resend' | 'takeBack' | 'current' | 'stale';

export function checkpointStep(
  state: Pick<DeviceState, 'issuedSeq' | 'baseSeq' | 'pending' | 'previous'> & {
    held: Pick<HeldState, 'segments'>;
  },
  seq: number,
): CheckpointStep {
  if (state.pending !== null && seq === state.issuedSeq) return 'acknowledge';
  if (seq === state.baseSeq) return state.pending === null ? 'current' : 'resend';
  const { previous } = state;
  // Its segment must be the held set's last to be taken back (acknowledge keeps it so).
  if (previous !== null && seq === previous.baseSeq && state.held.segments.at(-1)?.id === previous.segment)
    return 'takeBack';
  return 'stale';
}

/** A fresh state for a new epoch (a download without a checkpoint). */
export function newDeviceState(objectId: string): DeviceState {
  return {
    epoch: randomUUID(),
    objectId,
    issuedSeq: 0,
    baseSeq: 0,
    held: {
      buckets: MIN_BUCKETS,
      generations: Array.from({ length: MIN_BUCKETS }, () => null),
      counts: Array.from({ length: MIN_BUCKETS }, () => 0),
      segments: [],
      size: 0,
    },
    cursor: null,
    judgement: null,
    work: null,
    pending: null,
    previous: null,
  };
}

/** An empty outbox. */
export function emptyOutbox(): Outbox {
  return { chunks: [], offset: 0, inline: [] };
}

/** Entries waiting in an outbox. */
export function outboxSize(outbox: Outbox): number {
  return outbox.chunks.reduce((sum, c) => sum + c.count, 0) - outbox.offset + outbox.inline.length;
}

/** A device state as loaded, with the etag its commit must match. */
export interface LoadedDeviceState {
  key: string;
  state: DeviceState | undefined;
  etag: string | undefined;
}

/**
 * The device states of one tenant: load, read the held set, and write everything of one request in
 * a {@link DeviceStateTransaction}.
 */
export class DeviceStateStore {
  /**
   * `store` reads and writes (a request's metered handle); `cacheOwner` keys the validated-state
   * cache (the tenant's own handle, which outlives requests; `store` when absent).
   */
  constructor(
    private readonly store: DocStore,
    private readonly cacheOwner: object = store,
  ) {}

  async load(key: string): Promise<LoadedDeviceState> {
    const states = validatedStatesOf(this.cacheOwner);
    const known = states.get(key);
    // What this process committed or validated last is read again only if another writer changed it.
    const doc =
      known === undefined
        ? await this.store.getDoc(STATE_KIND, key)
        : await this.store.getDocIfChanged(STATE_KIND, key, known.etag);
    if (doc === undefined) return { key, state: undefined, etag: undefined };
    if (doc === 'unchanged') return { key, state: known!.state, etag: known!.etag };
    const state = deepFreeze(deviceStateSchema.parse(doc.value));
    rememberState(states, key, doc.etag, state);
    return { key, state, etag: doc.etag };
  }

  /**
   * A reader of the held set as the state records it. Held documents it reads are kept in this
   * process's {@link HeldDocCache} when the request's transaction `tx` keeps them.
   */
  held(key: string, held: HeldState, tx?: DeviceStateTransaction): HeldSet {
    return new HeldSet(this.store, key, held, tx?.heldCache ?? null);
  }

  /** A transaction for one request on a loaded state. */
  begin(loaded: LoadedDeviceState): DeviceStateTransaction {
    return new DeviceStateTransaction(this.store, loaded, this.cacheOwner);
  }
}

/**
 * Held documents (buckets, and segments' deltas) this process parsed, per tenant handle and
 * document id, least recently used first out, at most {@link HELD_CACHE_ROWS} rows in all. Every
 * sync that looks at a held row reads the segments and the buckets of the rows it judges: a hundred
 * changes made 50 devices read and parse 270 KB of JSON each, per sync, two thirds of their time.
 *
 * Safe across requests and instances: a held document is written once under a fresh id
 * (a random generation or suffix) and never changed, only deleted once no committed state names it,
 * so an entry is exactly the document of its id for as long as a state can name it. Only devices
 * past their first download use it (an idle device's next sync reads what its last one read or
 * wrote), so a first download's pages and folds, read once, never push out what idle devices reuse
 * and never hold the memory a large download must not (host RSS, bench workload 2). A document of
 * more than an eighth of the bound is not kept. Values are read-only: this module's readers copy what
 * they change (a fold clones its bucket).
 */
export const HELD_CACHE_ROWS = 250_000;

export class HeldDocCache {
  private readonly docs = new Map<string, { value: unknown; rows: number }>();
  private total = 0;

  /** Rows kept in all. */
  get rows(): number {
    return this.total;
  }

  get<T>(id: string): T | undefined {
    const entry = this.docs.get(id);
    if (entry === undefined) return undefined;
    // Most recently used last: the map keeps insertion order.
    this.docs.delete(id);
    this.docs.set(id, entry);
    return entry.value as T;
  }

  set(id: string, value: unknown, rows: number): void {
    this.delete(id);
    if (rows > HELD_CACHE_ROWS / 8) return;
    this.docs.set(id, { value, rows });
    this.total += rows;
    while (this.total > HELD_CACHE_ROWS) {
      const oldest = this.docs.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
  }

  delete(id: string): void {
    const entry = this.docs.get(id);
    if (entry === undefined) return;
    this.docs.delete(id);
    this.total -= entry.rows;
  }
}

const heldDocCaches = new WeakMap<object, HeldDocCache>();

/** The held-document cache of a tenant handle. */
export function heldDocCacheOf(owner: object): HeldDocCache {
  let cache = heldDocCaches.get(owner);
  if (cache === undefined) {
    cache = new HeldDocCache();
    heldDocCaches.set(owner, cache);
  }
  return cache;
}

/**
 * The cache a request on `loaded` reads and fills: none unless the device is past its first
 * download (and, see {@link DeviceStateTransaction.heldCache}, the request does not start another).
 */
function heldCacheFor(owner: object, loaded: LoadedDeviceState): HeldDocCache | null {
  const state = loaded.state;
  if (state === undefined || state.cursor === null || state.work?.phase === 'initial') return null;
  return heldDocCacheOf(owner);
}

/** Validated states a tenant handle keeps (at most this many devices, the oldest dropped first). */
const VALIDATED_STATES_CAPACITY = 2000;
const validatedStates = new WeakMap<object, Map<string, { etag: string; state: DeviceState }>>();

/**
 * The device states this process last validated or committed, per tenant handle and state id, with
 * the etag of the document they are. A load whose document still has that etag skips validating it
 * again (a device's state is read and parsed on every sync, a few milliseconds for a large one).
 * Safe across instances and requests: every write gives the document a new etag, so an entry answers
 * only for exactly the document it was made from, and another writer's document never matches it.
 * States are frozen: a request clones the state it loaded before changing it.
 */
function validatedStatesOf(owner: object): Map<string, { etag: string; state: DeviceState }> {
  let states = validatedStates.get(owner);
  if (states === undefined) {
    states = new Map();
    validatedStates.set(owner, states);
  }
  return states;
}

function rememberState(
  states: Map<string, { etag: string; state: DeviceState }>,
  key: string,
  etag: string,
  state: DeviceState,
): void {
  // Oldest first out: the map keeps insertion order.
  states.delete(key);
  while (states.size >= VALIDATED_STATES_CAPACITY) {
    const oldest = states.keys().next();
    if (oldest.done === true) break;
    states.delete(oldest.value);
  }
  states.set(key, { etag, state });
}

/**
 * When the segments are folded into the buckets. During a work, amortized: once they hold as many
 * rows as the buckets (at least 8 of them, 20,000 rows), so each row of a first download is rewritten
 * a logarithmic number of times, and at 64 segments or {@link MAX_SEGMENT_ROWS} rows in any case
 * (a fold holds the segments' rows in memory). Between works, every sync that looks at a
 * held row reads the segments whole: they are folded once there are 16 of them or they hold a quarter
 * of the buckets' rows (at least 1,000, at most a bucket's worth). An incremental sync's page so
 * stays a segment instead of rewriting every bucket it touches (all of them, for a hundred changes
 * over 16 buckets).
 */
export function compactionDue(held: HeldState, idle: boolean): boolean {
  const count = held.segments.length;
  if (count === 0) return false;
  const segmentRows = held.segments.reduce((sum, s) => sum + s.count, 0);
  const bucketRows = held.counts.reduce((sum, n) => sum + n, 0);
  if (count >= 64 || segmentRows >= MAX_SEGMENT_ROWS) return true;
  if (count >= 8 && segmentRows >= Math.max(bucketRows, 20_000)) return true;
  // Between works: a quarter of what is held (at least 1,000 rows, at most a bucket's worth).
  const most = Math.min(BUCKET_TARGET_ROWS, Math.max(bucketRows / 4, 1000));
  return idle && (count >= 16 || segmentRows >= most);
}

/**
 * The held set of a device, loaded on demand: buckets by the rows asked for, segments whole (they
 * override buckets, later ones earlier ones).
 */
export class HeldSet {
  /** Buckets loaded (as read: read-only, possibly shared through the cache), by number. */
  private readonly buckets = new Map<number, Promise<BucketValue>>();
  private readonly loaded = new Map<number, BucketValue>();
  private segmentsLoaded = false;
  private readonly segmentRows = new Map<string, Map<string, HeldValue | null>>();

  constructor(
    private readonly store: DocStore,
    private readonly key: string,
    readonly state: HeldState,
    private readonly cache: HeldDocCache | null = null,
  ) {}

  /** Loads what answering for these rows needs. */
  ensure(rows: Iterable<readonly [string, string]>): Promise<void> {
    return this.ensureUpTo(rows, Number.POSITIVE_INFINITY);
  }

  /**
   * As {@link ensure}, but loads buckets only while the loaded ones hold at most `maxRows` rows in
   * all: the rows of a bucket left unloaded read as not held. For a caller to whom "not held" costs
   * a row read and no more (a first download's reach, which then reads the row and plans it again):
   * its targets spread over every bucket, and a 500,000-row first download loaded the whole set
   * (host peak RSS 292 → 439 MiB, bench workload 2) to skip reading rows it had sent.
   */
  async ensureUpTo(rows: Iterable<readonly [string, string]>, maxRows: number): Promise<void> {
    const bounded = Number.isFinite(maxRows);
    let loadedRows = 0;
    // Unbounded (ensure, once per planned row of an incremental sync) counts nothing.
    if (bounded) for (const bucket of this.loaded.keys()) loadedRows += this.state.counts[bucket] ?? 0;
    const chosen = new Set<number>();
    for (const [entity, id] of rows) {
      const bucket = bucketOf(entity, id, this.state.buckets);
      if (this.loaded.has(bucket) || chosen.has(bucket)) continue;
      if (bounded) {
        const count = this.state.counts[bucket] ?? 0;
        if (loadedRows + count > maxRows) continue;
        loadedRows += count;
      }
      chosen.add(bucket);
    }
    await Promise.all([this.loadSegments(), ...[...chosen].map((bucket) => this.loadBucket(bucket))]);
  }

  /** The held value of a row (after {@link ensure} for it), undefined when not held. */
  get(entity: string, id: string): HeldValue | undefined {
    const fromSegment = this.segmentRows.get(entity)?.get(id);
    if (fromSegment !== undefined) return fromSegment ?? undefined;
    const rows = this.loaded.get(bucketOf(entity, id, this.state.buckets))?.[entity];
    // Own properties only: an id such as `constructor` is not held because objects have one.
    return rows !== undefined && Object.hasOwn(rows, id) ? rows[id] : undefined;
  }

  /**
   * Visits every held row of an entity, segments over buckets. Buckets not loaded are read a few at
   * a time and not kept, so memory holds the segments (bounded, {@link MAX_SEGMENT_ROWS}) and a few
   * buckets, whatever the size of the set: a reach over a 500,000-row first download loaded the
   * whole set (about 130 MB) to list one entity's values.
   */
  async scan(entity: string, visit: (id: string, value: HeldValue) => void): Promise<void> {
    await this.loadSegments();
    const overridden = this.segmentRows.get(entity);
    const visitBucket = (value: BucketValue): void => {
      for (const [id, held] of Object.entries(value[entity] ?? {}))
        if (overridden?.has(id) !== true) visit(id, held);
    };
    const unloaded: number[] = [];
    for (let bucket = 0; bucket < this.state.buckets; bucket++) {
      const value = this.loaded.get(bucket);
      if (value !== undefined) visitBucket(value);
      else if ((this.state.generations[bucket] ?? null) !== null) unloaded.push(bucket);
    }
    for (let i = 0; i < unloaded.length; i += COMPACTION_READS_AT_ONCE) {
      const docs = await Promise.all(
        unloaded.slice(i, i + COMPACTION_READS_AT_ONCE).map((bucket) => this.readBucket(bucket)),
      );
      for (const value of docs) visitBucket(value);
    }
    for (const [id, value] of overridden ?? []) if (value !== null) visit(id, value);
  }

  /** Every held row of an entity, by id (see {@link scan}). */
  async entriesOf(entity: string): Promise<Map<string, HeldValue>> {
    const out = new Map<string, HeldValue>();
    await this.scan(entity, (id, value) => out.set(id, value));
    return out;
  }

  private async loadSegments(): Promise<void> {
    if (this.segmentsLoaded) return;
    this.segmentsLoaded = true;
    const deltas = await Promise.all(
      this.state.segments.map((segment) => readSegmentDelta(this.store, this.cache, this.key, segment.id)),
    );
    for (const delta of deltas) {
      for (const [entity, id, value] of delta) mapOf(this.segmentRows, entity).set(id, value);
    }
  }

  private async loadBucket(bucket: number): Promise<void> {
    let read = this.buckets.get(bucket);
    if (read === undefined) {
      read = this.readBucket(bucket);
      this.buckets.set(bucket, read);
    }
    this.loaded.set(bucket, await read);
  }

  private readBucket(bucket: number): Promise<BucketValue> {
    return readBucketDoc(this.store, this.cache, this.key, this.state, bucket);
  }
}

/** A segment's delta: from the cache, or read (and kept when there is a cache). */
async function readSegmentDelta(
  store: DocStore,
  cache: HeldDocCache | null,
  key: string,
  id: string,
): Promise<readonly HeldDelta[]> {
  const known = cache?.get<readonly HeldDelta[]>(id);
  if (known !== undefined) return known;
  const doc = await store.getDoc<SegmentValue>(HELD_KIND, id);
  if (doc === undefined) throw missingDoc(key, id);
  cache?.set(id, doc.value.delta, doc.value.delta.length);
  return doc.value.delta;
}

/** Bucket `bucket` of a held state: from the cache, or read (and kept when there is a cache). */
async function readBucketDoc(
  store: DocStore,
  cache: HeldDocCache | null,
  key: string,
  held: HeldState,
  bucket: number,
): Promise<BucketValue> {
  const generation = held.generations[bucket] ?? null;
  if (generation === null) return {};
  const id = bucketDocId(key, bucket, generation);
  const known = cache?.get<BucketValue>(id);
  if (known !== undefined) return known;
  const doc = await store.getDoc<BucketValue>(HELD_KIND, id);
  if (doc === undefined) throw missingDoc(key, id);
  cache?.set(id, doc.value, held.counts[bucket] ?? countRows([doc.value]));
  return doc.value;
}

/**
 * What a segment keeps of a page's planned entries besides its delta (see {@link SegmentValue}):
 * `planned` is empty or entry for entry the rows of `delta`.
 */
function encodePlanned(
  delta: readonly HeldDelta[],
  planned: readonly PlanEntry[],
): Pick<SegmentValue, 'ops' | 'values'> {
  if (planned.length !== 0 && planned.length !== delta.length) {
    throw new AppError(
      'Internal',
      `A page of ${delta.length} changes was planned from ${planned.length} entries.`,
    );
  }
  // Indexed, not destructured: a page has thousands of entries, and destructuring each pair of
  // tuples allocated iterators (about 4 MB a 10,565-row first download).
  const ops: string[] = new Array<string>(planned.length);
  const values: [number, HeldValue][] = [];
  for (let i = 0; i < planned.length; i++) {
    const entry = planned[i]!;
    const change = delta[i]!;
    if (entry[0] !== change[0] || entry[1] !== change[1]) {
      throw new AppError(
        'Internal',
        `Planned entry ${i} (${entry[0]}/${entry[1]}) is not the row its page changed.`,
      );
    }
    ops[i] = entry[2];
    const held = change[2];
    if (held === null || !sameHeldValue(held, entry[3])) values.push([i, entry[3]]);
  }
  return { ops: ops.join(''), values };
}

/** A segment's planned entries, whichever way it keeps them. */
function decodePlanned(key: string, id: string, segment: SegmentValue): PlanEntry[] {
  const { delta, ops, values, planned } = segment;
  if (planned !== undefined)
    return typeof planned === 'string' ? (JSON.parse(planned) as PlanEntry[]) : planned;
  if (ops === undefined)
    throw new AppError('Internal', `Segment ${id} of device state ${key} keeps no plan.`);
  const differing = new Map(values ?? []);
  return [...ops].map((op, i) => {
    const [entity, rowId, held] = delta[i]!;
    const value = differing.get(i) ?? held;
    if (value === null || !PLAN_OPS.has(op))
      throw new AppError(
        'Internal',
        `Segment ${id} of device state ${key} has no valid op or value for entry ${i}.`,
      );
    return [entity, rowId, op as PlanEntry[2], value];
  });
}

const PLAN_OPS: ReadonlySet<string> = new Set(planOpSchema.options);

function sameHeldValue(a: HeldValue, b: HeldValue): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

function mapOf<V>(maps: Map<string, Map<string, V>>, entity: string): Map<string, V> {
  let map = maps.get(entity);
  if (map === undefined) {
    map = new Map();
    maps.set(entity, map);
  }
  return map;
}

function missingDoc(key: string, id: string): AppError {
  return new AppError('Internal', `Document ${id} of device state ${key} is missing.`);
}

function bucketDocId(key: string, bucket: number, generation: string): string {
  return `${key}|b${bucket}.${generation}`;
}

/**
 * Everything one download request writes, committed by one version-checked write of the state
 * document: documents are written first (new ids only, never overwritten), the state last; if the
 * state write loses a race, the documents this request wrote are deleted and the winner's stand;
 * documents the committed state no longer names are deleted after the commit.
 */
export class DeviceStateTransaction {
  private readonly written: { kind: string; id: string }[] = [];
  private readonly obsolete: { kind: string; id: string }[] = [];
  private dropOthers = false;
  /**
   * Chunks read in this request. A chunk is written once under a fresh id and never changed, so a
   * request reads each once: a reach task takes 200 values a step from a chunk of 5,000.
   */
  private readonly chunks = new Map<string, Promise<unknown[]>>();
  /** Held documents this request wrote, kept in the cache once the commit succeeds. */
  private readonly heldWritten: { id: string; value: unknown; rows: number }[] = [];
  private readonly loadedCache: HeldDocCache | null;

  constructor(
    private readonly store: DocStore,
    readonly loaded: LoadedDeviceState,
    private readonly cacheOwner: object = store,
  ) {
    this.loadedCache = heldCacheFor(cacheOwner, loaded);
  }

  /** The held-document cache this request reads and fills: none when it starts a new epoch. */
  get heldCache(): HeldDocCache | null {
    return this.dropOthers ? null : this.loadedCache;
  }

  get key(): string {
    return this.loaded.key;
  }

  /** After the commit, every document of the device but those this transaction wrote or kept is deleted. */
  replaceEpoch(): void {
    this.dropOthers = true;
  }

  /** Writes the segment of page `seq`; returns its id. */
  async writeSegment(seq: number, delta: HeldDelta[], planned: readonly PlanEntry[]): Promise<string> {
    const id = `${this.key}|s${String(seq).padStart(10, '0')}.${randomUUID().slice(0, 8)}`;
    await this.put(HELD_KIND, id, { delta, ...encodePlanned(delta, planned) } satisfies SegmentValue);
    this.keepAfterCommit(id, delta, delta.length);
    return id;
  }

  /** The planned entries of a page's segment (to send again after the page was lost). */
  async readSegmentPlan(segment: string): Promise<PlanEntry[]> {
    const doc = await this.store.getDoc<SegmentValue>(HELD_KIND, segment);
    if (doc === undefined) throw missingDoc(this.key, segment);
    return decodePlanned(this.key, segment, doc.value);
  }

  /**
   * Keeps a held document this request wrote in the cache once the commit succeeds; nothing when the
   * request has no cache (a first download's folds would otherwise hold every bucket they wrote).
   */
  private keepAfterCommit(id: string, value: unknown, rows: number): void {
    if (this.heldCache !== null) this.heldWritten.push({ id, value, rows });
  }

  /** Marks a document to delete once the commit succeeds. */
  discardAfterCommit(kind: 'held' | 'plan', id: string): void {
    this.obsolete.push({ kind: kind === 'held' ? HELD_KIND : PLAN_KIND, id });
  }

  /** Writes a chunked list (outbox entries or sorted values) as chunk documents; returns their refs. */
  async writeChunks<T>(prefix: 'o' | 'r', items: readonly T[]): Promise<{ id: string; count: number }[]> {
    const refs: { id: string; count: number }[] = [];
    for (let start = 0; start < items.length; start += CHUNK_SIZE) {
      const chunk = items.slice(start, start + CHUNK_SIZE);
      const id = `${this.key}|${prefix}.${randomUUID().slice(0, 12)}`;
      refs.push({ id, count: chunk.length });
    }
    await Promise.all(
      refs.map((ref, i) =>
        this.put(PLAN_KIND, ref.id, { items: items.slice(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE) }),
      ),
    );
    return refs;
  }

  /** Reads one chunk document of a chunked list. */
  readChunk<T>(id: string): Promise<T[]> {
    let items = this.chunks.get(id);
    if (items === undefined) {
      items = this.store.getDoc<{ items: T[] }>(PLAN_KIND, id).then((doc) => {
        if (doc === undefined) throw missingDoc(this.key, id);
        return doc.value.items;
      });
      this.chunks.set(id, items);
      // A failed read is not kept.
      items.catch(() => this.chunks.delete(id));
    }
    return items as Promise<T[]>;
  }

  /** Takes up to `count` entries from the front of an outbox (reading chunks); returns them and what is left. */
  async takeFromOutbox(outbox: Outbox, count: number): Promise<{ taken: PlanEntry[]; rest: Outbox }> {
    const taken: PlanEntry[] = [];
    const chunks = [...outbox.chunks];
    let offset = outbox.offset;
    while (taken.length < count && chunks.length > 0) {
      const first = chunks[0]!;
      const items = await this.readChunk<PlanEntry>(first.id);
      const slice = items.slice(offset, offset + (count - taken.length));
      taken.push(...slice);
      offset += slice.length;
      if (offset >= first.count) {
        chunks.shift();
        this.discardAfterCommit('plan', first.id);
        offset = 0;
      }
    }
    const inline = [...outbox.inline];
    if (taken.length < count) taken.push(...inline.splice(0, count - taken.length));
    return { taken, rest: { chunks, offset, inline } };
  }

  /** Every entry of an outbox, in order (chunks read). */
  async readOutbox(outbox: Outbox): Promise<PlanEntry[]> {
    const all: PlanEntry[] = [];
    for (const [i, chunk] of outbox.chunks.entries()) {
      const items = await this.readChunk<PlanEntry>(chunk.id);
      all.push(...(i === 0 ? items.slice(outbox.offset) : items));
    }
    all.push(...outbox.inline);
    return all;
  }

  /**
   * An outbox of `entries` fit for the state document: inline when few, else chunk documents
   * (replacing the old outbox, whose chunks are discarded after the commit).
   */
  async storeOutbox(previous: Outbox, entries: readonly PlanEntry[]): Promise<Outbox> {
    for (const chunk of previous.chunks) this.discardAfterCommit('plan', chunk.id);
    if (entries.length <= INLINE_OUTBOX_MAX) return { chunks: [], offset: 0, inline: [...entries] };
    return { chunks: await this.writeChunks('o', entries), offset: 0, inline: [] };
  }

  /**
   * Folds the segments into the buckets: copy-on-write of the buckets they touch (under one new
   * generation), and, when the set outgrows its bucket count, every bucket split into its share of a
   * larger count. Returns the new held state (no segments, exact size).
   *
   * Memory holds the segments' rows and a few buckets at a time, never the whole set: bucket counts
   * are powers of two, so under a multiple of the current count a row of bucket `b` lands in a
   * bucket congruent to `b`, and each bucket is read, folded, split and written on its own (a 500,000
   * row first download's last fold held every row, about 250 MB). The count follows the set's size
   * as the segments could make it at most (rows they add); it only grows: a set that shrank keeps
   * its (smaller) buckets.
   */
  async compact(held: HeldState): Promise<HeldState> {
    if (held.segments.length === 0) return held;
    // The segments' changes by the bucket they fall in now, in order (a later change of a row wins).
    const changes = new Map<number, HeldDelta[]>();
    let added = 0;
    for (let i = 0; i < held.segments.length; i += COMPACTION_READS_AT_ONCE) {
      const deltas = await Promise.all(
        held.segments
          .slice(i, i + COMPACTION_READS_AT_ONCE)
          .map((segment) => readSegmentDelta(this.store, this.heldCache, this.key, segment.id)),
      );
      for (const delta of deltas) {
        for (const change of delta) {
          const bucket = bucketOf(change[0], change[1], held.buckets);
          let list = changes.get(bucket);
          if (list === undefined) changes.set(bucket, (list = []));
          list.push(change);
          if (change[2] !== null) added += 1;
        }
      }
    }
    const current = held.counts.reduce((sum, n) => sum + n, 0);
    const buckets = Math.max(held.buckets, bucketCountFor(current + added));
    const split = buckets !== held.buckets;
    const generation = randomUUID().slice(0, 8);
    for (const segment of held.segments) this.discardAfterCommit('held', segment.id);
    const generations: (string | null)[] = split
      ? Array.from({ length: buckets }, () => null)
      : [...held.generations];
    const counts = split ? Array.from({ length: buckets }, () => 0) : [...held.counts];

    const fold = async (bucket: number): Promise<void> => {
      const list = changes.get(bucket);
      const previous = held.generations[bucket] ?? null;
      // Untouched under the same count: kept as it is. Empty and untouched: nothing to split.
      if (list === undefined && (!split || previous === null)) return;
      const value = structuredClone(await this.readBucket(held, bucket));
      for (const [entity, id, heldValue] of list ?? []) {
        const rows = (value[entity] ??= {});
        if (heldValue === null) delete rows[id];
        else rows[id] = heldValue;
      }
      changes.delete(bucket);
      if (previous !== null) this.discardAfterCommit('held', bucketDocId(this.key, bucket, previous));
      const parts = new Map<number, BucketValue>();
      if (!split) parts.set(bucket, value);
      else {
        for (const [entity, rows] of Object.entries(value)) {
          for (const [id, heldValue] of Object.entries(rows)) {
            const target = bucketOf(entity, id, buckets);
            let part = parts.get(target);
            if (part === undefined) parts.set(target, (part = {}));
            (part[entity] ??= {})[id] = heldValue;
          }
        }
      }
      for (const [target, part] of parts) {
        const count = countRows([part]);
        counts[target] = count;
        generations[target] = count === 0 ? null : generation;
        if (count > 0) {
          const id = bucketDocId(this.key, target, generation);
          await this.put(HELD_KIND, id, part);
          this.keepAfterCommit(id, part, count);
        }
      }
    };
    for (let first = 0; first < held.buckets; first += COMPACTION_READS_AT_ONCE) {
      const batch: number[] = [];
      for (let b = first; b < Math.min(first + COMPACTION_READS_AT_ONCE, held.buckets); b++) batch.push(b);
      await Promise.all(batch.map(fold));
    }
    const size = counts.reduce((sum, n) => sum + n, 0);
    return { buckets, generations, counts, segments: [], size };
  }

  /**
   * Commits the state: created only if absent, or replaced only at the etag it was read at. A lost
   * race deletes what this request wrote and answers `Conflict` (detail `ConcurrentDownload`).
   */
  async commit(state: DeviceState): Promise<void> {
    try {
      // Written as built: the state is this module's own (parsed when loaded), and parsing a large
      // one again on every commit cost milliseconds per request.
      const stored = await this.store.putDoc(STATE_KIND, this.key, state, unchangedSince(this.loaded.etag));
      // The next sync of this device loads exactly this document: it needs no validation then.
      rememberState(validatedStatesOf(this.cacheOwner), this.key, stored.etag, deepFreeze(state));
      if (this.heldCache !== null)
        for (const doc of this.heldWritten) this.heldCache.set(doc.id, doc.value, doc.rows);
    } catch (error) {
      await Promise.all(this.written.map(({ kind, id }) => this.store.deleteDoc(kind, id)));
      if (error instanceof AppError && (error.code === 'PreconditionFailed' || error.code === 'Conflict')) {
        throw new AppError('Conflict', 'Another download of this device ran at the same time; retry.', {
          details: [
            { path: 'deviceId', code: 'ConcurrentDownload', message: 'retry with the same checkpoint' },
          ],
          cause: error,
        });
      }
      throw error;
    }
    if (this.dropOthers) {
      const keep = new Set(this.written.map(({ kind, id }) => `${kind}\u0000${id}`));
      const [held, plans] = await Promise.all([
        this.store.listDocEtags(HELD_KIND, { prefix: `${this.key}|` }),
        this.store.listDocEtags(PLAN_KIND, { prefix: `${this.key}|` }),
      ]);
      for (const doc of held)
        if (!keep.has(`${HELD_KIND}\u0000${doc.id}`)) this.obsolete.push({ kind: HELD_KIND, id: doc.id });
      for (const doc of plans)
        if (!keep.has(`${PLAN_KIND}\u0000${doc.id}`)) this.obsolete.push({ kind: PLAN_KIND, id: doc.id });
    }
    const cache = heldDocCacheOf(this.cacheOwner);
    for (const { kind, id } of this.obsolete) if (kind === HELD_KIND) cache.delete(id);
    await Promise.all(this.obsolete.map(({ kind, id }) => this.store.deleteDoc(kind, id)));
  }

  /** Deletes what this transaction wrote (the request failed before committing). */
  async abandon(): Promise<void> {
    await Promise.all(this.written.map(({ kind, id }) => this.store.deleteDoc(kind, id)));
  }

  private readBucket(held: HeldState, bucket: number): Promise<BucketValue> {
    return readBucketDoc(this.store, this.heldCache, this.key, held, bucket);
  }

  private async put(kind: string, id: string, value: unknown): Promise<void> {
    this.written.push({ kind, id });
    await this.store.putDoc(kind, id, value);
  }
}

function countRows(values: Iterable<BucketValue>): number {
  let count = 0;
  for (const value of values) for (const rows of Object.values(value)) count += Object.keys(rows).length;
  return count;
}
