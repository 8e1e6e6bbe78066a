import { z } from 'zod';
import type { AppServices } from '../app-services';
import { getMetadataVersion, loadEntities } from '../admin/entity-config';
import { readProvisioningStatus } from '../provisioning/provisioning-status';
import type { Tenant } from '../model/tenant';
import { listTenants } from '../tenants/tenant-registry';
import { metadataRefreshMessage, syncEntityMessage } from './messages';
import { readSyncSchedule } from './sync-schedule';
import { errorFields, logLine, withLogScope } from '../telemetry/log';

/**
 * Self-healing of recurring replication (issue 14), run on a timer by both hosts (Functions' timer
 * trigger, the local host's interval): each run schedules the next, so a delivery that dead-letters
 * before it schedules ends its entity's chain, and nothing else would notice. For every provisioned
 * tenant this:
 *
 * - **revives** a chain whose next run is more than {@link HEALING_SLACK_MS} past due (a live chain
 *   moves `nextRunAt` forward at each run's start): it sends that run again under its run id, so the
 *   schedule's one-chain rule takes it as the run that was due;
 * - **starts** a chain for an offline-enabled published entity that has none (enabled or published
 *   after provisioning), without re-provisioning: its first run is a full read;
 * - sends a **metadataRefresh** (SPEC §7) once per customizations publish not refreshed yet, for
 *   tenants whose source has metadata of its own (Dataverse).
 *
 * Messages carry deterministic ids (per due time, per publish), so with Service Bus duplicate
 * detection two healers, or a healer and a late original, send one message; without it the
 * schedule merges duplicate chains anyway. Tenants whose provisioning has not completed are left to
 * provisioning (step 6 starts their chains).
 */

/** A run this late past its due time is taken for dead (the queue may hold a delivery a while). */
export const HEALING_SLACK_MS = 5 * 60_000;

/** Doc kind of what the healer last did per tenant (id: {@link HEALING_ID}). */
const HEALING_KIND = 'replication-healing';
const HEALING_ID = 'state';
const healingStateSchema = z.object({
  /** The customizations publish (metadata version) a metadataRefresh was last sent for. */
  metadataRefreshedForVersion: z.number().int().nonnegative(),
});

/** What healing did for one tenant. */
export interface TenantHealing {
  org: string;
  /** Entities whose dead chain was revived. */
  revived: string[];
  /** Entities that had no chain and got one. */
  started: string[];
  /** The publish a metadataRefresh was sent for, if one was. */
  metadataRefreshFor?: number;
}

/** Heals every provisioned tenant; a tenant that fails is reported and the others go on. */
export async function healReplication(services: AppServices): Promise<TenantHealing[]> {
  const healed: TenantHealing[] = [];
  for (const tenant of await listTenants(services.store)) {
    try {
      const result = await healTenant(services, tenant);
      if (result !== undefined) healed.push(result);
      if (
        result !== undefined &&
        (result.revived.length + result.started.length > 0 || result.metadataRefreshFor !== undefined)
      )
        withLogScope({ org: tenant.org }, () => logLine('info', 'replication.healing', { ...result }));
    } catch (error) {
      // One tenant's store failing must not stop the others' healing; the next tick tries again.
      withLogScope({ org: tenant.org }, () =>
        logLine('error', 'replication.healing failed', errorFields(error)),
      );
    }
  }
  return healed;
}

async function healTenant(services: AppServices, tenant: Tenant): Promise<TenantHealing | undefined> {
  if (tenant.state !== 'active') return undefined;
  const status = await readProvisioningStatus(
    services.store.control,
    tenant.org,
    services.clock,
    tenant.state,
  );
  // Early activation happens mid step 5: chains start at step 6, not before.
  if (status.state !== 'provisioned') return undefined;
  const store = services.store.tenant(tenant.org);
  const now = services.clock.now();
  const result: TenantHealing = { org: tenant.org, revived: [], started: [] };
  // Healers of one slack period send one message per entity; a later one may send again, should that
  // message die too (a queue keeps ids it has seen: Service Bus for its window, the embedded queue 24 h).
  const period = Math.floor(now.getTime() / HEALING_SLACK_MS);

  for (const entity of await loadEntities(store)) {
    if (!entity.offline.enabled) continue;
    const name = entity.metadata.logicalName;
    const schedule = await readSyncSchedule(store, name);
    if (schedule === undefined) {
      await services.queue.send(syncEntityMessage(tenant.org, name), {
        messageId: `syncEntity-${tenant.org}-${name}-start-${period}`,
      });
      result.started.push(name);
    } else if (now.getTime() > schedule.nextRunAt.getTime() + HEALING_SLACK_MS) {
      await services.queue.send(syncEntityMessage(tenant.org, name, schedule.nextRunId), {
        messageId: `syncEntity-${tenant.org}-${name}-revive-${schedule.nextRunAt.getTime()}-${period}`,
      });
      result.revived.push(name);
    }
  }

  if (tenant.source.kind !== 'local') {
    const { version } = await getMetadataVersion(store);
    const doc = await store.getDoc(HEALING_KIND, HEALING_ID);
    const state = doc === undefined ? undefined : healingStateSchema.parse(doc.value);
    // Before the first healing, the publishes provisioning read its metadata with count as refreshed.
    if (state === undefined) {
      await store.putDoc(HEALING_KIND, HEALING_ID, { metadataRefreshedForVersion: version });
    } else if (version > state.metadataRefreshedForVersion) {
      await services.queue.send(metadataRefreshMessage(tenant.org), {
        messageId: `metadataRefresh-${tenant.org}-v${version}`,
      });
      await store.putDoc(HEALING_KIND, HEALING_ID, { metadataRefreshedForVersion: version });
      result.metadataRefreshFor = version;
    }
  }
  return result;
}
