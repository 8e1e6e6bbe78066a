import type { AppServices } from '../app-services';
import { AppError } from '../errors';
import { orgSchema, type Tenant } from '../model/tenant';
import { deadLettersOnFailure, PoisonMessageError, type DeliveryInfo } from '../queue/port';
import type { TenantStore } from '../store/port';
import { getTenant } from '../tenants/tenant-registry';
import { observeReplicationMessage } from '../telemetry/observe';
import { applySourceChanges, type ApplySummary, type ReplicationChange } from './apply-source-changes';
import { loadEntities, loadEntityDrafts } from '../admin/entity-config';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import { findEntityConfiguration } from './entity-configuration';
import {
  replicationMessageSchema,
  syncEntityMessage,
  type RecordChangedBatchMessage,
  type RecordChangedMessage,
  type ReplicationMessage,
} from './messages';
import {
  BUSY_DEFERRAL_MS,
  deferMessage,
  isThrottling,
  takeTenantSlot,
  throttleDelayMs,
  type Deferral,
} from './backpressure';
import { refreshMetadata, type MetadataRefreshOutcome } from './refresh-metadata';
import { columnPolicyOf, replicatedAttributes, replicatedMetadata } from './replicated-columns';
import {
  INVALID_MESSAGE_STATUS_ID,
  METADATA_STATUS_ID,
  recordThrottling,
  recordTooLargeRows,
  updateReplicationStatus,
  type ReplicationError,
} from './replication-status';
import { runSyncEntity, type SyncEntityOptions, type SyncEntityOutcome } from './sync-entity';
import { errorFields, logLine } from '../telemetry/log';

/** What handling one message did (returned for tests and logs; the queue only needs it to return). */
export type ReplicationOutcome =
  | SyncEntityOutcome
  | MetadataRefreshOutcome
  | ({ outcome: 'applied' } & Omit<ApplySummary, 'tooLarge'> & {
        /** Rows not stored because they were too large (named in the status); absent when none. */
        tooLarge?: number;
      })
  /** The tenant is being or has been deprovisioned: recurring work ends here. */
  | { outcome: 'dropped'; reason: string }
  /** Put back on the queue for later (throttled, or the tenant at its concurrency cap); this delivery completes. */
  | Deferral;

/**
 * THE replication queue handler, the same in both hosts (Functions' Service Bus trigger and the
 * local host's embedded-queue worker). Validates the message (invalid: {@link PoisonMessageError},
 * dead-lettered at once with the reason), finds its tenant (unknown: poison too), and runs it:
 * `recordChanged` is applied to the tenant's store (`recordChangedBatch`: many at once, in one bulk
 * apply), `syncEntity` reads the source's changes,
 * `metadataRefresh` re-reads metadata and directory. Any failure is recorded in the tenant's
 * replication status (last error per entity, failed deliveries, dead-letter count) and thrown again,
 * so the queue retries it or dead-letters it — except throttling: a throttled message, and one whose
 * tenant is at its concurrency cap in this process, is re-sent scheduled for later and the delivery
 * completes (backpressure.ts), so throttling never dead-letters a message.
 */
export async function handleReplicationMessage(
  services: AppServices,
  body: unknown,
  delivery: DeliveryInfo,
  options: SyncEntityOptions = {},
): Promise<void> {
  await observeReplicationMessage(body, delivery, services.clock, () =>
    processReplicationMessage(services, body, delivery, options),
  );
}

/** {@link handleReplicationMessage}, answering what the message did (for tests, tools and logs). */
export async function processReplicationMessage(
  services: AppServices,
  body: unknown,
  delivery: DeliveryInfo,
  options: SyncEntityOptions = {},
): Promise<ReplicationOutcome> {
  const message = await parseOrRecordInvalid(services, body, delivery);
  const tenant = await getTenant(services.store, message.org);
  if (tenant === undefined) throw new PoisonMessageError(`No tenant '${message.org}' is registered.`);
  const slot = takeTenantSlot(tenant.org, services.settings.REPLICATION_TENANT_CONCURRENCY);
  if (slot === undefined) {
    const wait = BUSY_DEFERRAL_MS * (1 + Math.random());
    try {
      return await deferMessage(services, message, delivery, 'busy', wait);
    } catch (error) {
      // The queue cannot take it back now: handle it here after all, over the cap.
      logLine('error', 'replication.message not deferred; handled over the cap', errorFields(error));
    }
  }
  try {
    return await run(services, tenant, message, delivery, options);
  } catch (error) {
    if (isThrottling(error)) {
      const deferral = await deferThrottled(services, tenant, message, delivery, error);
      if (deferral !== undefined) return deferral;
    }
    // A deprovisioned tenant has no database to hold its status: the dead-letter queue keeps the reason.
    if (tenant.state !== 'deprovisioned') {
      for (const statusId of statusIdsOf(message, error)) {
        await recordFailure(services, tenant.org, statusId, error, delivery);
      }
    }
    throw error;
  } finally {
    slot?.release();
  }
}

/**
 * Re-sends a throttled message for after its Retry-After and records the deferral in the status;
 * undefined when the queue refused the re-send (the delivery then fails and is retried as usual).
 */
async function deferThrottled(
  services: AppServices,
  tenant: Tenant,
  message: ReplicationMessage,
  delivery: DeliveryInfo,
  error: AppError,
): Promise<Deferral | undefined> {
  let deferral: Deferral;
  try {
    const deferrals = (message.deferred ?? 0) + 1;
    deferral = await deferMessage(
      services,
      message,
      delivery,
      'throttled',
      throttleDelayMs(error, deferrals),
    );
  } catch (sendError) {
    logLine('error', 'replication.message throttled and not deferred', errorFields(sendError));
    return undefined;
  }
  if (tenant.state !== 'deprovisioned') {
    const at = services.clock.now().toISOString();
    for (const statusId of statusIdsOf(message, error)) {
      await recordThrottling(services.store.tenant(tenant.org), statusId, at, deferral.retryAt.toISOString());
    }
  }
  return deferral;
}

/**
 * Where a failure shows in the tenant's status: the message's entity; for a batch, each entity it
 * carries, or only the undeclared ones when those are why it failed (the others were applied).
 */
function statusIdsOf(message: ReplicationMessage, error: unknown): string[] {
  switch (message.type) {
    case 'metadataRefresh':
      return [METADATA_STATUS_ID];
    case 'recordChangedBatch':
      return error instanceof UndeclaredEntitiesError
        ? error.entities
        : [...new Set(message.changes.map((c) => c.entity))];
    default:
      return [message.entity];
  }
}

/** A batch named entities the tenant does not declare: its other changes were applied. */
class UndeclaredEntitiesError extends PoisonMessageError {
  constructor(
    readonly entities: string[],
    org: string,
    skipped: number,
  ) {
    super(
      `${entities.length === 1 ? 'Entity' : 'Entities'} ${entities.map((e) => `'${e}'`).join(', ')} ` +
        `${entities.length === 1 ? 'is' : 'are'} not declared for tenant '${org}': ${skipped} ` +
        `change(s) not applied (the batch's other changes were; resubmit once declared).`,
    );
  }
}

async function run(
  services: AppServices,
  tenant: Tenant,
  message: ReplicationMessage,
  delivery: DeliveryInfo,
  options: SyncEntityOptions,
): Promise<ReplicationOutcome> {
  if (tenant.state === 'deprovisioning' || tenant.state === 'deprovisioned') {
    if (message.type === 'recordChanged' || message.type === 'recordChangedBatch') {
      // A change for a tenant whose database is gone cannot be applied: keep it for an operator.
      throw new PoisonMessageError(
        `Tenant '${tenant.org}' is ${tenant.state}: the change cannot be applied.`,
      );
    }
    return { outcome: 'dropped', reason: `Tenant '${tenant.org}' is ${tenant.state}.` };
  }
  switch (message.type) {
    case 'syncEntity': {
      const outcome = await runSyncEntity(services, tenant, message, delivery, options);
      // Recurring work settles the change sequence: a claim a crashed writer left open is passed
      // once the gap timeout is over, even when no later write comes to do it.
      await services.store.tenant(tenant.org).settleChanges();
      return outcome;
    }
    case 'metadataRefresh':
      return refreshMetadata(services, tenant);
    case 'recordChanged':
      return applyRecordChanged(services, tenant, message);
    case 'recordChangedBatch':
      return applyRecordChangedBatch(services, tenant, message);
  }
}

/**
 * Applies a batch with one {@link applySourceChanges} call: the same idempotent upsert-if-newer as
 * single messages, so a redelivery after a crash mid-batch re-applies what was written as stale and
 * writes the rest. Changes of undeclared entities cannot be applied by retrying: the others are
 * applied, then the message is dead-lettered naming them (a resubmission re-applies nothing twice).
 */
async function applyRecordChangedBatch(
  services: AppServices,
  tenant: Tenant,
  message: RecordChangedBatchMessage,
): Promise<ReplicationOutcome> {
  const store = services.store.tenant(tenant.org);
  const [published, drafts] = await Promise.all([loadEntities(store), loadEntityDrafts(store)]);
  const declared = new Set([...published, ...drafts].map((e) => e.metadata.logicalName));
  const undeclared = new Set<string>();
  const changes: ReplicationChange[] = [];
  for (const change of message.changes) {
    if (declared.has(change.entity)) changes.push({ ...change, version: change.version });
    else undeclared.add(change.entity);
  }
  const summary = await applyAndWarn(services, store, changes);
  if (undeclared.size > 0) {
    throw new UndeclaredEntitiesError([...undeclared], tenant.org, message.changes.length - changes.length);
  }
  return summary;
}

/**
 * {@link applySourceChanges} under the tenant's row cap; rows too large to store are recorded in the
 * status by name and counted, and the message completes (retrying could never store them).
 */
async function applyAndWarn(
  services: AppServices,
  store: TenantStore,
  changes: readonly ReplicationChange[],
): Promise<ReplicationOutcome> {
  const maxRowBytes = services.settings.REPLICATION_MAX_ROW_BYTES;
  const { tooLarge, ...summary } = await applySourceChanges(store, changes, { maxRowBytes });
  if (tooLarge === undefined) return { outcome: 'applied', ...summary };
  await recordTooLargeRows(store, tooLarge, services.clock.now(), maxRowBytes);
  return { outcome: 'applied', ...summary, tooLarge: tooLarge.length };
}

async function applyRecordChanged(
  services: AppServices,
  tenant: Tenant,
  message: RecordChangedMessage,
): Promise<ReplicationOutcome> {
  const store = services.store.tenant(tenant.org);
  const configuration = await findEntityConfiguration(store, message.entity);
  if (configuration === undefined) {
    // Never retried into success by waiting: the entity must be declared first (then resubmit).
    throw new PoisonMessageError(`Entity '${message.entity}' is not declared for tenant '${tenant.org}'.`);
  }
  if (message.reread === true) return applyRowsReadBack(services, tenant, configuration, message);
  // A Dataverse webhook's row carries every column: keep those a change-tracking read would select.
  const attributes =
    message.origin === 'dataverse'
      ? replicatedAttributes(configuration.metadata, columnPolicyOf(services.settings), message.attributes)
      : message.attributes;
  return applyAndWarn(services, store, [
    {
      entity: message.entity,
      id: message.id,
      op: message.op,
      attributes,
      version: message.version,
      ...(message.partial === undefined ? {} : { partial: message.partial }),
    },
  ]);
}

/**
 * A change whose row was too large for its message (`reread`): the row is read back from the source
 * by id, with the columns replication reads, and applied like any change (upsert-if-newer, the row
 * cap). A row the source no longer has is counted `skipped`: its delete reaches replication by change
 * tracking. A source that cannot read rows by id has its entity re-read by change tracking instead
 * (a `syncEntity` message, merged into the entity's schedule).
 */
async function applyRowsReadBack(
  services: AppServices,
  tenant: Tenant,
  configuration: ConfiguredEntity,
  message: RecordChangedMessage,
): Promise<ReplicationOutcome> {
  const source = services.sourceFor(tenant);
  if (source.readRows === undefined) {
    await services.queue.send(syncEntityMessage(tenant.org, message.entity));
    return { outcome: 'applied', applied: 0, stale: 0, skipped: 1 };
  }
  const metadata = replicatedMetadata(configuration.metadata, columnPolicyOf(services.settings));
  const rows = await source.readRows(metadata, [message.id]);
  const outcome = await applyAndWarn(services, services.store.tenant(tenant.org), rows);
  if (outcome.outcome !== 'applied') return outcome;
  return { ...outcome, skipped: outcome.skipped + (rows.length === 0 ? 1 : 0) };
}

/** Parses a message body (an object, or JSON text or bytes); anything invalid is poison. */
async function parseOrRecordInvalid(
  services: AppServices,
  body: unknown,
  delivery: DeliveryInfo,
): Promise<ReplicationMessage> {
  let value = body;
  try {
    if (value instanceof Uint8Array) value = Buffer.from(value).toString('utf8');
    if (typeof value === 'string') value = JSON.parse(value) as unknown;
  } catch {
    throw new PoisonMessageError('The message body is not JSON.');
  }
  const parsed = replicationMessageSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const reasons = parsed.error.issues.map(
    (issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`,
  );
  const poison = new PoisonMessageError(`Invalid replication message: ${reasons.join('; ')}`);
  // Shown in the tenant's status when the message names a tenant that exists.
  const org = orgSchema.safeParse((value as { org?: unknown } | null)?.org);
  if (org.success && (await getTenant(services.store, org.data)) !== undefined) {
    await recordFailure(services, org.data, INVALID_MESSAGE_STATUS_ID, poison, delivery);
  }
  throw poison;
}

/**
 * Records a failed delivery in the tenant's status. A failure to record is reported but does not
 * replace the handler's own error, which decides whether the queue retries or dead-letters.
 */
async function recordFailure(
  services: AppServices,
  org: string,
  statusId: string,
  error: unknown,
  delivery: DeliveryInfo,
): Promise<void> {
  const deadLettered = deadLettersOnFailure(error, delivery);
  const lastError: ReplicationError = {
    at: services.clock.now().toISOString(),
    code:
      error instanceof AppError
        ? error.code
        : error instanceof PoisonMessageError
          ? 'PoisonMessage'
          : 'Error',
    message: error instanceof Error ? error.message : String(error),
    messageId: delivery.messageId,
    deliveryCount: delivery.deliveryCount,
    deadLettered,
  };
  try {
    await updateReplicationStatus(services.store.tenant(org), statusId, (s) => ({
      ...s,
      lastError,
      failedDeliveries: s.failedDeliveries + 1,
      deadLettered: s.deadLettered + (deadLettered ? 1 : 0),
    }));
  } catch (statusError) {
    logLine('error', 'replication.status not updated', errorFields(statusError));
  }
}
