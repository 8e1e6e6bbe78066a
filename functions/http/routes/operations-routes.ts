import { z } from 'zod';
import { AppError } from '../../../shared/errors';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheusMetrics } from '../../telemetry/prometheus';
import { defineRoute, type RouteDefinition } from '../route-definition';

/**
 * `GET api/metrics`: this process's metrics in the Prometheus text format (the OpenTelemetry
 * Prometheus exporter's serializer over the installed meter provider). Operators only, unless
 * `METRICS_OPEN` is true (the local host's default: it listens on 127.0.0.1). In Azure it shows one
 * instance's figures; Application Insights has every instance's.
 */
export const metricsRoute = defineRoute({
  name: 'metrics',
  method: 'GET',
  route: 'api/metrics',
  auth: 'operator',
  openWhen: (settings) => settings.METRICS_OPEN,
  summary: "This process's metrics in the Prometheus text format (operators, or anyone when METRICS_OPEN).",
  response: z.string(),
  mediaTypes: ['text/plain'],
  errors: ['Unavailable'],
  handler: async () => {
    const text = await renderPrometheusMetrics();
    if (text === undefined) {
      throw new AppError(
        'Unavailable',
        'No metrics are collected in this process (telemetry is not set up).',
      );
    }
    return {
      raw: Buffer.from(text, 'utf8'),
      headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' },
    };
  },
});

/** Routes for operators of the service, for the route table. */
export const operationsRoutes: RouteDefinition[] = [metricsRoute];
