import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { loadSettings } from '../shared/config';
import { createAppRuntime, type AppRuntime } from '../shared/create-app-runtime';
import { handleReplicationMessage } from '../shared/replication';
import { healReplication } from '../shared/replication/heal-replication';
import { withLogScope } from '../shared/telemetry/log';
import { durableClientInputs, registerProvisioning, withDurableProvisioning } from './durable';
import { handleRequest } from './http/handle-request';
import { routes } from './routes';
import { startAzureMonitor } from './telemetry/azure-monitor';
import { invocationLogSink } from './telemetry/invocation-log-sink';

/**
 * The Azure Functions entry point: registers every route of the route table with `app.http`, and
 * the replication queue's Service Bus trigger. The runtime (settings, one store, one Service Bus
 * sender, one credential) is built once per process, on first use; bad settings fail every call
 * with a message naming them.
 */
// OpenTelemetry to Application Insights (Entra-authenticated) before anything records or serves.
startAzureMonitor();

let runtime: Promise<AppRuntime> | undefined;
function getRuntime(): Promise<AppRuntime> {
  runtime ??= createAppRuntime(loadSettings());
  return runtime;
}

for (const route of routes) {
  app.http(route.name, {
    methods: [route.method],
    route: route.route,
    authLevel: 'anonymous',
    extraInputs: route.durableClient ? durableClientInputs() : [],
    handler: async (request: HttpRequest, context: InvocationContext) => {
      const runtime = await getRuntime();
      // Routes that start orchestrations get a provisioning runner bound to this invocation's client.
      const services = route.durableClient
        ? withDurableProvisioning(runtime.services, context)
        : runtime.services;
      return handleRequest(route, request, context, { services, verifier: runtime.verifier });
    },
  });
}

registerProvisioning(async () => (await getRuntime()).services);

app.serviceBusQueue('replicationQueue', {
  connection: 'ServiceBusConnection',
  queueName: '%REPLICATION_QUEUE_NAME%',
  handler: async (message: unknown, context: InvocationContext) => {
    const { services } = await getRuntime();
    const metadata = context.triggerMetadata ?? {};
    const scope = {
      sink: invocationLogSink(context),
      traceId: context.traceContext?.traceParent?.split('-')[1],
    };
    await withLogScope(scope, () =>
      handleReplicationMessage(services, message, {
        messageId: typeof metadata.messageId === 'string' ? metadata.messageId : context.invocationId,
        deliveryCount: typeof metadata.deliveryCount === 'number' ? metadata.deliveryCount : 1,
        enqueuedAt: new Date(
          typeof metadata.enqueuedTimeUtc === 'string' ? metadata.enqueuedTimeUtc : Date.now(),
        ),
        // The Functions host abandons a failed message and Service Bus dead-letters it after the
        // queue's maxDeliveryCount; a Node.js function cannot dead-letter it itself (settlement from
        // Node is a preview extension), so an invalid message fails fast on each delivery until then.
        maxDeliveryCount: services.settings.REPLICATION_QUEUE_MAX_DELIVERY_COUNT,
        poisonDeadLettersAtOnce: false,
      }),
    );
  },
});

/**
 * Every 5 minutes: revives dead replication chains, starts chains for entities enabled after
 * provisioning, and sends a metadataRefresh after publishes (shared/replication/heal-replication.ts).
 * The local host runs the same handler on an interval.
 */
app.timer('replicationHealing', {
  schedule: '0 */5 * * * *',
  handler: async (_timer: unknown, context: InvocationContext) => {
    const { services } = await getRuntime();
    // What it healed, per tenant, and any tenant it could not: log lines (shared/telemetry/log.ts).
    await withLogScope({ sink: invocationLogSink(context), trigger: 'timer:replicationHealing' }, () =>
      healReplication(services),
    );
  },
});
