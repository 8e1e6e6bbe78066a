import type { AppServices } from './app-services';
import { loadOrCreateLocalSigningKey } from './auth/local-signing-key';
import { createTokenVerifier, type TokenVerifier } from './auth/token-verifier';
import { systemClock, type Clock } from './clock';
import type { Settings } from './config';
import type { Tenant } from './model/tenant';
import { createEmbeddedQueue, type EmbeddedQueue } from './queue/embedded';
import type { QueueSender } from './queue/port';
import { createSourceFor, type SourceFactory } from './sources/create-source';
import { azureCredential } from './azure-credential';
import type { Store } from './store/port';
import { createSqliteStore } from './store/sqlite';
import { flushAllUsage } from './sync/sync-usage';
import { traceStore } from './telemetry/trace-store';

/** The process's wiring: services for handlers, the token verifier, and what must be closed. */
export interface AppRuntime {
  services: AppServices;
  verifier: TokenVerifier;
  /** Present when QUEUE_KIND is embedded: the local host runs its worker. */
  embeddedQueue: EmbeddedQueue | undefined;
  close(): Promise<void>;
}

/**
 * The composition root both hosts call once per process: one store, one queue sender, one
 * credential, one token verifier. Which adapter serves each port is decided here and only here.
 */
export async function createAppRuntime(
  settings: Settings,
  options: {
    clock?: Clock;
    /** Builds each tenant's Source (default {@link createSourceFor}); the local host and tests wrap it. */
    sourceFor?: SourceFactory;
  } = {},
): Promise<AppRuntime> {
  const clock = options.clock ?? systemClock;
  const sourceFactory = options.sourceFor ?? createSourceFor;
  // Every store call gets its span (a no-op until a host installs a tracer provider).
  // The Azure SDKs are loaded only by the adapters configured: a local host on SQLite and the
  // embedded queue never loads @azure/cosmos or @azure/service-bus (about 10 MB of heap).
  const store: Store = traceStore(
    settings.STORE_KIND === 'cosmos'
      ? await import('./store/cosmos').then((cosmos) =>
          cosmos.createCosmosStore({ ...cosmos.cosmosStoreOptionsFromSettings(settings), clock }),
        )
      : createSqliteStore({
          dataDir: settings.DATA_DIR,
          clock,
          changeRetentionDays: settings.CHANGE_RETENTION_DAYS,
        }),
  );

  let embeddedQueue: EmbeddedQueue | undefined;
  let queue: QueueSender;
  if (settings.QUEUE_KIND === 'servicebus') {
    const { createServiceBusSender } = await import('./queue/servicebus');
    queue = createServiceBusSender({
      fullyQualifiedNamespace: settings.ServiceBusConnection__fullyQualifiedNamespace!,
      queueName: settings.REPLICATION_QUEUE_NAME,
      credential: azureCredential(settings),
    });
  } else {
    embeddedQueue = createEmbeddedQueue({ dataDir: settings.DATA_DIR, clock });
    queue = embeddedQueue;
  }

  const verifier = createTokenVerifier({
    ...(settings.AUTH_ENTRA_ENABLED
      ? { entraAuthority: settings.AUTH_ENTRA_AUTHORITY, audiences: settings.AUTH_AUDIENCE }
      : {}),
    ...(settings.AUTH_LOCAL_ENABLED
      ? { localKey: await loadOrCreateLocalSigningKey(settings.DATA_DIR) }
      : {}),
  });

  const services: AppServices = {
    settings,
    store,
    queue,
    clock,
    sourceFor: (tenant: Tenant) => sourceFactory(tenant, { settings, store, clock }),
  };

  return {
    services,
    verifier,
    embeddedQueue,
    async close() {
      await embeddedQueue?.close();
      // Completed syncs still waiting to be counted (sync-usage.ts) are written while the store is open.
      await flushAllUsage(clock.now().getTime());
      await store.close();
    },
  };
}
