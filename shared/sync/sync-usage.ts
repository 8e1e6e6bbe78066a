import { z } from 'zod';
import type { Clock } from '../clock';
import { AppError } from '../errors';
import { orgSchema } from '../model/tenant';
import type { DocStore, StoredDoc } from '../store/port';
import { retryOnWriteRace, unchangedSince } from '../store/port';
import { errorFields, logLine } from '../telemetry/log';

/*
 * A tenant's sync usage for operators (issue 18): devices active, rows they hold, syncs per day.
 * Device states hold what each device holds but nothing of when it synced, and counting them would
 * read every device state of the tenant; so each completed sync (a download answered `more: false`)
 * records itself here instead, in one of a few small documents, and the usage route reads those.
 *
 * Documents (tenant DocStore): `syncUsage/shard-{n}`, n < USAGE_SHARDS, the shard of a device chosen
 * by its key. Each holds, for its devices, when each last completed a sync and the rows it held then,
 * and per UTC day the syncs its devices completed. Spreading devices over shards keeps each document
 * small and makes two devices' commits rarely meet on one (each write is IfMatch its etag, retried
 * when another sync wrote first). Devices and days older than USAGE_DAYS_KEPT are dropped at the
 * next write of their shard, so a shard stays bounded by the devices active in that window.
 *
 * A sync does not write its shard itself: completed syncs wait in the process, per tenant handle,
 * folded to each device's latest figures and each day's count ({@link noteCompletedSync}), and the
 * sync that finds the oldest of them USAGE_FLUSH_MS old adds them all to their shards (one read and
 * write per shard touched). So an idle sync costs the store nothing more, a thousand devices' syncs a
 * minute cost at most 16 writes, and a shard write lost to another process is retried without a sync
 * waiting on it or failing for it. The usage route and the runtime's close add what waits first; a
 * process that dies loses at most a minute of counts (usage is for operators, not billing).
 */

const USAGE_KIND = 'syncUsage';
/** Documents a tenant's usage is spread over. */
export const USAGE_SHARDS = 16;
/** Days of sync counts kept, and how long a device that stopped syncing still counts. */
export const USAGE_DAYS_KEPT = 90;
/** Writes of one shard tried before a flush gives up for now (each loses only to another writer). */
const MAX_WRITE_ATTEMPTS = 10;
const DAY_MS = 86_400_000;
/** How long completed syncs wait in the process before they are added to their shards. */
export const USAGE_FLUSH_MS = 60_000;

/** One shard of a tenant's usage. */
export const usageShardSchema = z.object({
  /** Device key → when it last completed a sync (epoch ms) and the rows it held then. */
  devices: z.record(z.string(), z.object({ at: z.number().int(), rows: z.number().int().nonnegative() })),
  /** UTC day (`YYYY-MM-DD`) → syncs its devices completed that day. */
  days: z.record(z.string(), z.object({ syncs: z.number().int().nonnegative() })),
});
export type UsageShard = z.infer<typeof usageShardSchema>;

/** One completed sync, as usage records it. */
export interface CompletedSync {
  /** The device's storage key (`deviceKey`): never a user id or a device id in clear. */
  device: string;
  /** When it completed (epoch ms). */
  at: number;
  /** Rows the device holds once it applied the sync's last page. */
  rows: number;
}

/** A tenant's usage as the route answers it. */
export const tenantUsageSchema = z.object({
  org: orgSchema,
  checkedAt: z.iso.datetime(),
  /** Devices that completed a sync in the last 24 hours, 30 days and USAGE_DAYS_KEPT days. */
  activeDevices: z.object({
    lastDay: z.number().int().nonnegative(),
    last30Days: z.number().int().nonnegative(),
    last90Days: z.number().int().nonnegative(),
  }),
  /** Rows held by the devices of the last 90 days, as of each one's last sync: in all, and the most one holds. */
  rowsHeld: z.object({
    total: z.number().int().nonnegative(),
    maxPerDevice: z.number().int().nonnegative(),
  }),
  /** Syncs completed per UTC day, oldest first, ending today (days without one count 0). */
  syncsPerDay: z.array(z.object({ day: z.iso.date(), syncs: z.number().int().nonnegative() })),
});
export type TenantUsage = z.infer<typeof tenantUsageSchema>;

/** Query of the usage route: how many days of syncs to list. */
export const tenantUsageQuerySchema = z
  .object({ days: z.coerce.number().int().min(1).max(USAGE_DAYS_KEPT).default(30) })
  .strict();

/** The UTC day of an instant, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The shard a device's syncs are recorded in (device keys are hex digests). */
export function usageShardOf(device: string): number {
  const n = Number.parseInt(device.slice(0, 6), 16);
  return Number.isNaN(n) ? 0 : n % USAGE_SHARDS;
}

/** Completed syncs folded: each device's latest sync and rows, and each UTC day's count. */
export interface UsageBatch {
  devices: Map<string, { at: number; rows: number }>;
  days: Map<string, number>;
}

function emptyBatch(): UsageBatch {
  return { devices: new Map(), days: new Map() };
}

/** Adds one completed sync to a batch (a device's later sync keeps its figures). */
export function addToBatch(batch: UsageBatch, sync: CompletedSync): void {
  const previous = batch.devices.get(sync.device);
  if (previous === undefined || previous.at <= sync.at)
    batch.devices.set(sync.device, { at: sync.at, rows: sync.rows });
  const day = utcDay(sync.at);
  batch.days.set(day, (batch.days.get(day) ?? 0) + 1);
}

/**
 * The shard with a batch of completed syncs added as of `now`: each device's last sync and rows
 * replaced by a later one, the days' counts added, and devices and days older than USAGE_DAYS_KEPT
 * before `now` dropped.
 */
export function mergeIntoShard(shard: UsageShard | undefined, batch: UsageBatch, now: number): UsageShard {
  const oldestDay = utcDay(now - (USAGE_DAYS_KEPT - 1) * DAY_MS);
  const since = now - USAGE_DAYS_KEPT * DAY_MS;
  const devices: UsageShard['devices'] = {};
  for (const [key, device] of Object.entries(shard?.devices ?? {})) {
    if (device.at > since) devices[key] = device;
  }
  for (const [key, device] of batch.devices) {
    const previous = devices[key];
    // A sync recorded late (its commit raced a later one of the same device) keeps the later one's figures.
    if (device.at > since && (previous === undefined || previous.at <= device.at)) devices[key] = device;
  }
  const days: UsageShard['days'] = {};
  for (const [day, counts] of Object.entries(shard?.days ?? {})) if (day >= oldestDay) days[day] = counts;
  for (const [day, syncs] of batch.days) {
    if (day >= oldestDay) days[day] = { syncs: (days[day]?.syncs ?? 0) + syncs };
  }
  return { devices, days };
}

/** The shard with one more completed sync (a batch of one, as of that sync). */
export function recordSyncInShard(shard: UsageShard | undefined, sync: CompletedSync): UsageShard {
  const batch = emptyBatch();
  addToBatch(batch, sync);
  return mergeIntoShard(shard, batch, sync.at);
}

/** The usage the shards add up to at `now`, with `days` days of syncs. */
export function summarizeUsage(
  shards: readonly UsageShard[],
  now: number,
  days: number,
): Omit<TenantUsage, 'org' | 'checkedAt'> {
  const active = { lastDay: 0, last30Days: 0, last90Days: 0 };
  const rowsHeld = { total: 0, maxPerDevice: 0 };
  const syncs = new Map<string, number>();
  for (const shard of shards) {
    for (const device of Object.values(shard.devices)) {
      const age = now - device.at;
      if (age >= USAGE_DAYS_KEPT * DAY_MS) continue;
      active.last90Days += 1;
      if (age < 30 * DAY_MS) active.last30Days += 1;
      if (age < DAY_MS) active.lastDay += 1;
      rowsHeld.total += device.rows;
      rowsHeld.maxPerDevice = Math.max(rowsHeld.maxPerDevice, device.rows);
    }
    for (const [day, counts] of Object.entries(shard.days))
      syncs.set(day, (syncs.get(day) ?? 0) + counts.syncs);
  }
  const syncsPerDay: TenantUsage['syncsPerDay'] = [];
  for (let back = days - 1; back >= 0; back--) {
    const day = utcDay(now - back * DAY_MS);
    syncsPerDay.push({ day, syncs: syncs.get(day) ?? 0 });
  }
  return { activeDevices: active, rowsHeld, syncsPerDay };
}

function shardId(n: number): string {
  return `shard-${n}`;
}

function parseShard(doc: StoredDoc | undefined): UsageShard | undefined {
  if (doc === undefined) return undefined;
  const parsed = usageShardSchema.safeParse(doc.value);
  if (!parsed.success) throw new AppError('Internal', `The sync usage document ${doc.id} is corrupt.`);
  return parsed.data;
}

/**
 * Adds a batch to its shards: per shard touched, read, merge, write IfMatch the etag read; a write
 * that loses to another writer reads again ({@link retryOnWriteRace}), and the last lost race is thrown.
 */
export async function writeUsageBatch(store: DocStore, batch: UsageBatch, now: number): Promise<void> {
  const byShard = new Map<number, UsageBatch>();
  for (const [device, figures] of batch.devices) {
    const n = usageShardOf(device);
    let part = byShard.get(n);
    if (part === undefined) byShard.set(n, (part = emptyBatch()));
    part.devices.set(device, figures);
  }
  // Day counts are not per device: they go to the first shard written (any shard adds up the same).
  const first = byShard.values().next().value ?? emptyBatch();
  if (byShard.size === 0) byShard.set(0, first);
  first.days = batch.days;
  for (const [n, part] of byShard) await writeShard(store, shardId(n), part, now);
}

async function writeShard(store: DocStore, id: string, part: UsageBatch, now: number): Promise<void> {
  await retryOnWriteRace(MAX_WRITE_ATTEMPTS, async () => {
    const doc = await store.getDoc(USAGE_KIND, id);
    await store.putDoc(USAGE_KIND, id, mergeIntoShard(parseShard(doc), part, now), unchangedSince(doc?.etag));
  });
}

/** What waits in this process for one tenant handle. */
interface PendingUsage {
  /** The tenant handle: what the usage route and the close flush through. */
  tenant: DocStore;
  batch: UsageBatch;
  /** When the oldest waiting sync completed; undefined when none waits. */
  since: number | undefined;
  flushing: Promise<void> | undefined;
}

/** Per tenant handle (stable per process, see the held-document cache): what waits to be written. */
const pendingUsage = new Map<DocStore, PendingUsage>();

/**
 * Notes a completed sync of the tenant whose handle is `tenant`; when the oldest sync waiting is
 * USAGE_FLUSH_MS old, adds them all to their shards through `store` (the request's metered handle
 * of that tenant) before answering. Never fails
 * the sync it is called for: a flush that fails keeps its syncs for the next one and logs a warning.
 */
export async function noteCompletedSync(
  tenant: DocStore,
  store: DocStore,
  sync: CompletedSync,
): Promise<void> {
  let pending = pendingUsage.get(tenant);
  if (pending === undefined) {
    pending = { tenant, batch: emptyBatch(), since: undefined, flushing: undefined };
    pendingUsage.set(tenant, pending);
  }
  addToBatch(pending.batch, sync);
  pending.since ??= sync.at;
  if (pending.flushing === undefined && sync.at - pending.since >= USAGE_FLUSH_MS) {
    await flush(pending, sync.at, store);
  }
}

/** Adds what waits for the tenant of handle `tenant` to its shards now (the usage route, before it reads). */
export function flushUsage(tenant: DocStore, now: number): Promise<void> {
  const pending = pendingUsage.get(tenant);
  return pending === undefined ? Promise.resolve() : flush(pending, now);
}

/** Adds what waits for every tenant of the process (the runtime's close). */
export async function flushAllUsage(now: number): Promise<void> {
  await Promise.all([...pendingUsage.values()].map((pending) => flush(pending, now)));
  for (const [tenant, pending] of pendingUsage) if (pending.since === undefined) pendingUsage.delete(tenant);
}

function flush(pending: PendingUsage, now: number, store: DocStore = pending.tenant): Promise<void> {
  if (pending.flushing !== undefined) return pending.flushing;
  if (pending.since === undefined) return Promise.resolve();
  const batch = pending.batch;
  const since = pending.since;
  pending.batch = emptyBatch();
  pending.since = undefined;
  pending.flushing = writeUsageBatch(store, batch, now)
    .catch((error: unknown) => {
      // Kept for the next flush, folded with what came since: nothing is counted twice or lost.
      for (const [device, figures] of batch.devices) {
        const later = pending.batch.devices.get(device);
        if (later === undefined || later.at < figures.at) pending.batch.devices.set(device, figures);
      }
      for (const [day, syncs] of batch.days)
        pending.batch.days.set(day, (pending.batch.days.get(day) ?? 0) + syncs);
      pending.since = Math.min(since, pending.since ?? since);
      logLine('warn', 'sync usage not written; kept for the next flush', errorFields(error));
    })
    .finally(() => {
      pending.flushing = undefined;
    });
  return pending.flushing;
}

/** A tenant's usage now: what waits in this process written, its shards read (USAGE_SHARDS point reads) and added up. */
export async function readTenantUsage(
  store: DocStore & { readonly org: string },
  clock: Clock,
  days: number,
): Promise<TenantUsage> {
  const now = clock.now().getTime();
  await flushUsage(store, now);
  const docs = await Promise.all(
    Array.from({ length: USAGE_SHARDS }, (_, n) => store.getDoc(USAGE_KIND, shardId(n))),
  );
  const shards = docs.map(parseShard).filter((s): s is UsageShard => s !== undefined);
  return { org: store.org, checkedAt: new Date(now).toISOString(), ...summarizeUsage(shards, now, days) };
}
