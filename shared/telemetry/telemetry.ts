import {
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AppError } from '../errors';
import { PoisonMessageError } from '../queue/port';
import { PRODUCT_VERSION } from '../version';

/**
 * The core's OpenTelemetry face (issue 18): the tracer, the meter and every instrument's name, through
 * `@opentelemetry/api` only. The hosts install an SDK (the local host: Prometheus and OTLP; Azure:
 * `@azure/monitor-opentelemetry`); with none installed every call here is the API's no-op, so the
 * hooks cost a function call and a few allocations per request, never per row.
 *
 * Attributes name tenants, routes, entities, statuses and error codes; never a token, a key, a row
 * value, an error message (which may quote a value) or a user.
 */

/** The instrumentation scope of the tracer and the meter. */
export const TELEMETRY_SCOPE = 'offline-sync';

/** Every metric the core records, by name (Prometheus turns dots into underscores). */
export const METRIC = {
  /** Server time of every HTTP request (seconds) by route, method and status: its count is requests. */
  httpDuration: 'http.server.request.duration',
  /** Bytes of each response body as sent (after compression), by route and status. */
  httpResponseSize: 'http.server.response.body.size',
  /** Rows (upserts and removals) sent to devices, by tenant and format. */
  rowsSent: 'offline_sync.sync.rows_sent',
  /** Upload operations by tenant and result status (applied, conflict, rejected, duplicate). */
  uploadResults: 'offline_sync.sync.upload.results',
  /** Replication messages handled, by tenant, type and outcome. */
  replicationMessages: 'offline_sync.replication.messages',
  /** Seconds from a replication message's enqueueing to its work done, by tenant and entity. */
  replicationLag: 'offline_sync.replication.lag',
  /** Replication messages dead-lettered (this delivery was their last), by tenant and type. */
  replicationDeadLettered: 'offline_sync.replication.dead_lettered',
  /** Replication messages re-sent for later because of throttling (429), by tenant and type. */
  replicationThrottled: 'offline_sync.replication.throttled_resends',
  /** Seconds one provisioning step took, by action, step and outcome. */
  provisioningStepDuration: 'offline_sync.provisioning.step.duration',
  /** Provisioning runs ended, by action and outcome (succeeded, failed, stopped). */
  provisioningRuns: 'offline_sync.provisioning.runs',
} as const;

/** Span names the core starts. */
export const SPAN = {
  download: 'sync.download',
  upload: 'sync.upload',
  replicationMessage: 'replication.message',
  provisioningStep: 'provisioning.step',
  /** `store.<method>`: one span per store call. */
  storePrefix: 'store.',
} as const;

/** Attribute keys of the core's spans and metrics. */
export const ATTR = {
  org: 'offline_sync.org',
  app: 'offline_sync.app',
  entity: 'offline_sync.entity',
  format: 'offline_sync.format',
  status: 'offline_sync.status',
  outcome: 'offline_sync.outcome',
  messageType: 'offline_sync.message.type',
  deliveryCount: 'offline_sync.message.delivery_count',
  action: 'offline_sync.provisioning.action',
  step: 'offline_sync.provisioning.step',
  rows: 'offline_sync.rows',
  more: 'offline_sync.more',
  operations: 'offline_sync.operations',
  errorType: 'error.type',
  route: 'http.route',
  method: 'http.request.method',
  statusCode: 'http.response.status_code',
} as const;

/** The instruments, made from the meter provider registered when first asked for. */
export interface Instruments {
  httpDuration: Histogram;
  httpResponseSize: Histogram;
  rowsSent: Counter;
  uploadResults: Counter;
  replicationMessages: Counter;
  replicationLag: Histogram;
  replicationDeadLettered: Counter;
  replicationThrottled: Counter;
  provisioningStepDuration: Histogram;
  provisioningRuns: Counter;
}

/** Bucket bounds (seconds) for request and step durations: 1 ms to 5 min. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Bucket bounds (seconds) for replication lag: 100 ms to 1 h. */
const LAG_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
/** Bucket bounds (bytes) for response bodies: 256 B to 16 MiB. */
const SIZE_BUCKETS = [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];

function createInstruments(meter: Meter): Instruments {
  const seconds = (name: string, description: string, buckets: number[]): Histogram =>
    meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: buckets } });
  return {
    httpDuration: seconds(METRIC.httpDuration, 'Server time of HTTP requests.', DURATION_BUCKETS),
    httpResponseSize: meter.createHistogram(METRIC.httpResponseSize, {
      unit: 'By',
      description: 'Response body bytes as sent (compressed when the client accepted it).',
      advice: { explicitBucketBoundaries: SIZE_BUCKETS },
    }),
    rowsSent: meter.createCounter(METRIC.rowsSent, {
      unit: '{row}',
      description: 'Upserts and removals sent to devices.',
    }),
    uploadResults: meter.createCounter(METRIC.uploadResults, {
      unit: '{operation}',
      description: 'Uploaded operations by result status.',
    }),
    replicationMessages: meter.createCounter(METRIC.replicationMessages, {
      unit: '{message}',
      description: 'Replication messages handled, by outcome.',
    }),
    replicationLag: seconds(
      METRIC.replicationLag,
      "From a replication message's enqueueing to its work done.",
      LAG_BUCKETS,
    ),
    replicationDeadLettered: meter.createCounter(METRIC.replicationDeadLettered, {
      unit: '{message}',
      description: 'Replication messages whose failed delivery dead-letters them.',
    }),
    replicationThrottled: meter.createCounter(METRIC.replicationThrottled, {
      unit: '{message}',
      description: 'Replication messages re-sent for later because of throttling.',
    }),
    provisioningStepDuration: seconds(
      METRIC.provisioningStepDuration,
      'Time of one provisioning step.',
      DURATION_BUCKETS,
    ),
    provisioningRuns: meter.createCounter(METRIC.provisioningRuns, {
      unit: '{run}',
      description: 'Provisioning runs ended, by outcome.',
    }),
  };
}

let made: { provider: MeterProvider; instruments: Instruments } | undefined;

/**
 * The instruments of the meter provider registered now. The API has no proxy meter (a meter taken
 * before an SDK registers stays a no-op), so they are made again whenever the global provider changes.
 */
export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (made?.provider !== provider) {
    made = { provider, instruments: createInstruments(provider.getMeter(TELEMETRY_SCOPE, PRODUCT_VERSION)) };
  }
  return made.instruments;
}

/** The core's tracer (a proxy until a tracer provider is registered). */
export function tracer(): Tracer {
  return trace.getTracer(TELEMETRY_SCOPE, PRODUCT_VERSION);
}

/**
 * What an error may say in telemetry: its code (`AppError`), `PoisonMessage`, or its class name —
 * never its message, which may quote a value.
 */
export function errorType(error: unknown): string {
  if (error instanceof AppError) return error.code;
  if (error instanceof PoisonMessageError) return 'PoisonMessage';
  return error instanceof Error ? error.name : 'Error';
}

/** Marks a span failed with the error's type (not its message nor its stack). */
export function failSpan(span: Span, error: unknown): void {
  const type = errorType(error);
  span.setAttribute(ATTR.errorType, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/**
 * Runs `work` in a new active span (children nest under it) and ends it: failed with the error's type
 * when `work` throws, which it throws again.
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return tracer().startActiveSpan(name, { attributes, kind }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Seconds since a `performance.now()` reading. */
export function secondsSince(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}
