import { metrics } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { newPrometheusReader, usePrometheusReader } from '../functions/telemetry/prometheus';
import { PRODUCT_VERSION } from '../shared/version';

/**
 * The local host's OpenTelemetry SDK, once per process: a meter provider whose Prometheus reader
 * `GET /api/metrics` serves, and — when `OTEL_EXPORTER_OTLP_ENDPOINT` is set — OTLP/HTTP export of
 * traces and metrics to that collector (`<endpoint>/v1/traces`, `<endpoint>/v1/metrics`; headers from
 * `OTEL_EXPORTER_OTLP_HEADERS`). Without an endpoint no tracer is installed: spans stay no-ops, and
 * the OTLP exporters and the trace SDK are not even loaded (about 300 modules, 8 MB of RSS).
 */

const otlpSettingsSchema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('offline-sync'),
  /** Milliseconds between OTLP metric exports. */
  OTEL_METRIC_EXPORT_INTERVAL: z.coerce.number().int().min(100).default(60_000),
});

export interface LocalTelemetry {
  /** Whether OTLP export is on. */
  otlp: boolean;
  /** Exports what is buffered (spans, metrics) now. */
  flush(): Promise<void>;
  /** Flushes and stops export (the process is ending). */
  shutdown(): Promise<void>;
}

let installed: Promise<LocalTelemetry | undefined> | undefined;

/**
 * Installs the SDK for this process unless it is installed already (several hosts in one process, as
 * in tests, share it), or another meter provider was registered first (a test's in-memory one): then
 * nothing is installed and `GET /api/metrics` answers 503.
 */
export function installLocalTelemetry(env: NodeJS.ProcessEnv): Promise<LocalTelemetry | undefined> {
  installed ??= install(env).then((telemetry) => {
    // Nothing installed (another provider was first): a later call tries again.
    if (telemetry === undefined) installed = undefined;
    return telemetry;
  });
  return installed;
}

async function install(env: NodeJS.ProcessEnv): Promise<LocalTelemetry | undefined> {
  const values = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const settings = otlpSettingsSchema.parse(values);
  const resource = resourceFromAttributes({
    'service.name': settings.OTEL_SERVICE_NAME,
    'service.version': PRODUCT_VERSION,
  });
  const endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  const prometheus = newPrometheusReader();
  const readers: MetricReader[] = [prometheus];
  const otlp =
    endpoint === undefined
      ? undefined
      : await Promise.all([
          import('@opentelemetry/exporter-metrics-otlp-http'),
          import('@opentelemetry/exporter-trace-otlp-http'),
          import('@opentelemetry/sdk-trace-base'),
          import('@opentelemetry/sdk-trace-node'),
        ]);
  if (endpoint !== undefined && otlp !== undefined) {
    const [{ OTLPMetricExporter }] = otlp;
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
        exportIntervalMillis: settings.OTEL_METRIC_EXPORT_INTERVAL,
      }),
    );
  }
  const meterProvider = new MeterProvider({ resource, readers });
  if (!metrics.setGlobalMeterProvider(meterProvider)) {
    void meterProvider.shutdown();
    return undefined;
  }
  usePrometheusReader(prometheus);
  let tracerProvider: NodeTracerProvider | undefined;
  if (endpoint !== undefined && otlp !== undefined) {
    const [, { OTLPTraceExporter }, { BatchSpanProcessor }, { NodeTracerProvider }] = otlp;
    tracerProvider = new NodeTracerProvider({
      resource,
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
    });
    // Also the async context manager (spans nest across awaits) and the W3C propagator.
    tracerProvider.register();
  }
  return {
    otlp: endpoint !== undefined,
    async flush() {
      await Promise.all([meterProvider.forceFlush(), tracerProvider?.forceFlush()]);
    },
    async shutdown() {
      await Promise.all([meterProvider.shutdown(), tracerProvider?.shutdown()]);
    },
  };
}
