import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../errors';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';
import { syncStampSchema } from './checkpoint';

/**
 * Server-side state of one device (SPEC §6): which rows it holds at the last page it acknowledged,
 * the sync in progress (its plan of changes and how far the device got), and the page sent last but
 * not yet acknowledged. Stored in the tenant DocStore, keyed by user and device:
 *
 * - `syncDevice/{key}`: the state document below (small; written with `ifMatch`, so two concurrent
 *   requests of one device cannot both commit);
 * - `syncHeld/{key}|{bucket}|{generation}`: the held set in {@link HELD_BUCKETS} hash buckets, each
 *   written copy-on-write under a new generation, so a state write that loses a race leaves the
 *   committed buckets untouched;
 * - `syncPlan/{key}|{planId}|{chunk}`: the changes of a sync too large for the state document;
 * - `syncPlan/{key}|{planId}|d{seq}-{random}`: what acknowledged pages of an initial plan sent
 *   differently from the plan (rows changed or gone since it was made). An initial download writes
 *   the held buckets once, when its last page is acknowledged, from the plan and these deviations.
 */

const STATE_KIND = 'syncDevice';
const HELD_KIND = 'syncHeld';
const PLAN_KIND = 'syncPlan';
/** Buckets of the held set: 200,000 rows make ~12,500 entries (< 1 MB) per bucket. */
export const HELD_BUCKETS = 16;
/** Plan entries per plan chunk document. */
export const PLAN_CHUNK_SIZE = 5000;
/** Plans up to this size live inside the state document. */
const INLINE_PLAN_MAX = 2000;

/** One change a sync sends: entity, id, `u` (upsert) or `r` (remove), and the version planned. */
export const planEntrySchema = z.tuple([z.string(), z.string(), z.enum(['u', 'r']), z.string()]);
export type PlanEntry = z.infer<typeof planEntrySchema>;

/** One change to the held set: entity, id, the version now held (null: no longer held). */
export const heldDeltaSchema = z.tuple([z.string(), z.string(), z.string().nullable()]);
export type HeldDelta = z.infer<typeof heldDeltaSchema>;

export const syncPlanSchema = z.object({
  id: z.string(),
  phase: z.enum(['initial', 'incremental']),
  /** Store cursor and stamp the device is consistent with once the plan is applied. */
  cursor: z.string(),
  stamp: syncStampSchema,
  total: z.number().int().nonnegative(),
  /** How far the device got (entries applied as of the acknowledged page). */
  offset: z.number().int().nonnegative(),
  /** The entries when few; otherwise in `syncPlan` chunks. */
  inline: z.array(planEntrySchema).nullable(),
});
export type SyncPlan = z.infer<typeof syncPlanSchema>;

export const deviceStateSchema = z.object({
  epoch: z.string(),
  /** The `oid` that owns this state: a checkpoint replayed by another Entra identity is refused. */
  objectId: z.string(),
  /** Sequence number of the last page issued. */
  issuedSeq: z.number().int().nonnegative(),
  /** Sequence number of the last page the device acknowledged: the held buckets reflect it. */
  baseSeq: z.number().int().nonnegative(),
  /** Generation of each held bucket (null: empty). */
  heldGenerations: z.array(z.string().nullable()).length(HELD_BUCKETS),
  /** Rows the device holds once the plan in progress (if any) is applied. */
  setSize: z.number().int().nonnegative(),
  /** Store cursor and stamp the held set is consistent with (when no plan is in progress). */
  cursor: z.string().nullable(),
  stamp: syncStampSchema.nullable(),
  plan: syncPlanSchema.nullable(),
  /**
   * The page issued last (`issuedSeq`) and not yet acknowledged. Its `delta` is every change it makes
   * to the held set; for a page of an initial plan, only those that differ from the plan.
   */
  pending: z
    .object({ seq: z.number().int(), offsetAfter: z.number().int(), delta: z.array(heldDeltaSchema) })
    .nullable(),
});
export type DeviceState = z.infer<typeof deviceStateSchema>;

/** A device state with the etag it was read at. */
export interface LoadedDeviceState {
  key: string;
  state: DeviceState | undefined;
  etag: string | undefined;
}

/** Held versions: entity → id → version. */
export type HeldRows = Map<string, Map<string, string>>;
type BucketValue = Record<string, Record<string, string>>;

/** The storage key of a user's device (hashed: user ids may hold characters Cosmos ids refuse). */
export function deviceKey(userId: string, deviceId: string): string {
  return createHash('sha256').update(`${userId}\n${deviceId}`).digest('hex').slice(0, 40);
}

/** The bucket of a row (FNV-1a over entity and id). */
export function bucketOf(entity: string, id: string): number {
  let hash = 0x811c9dc5;
  const text = `${entity}\u0000${id}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % HELD_BUCKETS;
}

export async function loadDeviceState(store: DocStore, key: string): Promise<LoadedDeviceState> {
  const doc = await store.getDoc(STATE_KIND, key);
  if (doc === undefined) return { key, state: undefined, etag: undefined };
  return { key, state: deviceStateSchema.parse(doc.value), etag: doc.etag };
}

/** A fresh state for a new epoch (a download without a checkpoint). */
export function newDeviceState(objectId: string): DeviceState {
  return {
    epoch: randomUUID(),
    objectId,
    issuedSeq: 0,
    baseSeq: 0,
    heldGenerations: Array.from({ length: HELD_BUCKETS }, () => null),
    setSize: 0,
    cursor: null,
    stamp: null,
    plan: null,
    pending: null,
  };
}

/** Reads the held versions of the given buckets (all when `buckets` is undefined). */
export async function loadHeldRows(
  store: DocStore,
  key: string,
  state: DeviceState,
  buckets?: ReadonlySet<number>,
): Promise<HeldRows> {
  const held: HeldRows = new Map();
  await Promise.all(
    state.heldGenerations.map(async (generation, bucket) => {
      if (generation === null || (buckets !== undefined && !buckets.has(bucket))) return;
      const doc = await store.getDoc<BucketValue>(HELD_KIND, `${key}|${bucket}|${generation}`);
      if (doc === undefined) {
        throw new AppError('Internal', `Held bucket ${bucket} of device state ${key} is missing.`);
      }
      for (const [entity, rows] of Object.entries(doc.value)) {
        const map = held.get(entity) ?? new Map<string, string>();
        held.set(entity, map);
        for (const [id, version] of Object.entries(rows)) map.set(id, version);
      }
    }),
  );
  return held;
}

/** The held version of a row, if the device holds it. */
export function heldVersion(held: HeldRows, entity: string, id: string): string | undefined {
  return held.get(entity)?.get(id);
}

/** Copy-on-write of the buckets a delta touches; returns the new generations and the docs to drop. */
export async function writeHeldDelta(
  store: DocStore,
  key: string,
  state: DeviceState,
  delta: readonly HeldDelta[],
): Promise<{ generations: (string | null)[]; written: string[]; replaced: string[] }> {
  // Grouped once: a page of thousands of changes is not rescanned for each bucket.
  const byBucket = new Map<number, HeldDelta[]>();
  for (const change of delta) {
    const bucket = bucketOf(change[0], change[1]);
    const changes = byBucket.get(bucket) ?? [];
    byBucket.set(bucket, changes);
    changes.push(change);
  }
  const generations = [...state.heldGenerations];
  const written: string[] = [];
  const replaced: string[] = [];
  const generation = randomUUID().slice(0, 8);
  await Promise.all(
    [...byBucket].map(async ([bucket, changes]) => {
      const old = state.heldGenerations[bucket] ?? null;
      let value: BucketValue = {};
      if (old !== null) {
        const doc = await store.getDoc<BucketValue>(HELD_KIND, `${key}|${bucket}|${old}`);
        if (doc === undefined) throw new AppError('Internal', `Held bucket ${bucket} of ${key} is missing.`);
        value = doc.value;
      }
      for (const [entity, id, version] of changes) {
        const rows = value[entity] ?? {};
        value[entity] = rows;
        if (version === null) delete rows[id];
        else rows[id] = version;
      }
      const id = `${key}|${bucket}|${generation}`;
      await store.putDoc(HELD_KIND, id, value);
      written.push(id);
      if (old !== null) replaced.push(`${key}|${bucket}|${old}`);
      generations[bucket] = generation;
    }),
  );
  return { generations, written, replaced };
}

/**
 * Writes, once, the held set a finished initial plan leaves: every planned upsert at its planned
 * version, except where a page sent something else (`deviations`, in page order: a newer version, or
 * null for a row gone since the plan was made). An initial download thereby writes the held set once
 * instead of copying the growing buckets on every page. Returns the new generations, the documents
 * written (to drop if the state write loses a race) and those replaced (to drop once it wins).
 */
export async function writeInitialHeldSet(
  store: DocStore,
  key: string,
  state: DeviceState,
  plan: SyncPlan,
  deviations: readonly HeldDelta[],
): Promise<{ generations: (string | null)[]; written: string[]; replaced: string[] }> {
  const buckets: BucketValue[] = Array.from({ length: HELD_BUCKETS }, () => ({}));
  const hold = (entity: string, id: string, version: string): void => {
    const value = buckets[bucketOf(entity, id)]!;
    const rows = value[entity] ?? {};
    value[entity] = rows;
    rows[id] = version;
  };
  // Chunk by chunk: only one chunk of entries is parsed at a time, whatever the plan's size.
  for (let from = 0; from < plan.total; from += PLAN_CHUNK_SIZE) {
    const to = Math.min(plan.total, from + PLAN_CHUNK_SIZE);
    for (const [entity, id, op, version] of await readPlanEntries(store, key, plan, from, to))
      if (op === 'u') hold(entity, id, version);
  }
  for (const [entity, id, version] of deviations) {
    if (version !== null) hold(entity, id, version);
    else delete buckets[bucketOf(entity, id)]![entity]?.[id];
  }
  const generation = randomUUID().slice(0, 8);
  const generations: (string | null)[] = Array.from({ length: HELD_BUCKETS }, () => null);
  const written: string[] = [];
  await Promise.all(
    buckets.map(async (value, bucket) => {
      if (Object.values(value).every((rows) => Object.keys(rows).length === 0)) return;
      const id = `${key}|${bucket}|${generation}`;
      await store.putDoc(HELD_KIND, id, value);
      written.push(id);
      generations[bucket] = generation;
    }),
  );
  const replaced = state.heldGenerations.flatMap((old, bucket) =>
    old === null ? [] : [`${key}|${bucket}|${old}`],
  );
  return { generations, written, replaced };
}

/**
 * Keeps what an acknowledged page of an initial plan sent differently from the plan, until the plan
 * ends (read back by {@link readPlanDeviations}). Returns the document's id. The id carries a random
 * part: two racing requests acknowledging the same page never share (or delete) one document.
 */
export async function storePlanDeviations(
  store: DocStore,
  key: string,
  planId: string,
  seq: number,
  deviations: readonly HeldDelta[],
): Promise<string> {
  // Zero-padded: listing by id returns the pages in the order they were sent.
  const id = `${key}|${planId}|d${String(seq).padStart(10, '0')}-${randomUUID().slice(0, 8)}`;
  await store.putDoc(PLAN_KIND, id, { deviations });
  return id;
}

/** Every deviation kept for a plan, in page order. */
export async function readPlanDeviations(store: DocStore, key: string, planId: string): Promise<HeldDelta[]> {
  const docs = await store.listDocs<{ deviations: HeldDelta[] }>(PLAN_KIND, { prefix: `${key}|${planId}|d` });
  return docs.flatMap((doc) => doc.value.deviations);
}

/** Deletes plan documents (chunks or deviations) by id. */
export async function deletePlanDocs(store: DocStore, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => store.deleteDoc(PLAN_KIND, id)));
}

/** Deletes held bucket documents by id (superseded generations, or the losers of a race). */
export async function deleteHeldDocs(store: DocStore, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => store.deleteDoc(HELD_KIND, id)));
}

/** Plan chunk documents written at once: bounds what a large plan keeps in flight. */
const PLAN_WRITE_CONCURRENCY = 8;

/**
 * Writes a plan's entries as they come, so a large plan is never one array: kept whole while the plan
 * may still fit inline, then written in chunk documents as each fills, a few at a time.
 */
export class PlanEntryWriter {
  private pending: PlanEntry[] = [];
  private chunks = 0;
  private writes: Promise<unknown>[] = [];
  /** Entries added so far. */
  total = 0;

  constructor(
    private readonly store: DocStore,
    private readonly key: string,
    readonly planId: string,
  ) {}

  /** Adds an entry; when it returns a promise, await it before adding more (chunk writes drain). */
  add(entry: PlanEntry): Promise<void> | undefined {
    this.pending.push(entry);
    this.total += 1;
    if (this.total <= INLINE_PLAN_MAX || this.pending.length < PLAN_CHUNK_SIZE) return undefined;
    return this.writeFullChunks();
  }

  /** The inline entries (null when chunked) and their count, once every chunk is written. */
  async finish(): Promise<{ inline: PlanEntry[] | null; total: number }> {
    if (this.total <= INLINE_PLAN_MAX) return { inline: this.pending, total: this.total };
    if (this.pending.length > 0) await this.writeChunk(this.pending.splice(0));
    const writes = this.writes;
    this.writes = [];
    await Promise.all(writes);
    return { inline: null, total: this.total };
  }

  /** Deletes the chunks written so far (the plan is abandoned). */
  async discard(): Promise<void> {
    await Promise.allSettled(this.writes);
    this.writes = [];
    const ids = Array.from({ length: this.chunks }, (_, chunk) => `${this.key}|${this.planId}|${chunk}`);
    await deletePlanDocs(this.store, ids);
  }

  private async writeFullChunks(): Promise<void> {
    while (this.pending.length >= PLAN_CHUNK_SIZE) {
      const chunk =
        this.pending.length === PLAN_CHUNK_SIZE ? this.pending : this.pending.slice(0, PLAN_CHUNK_SIZE);
      this.pending = chunk === this.pending ? [] : this.pending.slice(PLAN_CHUNK_SIZE);
      await this.writeChunk(chunk);
    }
  }

  private async writeChunk(entries: PlanEntry[]): Promise<void> {
    this.writes.push(this.store.putDoc(PLAN_KIND, `${this.key}|${this.planId}|${this.chunks}`, { entries }));
    this.chunks += 1;
    if (this.writes.length >= PLAN_WRITE_CONCURRENCY) {
      const writes = this.writes;
      this.writes = [];
      await Promise.all(writes);
    }
  }
}

/**
 * Stores a plan's entries, read once from `entries` (an array, or a generator so a large plan is never
 * one array): inline when few, else in chunk documents. Returns the inline entries (null when
 * chunked) and their count.
 */
export async function storePlanEntries(
  store: DocStore,
  key: string,
  planId: string,
  entries: Iterable<PlanEntry>,
): Promise<{ inline: PlanEntry[] | null; total: number }> {
  const writer = new PlanEntryWriter(store, key, planId);
  for (const entry of entries) {
    const written = writer.add(entry);
    if (written !== undefined) await written;
  }
  return writer.finish();
}

/** The plan's entries in [from, to). */
export async function readPlanEntries(
  store: DocStore,
  key: string,
  plan: SyncPlan,
  from: number,
  to: number,
): Promise<PlanEntry[]> {
  if (plan.inline !== null) return plan.inline.slice(from, to);
  const first = Math.floor(from / PLAN_CHUNK_SIZE);
  const last = Math.floor((Math.max(to, from + 1) - 1) / PLAN_CHUNK_SIZE);
  const chunks = await Promise.all(
    Array.from({ length: last - first + 1 }, async (_, i) => {
      const doc = await store.getDoc<{ entries: PlanEntry[] }>(PLAN_KIND, `${key}|${plan.id}|${first + i}`);
      if (doc === undefined) throw new AppError('Internal', `Plan chunk ${first + i} of ${key} is missing.`);
      return doc.value.entries;
    }),
  );
  const all = chunks.flat();
  const start = from - first * PLAN_CHUNK_SIZE;
  return all.slice(start, start + (to - from));
}

/** Deletes a finished plan's chunk documents (and an initial plan's deviations). */
export async function deletePlan(store: DocStore, key: string, plan: SyncPlan): Promise<void> {
  const ids: string[] = [];
  if (plan.phase === 'initial') {
    for (const doc of await store.listDocEtags(PLAN_KIND, { prefix: `${key}|${plan.id}|d` }))
      ids.push(doc.id);
  }
  if (plan.inline === null) {
    for (let chunk = 0; chunk * PLAN_CHUNK_SIZE < plan.total; chunk++) ids.push(`${key}|${plan.id}|${chunk}`);
  }
  await deletePlanDocs(store, ids);
}

/**
 * Deletes every held bucket and plan document of a device (a new epoch starts from nothing), except
 * those of the plan `keepPlanId` (the new epoch's own plan, written before the old state is dropped).
 */
export async function deleteDeviceData(store: DocStore, key: string, keepPlanId?: string): Promise<void> {
  const kept = keepPlanId === undefined ? undefined : `${key}|${keepPlanId}|`;
  const [held, plans] = await Promise.all([
    store.listDocEtags(HELD_KIND, { prefix: `${key}|` }),
    store.listDocEtags(PLAN_KIND, { prefix: `${key}|` }),
  ]);
  await Promise.all([
    ...held.map((doc) => store.deleteDoc(HELD_KIND, doc.id)),
    ...plans
      .filter((doc) => kept === undefined || !doc.id.startsWith(kept))
      .map((doc) => store.deleteDoc(PLAN_KIND, doc.id)),
  ]);
}

/** Writes the state document: created only if absent, or replaced only at the etag it was read at. */
export async function saveDeviceState(
  store: DocStore,
  loaded: LoadedDeviceState,
  state: DeviceState,
): Promise<void> {
  await store.putDoc(STATE_KIND, loaded.key, state, unchangedSince(loaded.etag));
}
