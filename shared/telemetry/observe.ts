import { SpanKind, type Attributes } from '@opentelemetry/api';
import type { Clock } from '../clock';
import { deadLettersOnFailure, type DeliveryInfo } from '../queue/port';
import type { DownloadRequest, DownloadResponse } from '../sync/sync-protocol';
import type { UploadRequest, UploadResponse } from '../sync/upload/upload-protocol';
import { errorFields, logLine, withLogScope } from './log';
import { ATTR, errorType, inSpan, instruments, secondsSince, SPAN } from './telemetry';

/**
 * The hooks the core's flows call, one per place: each wraps the flow in its span, records its
 * metrics from what the flow returns (counts taken from the answer, never a walk over its rows) and
 * writes its log line (log.ts adds the tenant, route or trigger, trace id and milliseconds).
 */

/** A device download (one page): span `sync.download`, rows sent by tenant and format. */
export function observeDownload(
  org: string,
  request: DownloadRequest,
  work: () => Promise<DownloadResponse>,
): Promise<DownloadResponse> {
  const format = request.format ?? 'changes';
  const attributes: Attributes = {
    [ATTR.org]: org,
    [ATTR.app]: request.app,
    [ATTR.format]: format,
    'offline_sync.download.initial': request.checkpoint === undefined,
  };
  return inSpan(SPAN.download, attributes, async (span) => {
    const page = await work();
    const rows = page.changes.length;
    span.setAttributes({ [ATTR.rows]: rows, [ATTR.more]: page.more });
    if (rows > 0) instruments().rowsSent.add(rows, { [ATTR.org]: org, [ATTR.format]: format });
    logLine('info', SPAN.download, {
      app: request.app,
      format,
      initial: request.checkpoint === undefined,
      rows,
      more: page.more,
    });
    return page;
  });
}

/** A device upload batch: span `sync.upload`, operations by result status. */
export function observeUpload(
  org: string,
  request: UploadRequest,
  work: () => Promise<UploadResponse>,
): Promise<UploadResponse> {
  const attributes: Attributes = {
    [ATTR.org]: org,
    [ATTR.app]: request.app,
    [ATTR.operations]: request.operations.length,
  };
  return inSpan(SPAN.upload, attributes, async (span) => {
    const response = await work();
    const byStatus = new Map<string, number>();
    for (const result of response.results)
      byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
    const { uploadResults } = instruments();
    for (const [status, count] of byStatus) {
      span.setAttribute(`offline_sync.upload.${status}`, count);
      uploadResults.add(count, { [ATTR.org]: org, [ATTR.status]: status });
    }
    logLine('info', SPAN.upload, {
      app: request.app,
      operations: request.operations.length,
      results: Object.fromEntries(byStatus),
    });
    return response;
  });
}

/** What telemetry reads of a replication message: its tenant, type and entities (never its rows). */
interface MessageLabels {
  org: string | undefined;
  type: string;
  entities: string[];
}

/** Most entities of one batch message that get their own lag series. */
const MAX_LAG_ENTITIES = 20;

function labelsOf(body: unknown): MessageLabels {
  const message = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' && value.length <= 128 ? value : undefined;
  const entities = new Set<string>();
  const entity = text(message.entity);
  if (entity !== undefined) entities.add(entity);
  if (Array.isArray(message.changes)) {
    for (const change of message.changes as unknown[]) {
      const name = text((change as { entity?: unknown } | null)?.entity);
      if (name !== undefined) entities.add(name);
      if (entities.size >= MAX_LAG_ENTITIES) break;
    }
  }
  return { org: text(message.org), type: text(message.type) ?? 'unknown', entities: [...entities] };
}

/**
 * One replication message (either host's queue): span `replication.message`; messages by outcome;
 * lag per tenant and entity once its work is done; dead letters and re-sends for throttling.
 */
export function observeReplicationMessage<T extends { outcome: string; reason?: unknown }>(
  body: unknown,
  delivery: DeliveryInfo,
  clock: Clock,
  work: () => Promise<T>,
): Promise<T> {
  const labels = labelsOf(body);
  const base: Attributes = { [ATTR.messageType]: labels.type };
  if (labels.org !== undefined) base[ATTR.org] = labels.org;
  const attributes: Attributes = { ...base, [ATTR.deliveryCount]: delivery.deliveryCount };
  const scope = { trigger: REPLICATION_TRIGGER, ...(labels.org === undefined ? {} : { org: labels.org }) };
  const line = { type: labels.type, messageId: delivery.messageId, deliveryCount: delivery.deliveryCount };
  return withLogScope(scope, () =>
    inSpan(
      SPAN.replicationMessage,
      attributes,
      async (span) => {
        const counters = instruments();
        try {
          const result = await work();
          span.setAttribute(ATTR.outcome, result.outcome);
          counters.replicationMessages.add(1, { ...base, [ATTR.outcome]: result.outcome });
          logLine('info', SPAN.replicationMessage, { ...line, outcome: result.outcome });
          if (result.outcome === 'deferred' && result.reason === 'throttled') {
            counters.replicationThrottled.add(1, base);
          } else if (result.outcome !== 'deferred' && result.outcome !== 'dropped') {
            const lag = Math.max(0, (clock.now().getTime() - delivery.enqueuedAt.getTime()) / 1000);
            for (const entity of labels.entities) {
              counters.replicationLag.record(lag, { ...base, [ATTR.entity]: entity });
            }
          }
          return result;
        } catch (error) {
          counters.replicationMessages.add(1, {
            ...base,
            [ATTR.outcome]: 'failed',
            [ATTR.errorType]: errorType(error),
          });
          const deadLettered = deadLettersOnFailure(error, delivery);
          if (deadLettered) {
            span.setAttribute('offline_sync.message.dead_lettered', true);
            counters.replicationDeadLettered.add(1, base);
          }
          logLine(deadLettered ? 'error' : 'warn', SPAN.replicationMessage, {
            ...line,
            outcome: 'failed',
            deadLettered,
            ...errorFields(error),
          });
          throw error;
        }
      },
      SpanKind.CONSUMER,
    ),
  );
}

/** The `trigger` of a replication message's log lines. */
export const REPLICATION_TRIGGER = 'queue:replication';

/** One provisioning step (activity): span `provisioning.step` and its duration by outcome. */
export function observeProvisioningStep<T extends { outcome: string }>(
  input: { org: string; action: string; step: number },
  work: () => Promise<T>,
): Promise<T> {
  const base: Attributes = { [ATTR.action]: input.action, [ATTR.step]: input.step };
  const started = performance.now();
  const line = { action: input.action, step: input.step };
  const scope = { trigger: 'provisioning', org: input.org };
  return withLogScope(scope, () =>
    inSpan(SPAN.provisioningStep, { ...base, [ATTR.org]: input.org }, async (span) => {
      const duration = instruments().provisioningStepDuration;
      try {
        const result = await work();
        span.setAttribute(ATTR.outcome, result.outcome);
        duration.record(secondsSince(started), { ...base, [ATTR.outcome]: result.outcome });
        logLine('info', SPAN.provisioningStep, { ...line, outcome: result.outcome });
        return result;
      } catch (error) {
        // Thrown: a retryable failure the orchestration retries.
        duration.record(secondsSince(started), { ...base, [ATTR.outcome]: 'retried' });
        logLine('warn', SPAN.provisioningStep, { ...line, outcome: 'retried', ...errorFields(error) });
        throw error;
      }
    }),
  );
}

/** A provisioning run ended (succeeded, failed or stopped): the count the "provisioning failed" alert reads. */
export function countProvisioningRun(input: { org: string; action: string; outcome: string }): void {
  instruments().provisioningRuns.add(1, {
    [ATTR.org]: input.org,
    [ATTR.action]: input.action,
    [ATTR.outcome]: input.outcome,
  });
}
