import { z } from 'zod';
import type { Clock } from '../clock';
import { AppError } from '../errors';
import { orgSchema } from '../model/tenant';
import type { DocStore, StoredDoc } from '../store/port';
import { unchangedSince } from '../store/port';

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
 */

const USAGE_KIND = 'syncUsage';
/** Documents a tenant's usage is spread over. */
export const USAGE_SHARDS = 16;
/** Days of sync counts kept, and how long a device that stopped syncing still counts. */
export const USAGE_DAYS_KEPT = 90;
/** Writes of one shard tried before a sync gives up recording itself (each loses only to another sync). */
const MAX_WRITE_ATTEMPTS = 10;
const DAY_MS = 86_400_000;

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

/**
 * The shard with one more completed sync: the device's last sync and rows replaced, its day's count
 * up by one, and devices and days older than USAGE_DAYS_KEPT before it dropped.
 */
export function recordSyncInShard(shard: UsageShard | undefined, sync: CompletedSync): UsageShard {
  const oldestDay = utcDay(sync.at - (USAGE_DAYS_KEPT - 1) * DAY_MS);
  const since = sync.at - USAGE_DAYS_KEPT * DAY_MS;
  const devices: UsageShard['devices'] = {};
  for (const [key, device] of Object.entries(shard?.devices ?? {})) {
    if (device.at > since) devices[key] = device;
  }
  const previous = devices[sync.device];
  // A sync recorded late (its commit raced a later one of the same device) keeps the later one's figures.
  if (previous === undefined || previous.at <= sync.at)
    devices[sync.device] = { at: sync.at, rows: sync.rows };
  const days: UsageShard['days'] = {};
  for (const [day, counts] of Object.entries(shard?.days ?? {})) if (day >= oldestDay) days[day] = counts;
  const day = utcDay(sync.at);
  days[day] = { syncs: (days[day]?.syncs ?? 0) + 1 };
  return { devices, days };
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
 * Records a completed sync of a device in its shard: read, add, write IfMatch the etag read; a write
 * that loses to another sync's reads again. One small document read and written per completed sync.
 *
 * @throws AppError `Conflict` when every attempt lost to another writer.
 */
export async function recordCompletedSync(store: DocStore, sync: CompletedSync): Promise<void> {
  const id = shardId(usageShardOf(sync.device));
  for (let attempt = 1; ; attempt++) {
    const doc = await store.getDoc(USAGE_KIND, id);
    const next = recordSyncInShard(parseShard(doc), sync);
    try {
      await store.putDoc(USAGE_KIND, id, next, unchangedSince(doc?.etag));
      return;
    } catch (error) {
      const lost =
        error instanceof AppError && (error.code === 'PreconditionFailed' || error.code === 'Conflict');
      if (!lost) throw error;
      if (attempt >= MAX_WRITE_ATTEMPTS) {
        throw new AppError(
          'Conflict',
          'The sync usage could not be recorded: too many concurrent syncs; retry.',
          {
            cause: error,
          },
        );
      }
    }
  }
}

/** A tenant's usage now: its shards read (USAGE_SHARDS point reads) and added up. */
export async function readTenantUsage(
  store: DocStore & { readonly org: string },
  clock: Clock,
  days: number,
): Promise<TenantUsage> {
  const docs = await Promise.all(
    Array.from({ length: USAGE_SHARDS }, (_, n) => store.getDoc(USAGE_KIND, shardId(n))),
  );
  const shards = docs.map(parseShard).filter((s): s is UsageShard => s !== undefined);
  const now = clock.now().getTime();
  return { org: store.org, checkedAt: new Date(now).toISOString(), ...summarizeUsage(shards, now, days) };
}
