import { z } from 'zod';
import {
  entityReplicationStatusSchema,
  readReplicationStatus,
  replicationErrorSchema,
} from '../../../shared/replication/replication-status';
import { defineTenantRoute, orgParamsSchema, type RouteDefinition } from '../route-definition';

/** One entity's replication health: its status, and how long since its last run finished. */
const entityHealthSchema = entityReplicationStatusSchema.extend({
  /** Seconds since the last run finished (null: none finished yet): how stale its rows may be. */
  lagSeconds: z.number().nonnegative().nullable(),
  /** The next scheduled run is due and has not started (its chain may have died). */
  overdue: z.boolean(),
});

export const replicationHealthSchema = z.object({
  checkedAt: z.iso.datetime(),
  entities: z.array(entityHealthSchema),
  deadLettered: z.number().int().nonnegative(),
  failedDeliveries: z.number().int().nonnegative(),
  oversizeRows: z.number().int().nonnegative(),
  lastError: replicationErrorSchema.extend({ entity: z.string() }).nullable(),
});
export type ReplicationHealth = z.infer<typeof replicationHealthSchema>;

/** A scheduled run this late past its due time counts as overdue (a delivery may wait in the queue). */
const OVERDUE_GRACE_MS = 5 * 60_000;

/**
 * `GET api/admin/{org}/replication`: replication health per entity — last run, lag, next run and
 * whether it is overdue, the last error, failed and dead-lettered deliveries, throttling deferrals
 * and rows too large to store — with the tenant's totals. Read from the status replication records.
 */
export const replicationHealthRoute = defineTenantRoute({
  name: 'replicationHealth',
  method: 'GET',
  route: 'api/admin/{org}/replication',
  auth: 'admin',
  params: orgParamsSchema,
  summary: 'Replication health per entity: last run, lag, overdue runs, last error, dead-lettered messages.',
  response: replicationHealthSchema,
  handler: async ({ services, store }) => {
    const status = await readReplicationStatus(store);
    const now = services.clock.now().getTime();
    const body: ReplicationHealth = {
      checkedAt: new Date(now).toISOString(),
      ...status,
      entities: status.entities.map((entity) => {
        const finished = entity.lastRunFinishedAt === null ? null : Date.parse(entity.lastRunFinishedAt);
        const due = entity.nextRunAt === null ? null : Date.parse(entity.nextRunAt);
        const started = entity.lastRunStartedAt === null ? null : Date.parse(entity.lastRunStartedAt);
        return {
          ...entity,
          lagSeconds: finished === null ? null : Math.max(0, Math.round((now - finished) / 1000)),
          overdue: due !== null && now > due + OVERDUE_GRACE_MS && (started === null || started < due),
        };
      }),
    };
    return { body };
  },
});

export const replicationRoutes: RouteDefinition[] = [replicationHealthRoute];
