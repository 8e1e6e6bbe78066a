import { useAzureMonitor, type AzureMonitorOpenTelemetryOptions } from '@azure/monitor-opentelemetry';
import type { TokenCredential } from '@azure/identity';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import { azureCredential } from '../../shared/azure-credential';
import { PRODUCT_VERSION } from '../../shared/version';
import { newPrometheusReader, usePrometheusReader } from './prometheus';

/**
 * OpenTelemetry in Azure: `@azure/monitor-opentelemetry` exports the core's spans, metrics and logs
 * to the deployment's Application Insights, authenticated with Microsoft Entra ID (the component
 * refuses instrumentation-key ingestion: `DisableLocalAuth`), through the process's one credential —
 * the user-assigned managed identity `AZURE_CLIENT_ID` names, which holds Monitoring Metrics Publisher.
 * A Prometheus reader sits beside it, so `GET /api/metrics` shows the instance's figures too.
 */

/** What the set-up reads: the standard Application Insights variable and the identity's client id. */
export interface AzureMonitorEnv {
  APPLICATIONINSIGHTS_CONNECTION_STRING?: string | undefined;
  AZURE_CLIENT_ID?: string | undefined;
  OTEL_SERVICE_NAME?: string | undefined;
}

/**
 * The options given to `useAzureMonitor`, or undefined without a connection string (telemetry off:
 * the core's hooks stay no-ops). The credential is always an Entra one: no key is ever used.
 */
export function azureMonitorOptions(
  env: AzureMonitorEnv,
  prometheus: MetricReader,
  credential: (clientId: string | undefined) => TokenCredential = (clientId) =>
    azureCredential({ AZURE_CLIENT_ID: clientId }),
): AzureMonitorOpenTelemetryOptions | undefined {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (connectionString === undefined || connectionString === '') return undefined;
  return {
    azureMonitorExporterOptions: {
      connectionString,
      credential: credential(env.AZURE_CLIENT_ID === '' ? undefined : env.AZURE_CLIENT_ID),
    },
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME || 'offline-sync',
      'service.version': PRODUCT_VERSION,
    }),
    metricReaders: [prometheus],
    // The Functions host reports each invocation as a request already; outgoing calls (Cosmos DB,
    // Service Bus, Dataverse) come from the Azure SDK and HTTP instrumentations.
    instrumentationOptions: { azureSdk: { enabled: true }, http: { enabled: true } },
    enableLiveMetrics: false,
  };
}

/** Sets up Azure Monitor once, at the Functions entry, before any handler runs; false when off. */
export function startAzureMonitor(env: AzureMonitorEnv = process.env): boolean {
  const prometheus = newPrometheusReader();
  const options = azureMonitorOptions(env, prometheus);
  if (options === undefined) return false;
  useAzureMonitor(options);
  usePrometheusReader(prometheus);
  return true;
}
