import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';

/**
 * The process's Prometheus reader: a metric reader of the installed meter provider (the local host's,
 * or Azure Monitor's beside its own exporter) that `GET /api/metrics` collects and serializes on
 * demand. It never opens a port of its own: the route table serves it like any route.
 */

let reader: PrometheusExporter | undefined;
const serializer = new PrometheusSerializer();

/** Media type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A new reader to register with the process's meter provider; `usePrometheusReader` once it is installed. */
export function newPrometheusReader(): PrometheusExporter {
  return new PrometheusExporter({ preventServerStart: true });
}

/** The reader `GET /api/metrics` serves from (undefined: none installed in this process). */
export function usePrometheusReader(installed: PrometheusExporter | undefined): void {
  reader = installed;
}

/**
 * The metrics of this process in the Prometheus text format, or undefined when no meter provider
 * with the reader is installed (telemetry was not set up in this process).
 */
export async function renderPrometheusMetrics(): Promise<string | undefined> {
  if (reader === undefined) return undefined;
  const { resourceMetrics, errors } = await reader.collect();
  if (errors.length > 0) throw new AggregateError(errors, 'Collecting metrics failed.');
  return serializer.serialize(resourceMetrics);
}
