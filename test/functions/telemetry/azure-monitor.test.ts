import type { TokenCredential } from '@azure/identity';
import { newPrometheusReader } from '../../../functions/telemetry/prometheus';
import { azureMonitorOptions } from '../../../functions/telemetry/azure-monitor';

/**
 * How the Functions entry sets up `@azure/monitor-opentelemetry` (issue 18): off without a connection
 * string; with one, exporting to it with the managed identity's Entra credential (never a key), the
 * Prometheus reader beside it.
 */
describe('azureMonitorOptions', () => {
  const connectionString =
    'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/';
  const fakeCredential: TokenCredential = { getToken: () => Promise.resolve(null) };

  it('is off without APPLICATIONINSIGHTS_CONNECTION_STRING', () => {
    expect(azureMonitorOptions({}, newPrometheusReader())).toBeUndefined();
    expect(
      azureMonitorOptions({ APPLICATIONINSIGHTS_CONNECTION_STRING: '' }, newPrometheusReader()),
    ).toBeUndefined();
  });

  it('exports to the connection string with the identity AZURE_CLIENT_ID names, and the Prometheus reader', () => {
    const asked: (string | undefined)[] = [];
    const prometheus = newPrometheusReader();
    const options = azureMonitorOptions(
      { APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString, AZURE_CLIENT_ID: 'client-1' },
      prometheus,
      (clientId) => {
        asked.push(clientId);
        return fakeCredential;
      },
    )!;
    expect(asked).toEqual(['client-1']);
    expect(options.azureMonitorExporterOptions).toEqual({ connectionString, credential: fakeCredential });
    expect(options.metricReaders).toEqual([prometheus]);
    expect(options.resource?.attributes['service.name']).toBe('offline-sync');
  });
});
