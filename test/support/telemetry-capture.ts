import { metrics, trace, type Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** One data point of a metric as a test reads it: its attributes and value (a sum, or a histogram's count and sum). */
export interface CapturedPoint {
  attributes: Attributes;
  value: number;
  count?: number;
  sum?: number;
}

export interface TelemetryCapture {
  /** Every span ended so far. */
  spans(): ReadableSpan[];
  /** The data points of a metric at this moment (cumulative since the capture started). */
  points(metric: string): Promise<CapturedPoint[]>;
  /** Every attribute set of every data point of every metric, for scanning. */
  allMetricAttributes(): Promise<Attributes[]>;
  stop(): Promise<void>;
}

/**
 * Installs the OpenTelemetry SDK for this test file with the in-memory exporters (the tracer with
 * async context, so spans nest as in a host), before any host starts: a local host then finds a
 * meter provider registered and installs none of its own.
 */
export function captureTelemetry(): TelemetryCapture {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  tracerProvider.register();
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Exports only when the test flushes it (the interval never comes within a test).
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  if (!metrics.setGlobalMeterProvider(meterProvider))
    throw new Error('a meter provider is registered already');

  async function collect(): Promise<{ name: string; points: CapturedPoint[] }[]> {
    metricExporter.reset();
    await reader.forceFlush();
    const latest = metricExporter.getMetrics().at(-1);
    if (latest === undefined) return [];
    return latest.scopeMetrics.flatMap((scope) =>
      scope.metrics.map((metric) => ({
        name: metric.descriptor.name,
        points: metric.dataPoints.map((point): CapturedPoint => {
          if (metric.dataPointType === DataPointType.HISTOGRAM) {
            const value = point.value as { count: number; sum?: number };
            return {
              attributes: point.attributes,
              value: value.count,
              count: value.count,
              sum: value.sum ?? 0,
            };
          }
          return { attributes: point.attributes, value: point.value as number };
        }),
      })),
    );
  }

  return {
    spans: () => spanExporter.getFinishedSpans(),
    async points(name) {
      return (await collect()).filter((m) => m.name === name).flatMap((m) => m.points);
    },
    async allMetricAttributes() {
      return (await collect()).flatMap((m) => m.points.map((p) => p.attributes));
    },
    async stop() {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
      trace.disable();
      metrics.disable();
    },
  };
}

/** The value of points whose attributes include `match`, summed. */
export function total(points: CapturedPoint[], match: Attributes): number {
  return points
    .filter((p) => Object.entries(match).every(([key, value]) => p.attributes[key] === value))
    .reduce((sum, p) => sum + p.value, 0);
}
