import type { Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { routes } from '../functions/routes';
import type { Clock } from '../shared/clock';
import { ConfigError, loadSettings, type Settings } from '../shared/config';
import { createAppRuntime, type AppRuntime } from '../shared/create-app-runtime';
import { handleReplicationMessage } from '../shared/replication';
import { errorFields, logLine, withLogScope, type LogSink } from '../shared/telemetry/log';
import { HEALING_SLACK_MS, healReplication } from '../shared/replication/heal-replication';
import { withMessage, updateProvisioningStatus } from '../shared/provisioning/provisioning-status';
import type { ProvisioningRunInput } from '../shared/provisioning/provisioning-runner';
import { createSourceFor, type SourceFactory } from '../shared/sources/create-source';
import { DEMO_ORG } from './demo/demo-directory';
import { demoAwareSourceFor } from './demo/demo-source';
import { ensureDemoTenant, restoreDemoConfiguration } from './demo/seed-demo-tenant';
import { createLocalHttpServer, listen } from './http-server';
import { LOCAL_DEFAULTS } from './local-defaults';
import { installLocalTelemetry } from './telemetry';
import { createLocalProvisioningDriver } from './provisioning-driver';

export interface LocalHost {
  url: string;
  port: number;
  settings: Settings;
  runtime: AppRuntime;
  close(): Promise<void>;
}

/** How tests (and embedders) adjust the local host; every field is optional. */
export interface LocalHostOptions {
  clock?: Clock;
  log?: (line: string) => void;
  workerPollMs?: number;
  /**
   * Builds each tenant's Source. Default: {@link createSourceFor}, with the demo tenant's generated
   * rows ({@link demoAwareSourceFor}). Tests point Dataverse tenants at a local test server with it.
   */
  sourceFor?: SourceFactory;
  /** Awaited before each provisioning run starts in the background (tests hold a run here). */
  beforeProvisioningRun?: (run: ProvisioningRunInput) => Promise<void>;
}

/**
 * Provisioning the demo tenant again after a deprovision: its configuration went with the database,
 * so it is re-created (and the status says so) before step 1; step 5 then downloads the generated rows.
 */
async function restoreDemoForRun(
  runtime: AppRuntime,
  run: ProvisioningRunInput,
  log: (line: string) => void,
): Promise<void> {
  const { services } = runtime;
  if (!(await restoreDemoConfiguration(services, { log }))) return;
  const now = services.clock.now();
  await updateProvisioningStatus(services.store.control, run.org, services.clock, (status) =>
    status.runId === run.runId
      ? withMessage(
          status,
          now,
          `Demo tenant: directory, entities, profiles and app re-created; step 5 downloads ${services.settings.DEMO_ROWS} generated rows.`,
        )
      : undefined,
  );
}

/**
 * Starts the whole backend in this process: the route table over node:http, the embedded queue's
 * worker with the same replication handler Functions registers, and the demo tenant on first start.
 */
export async function startLocalHost(
  env: NodeJS.ProcessEnv = process.env,
  options: LocalHostOptions = {},
): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => console.log(line));
  // The core's lines of background work (queue messages, healing) go where the host's lines go.
  const lineSink: LogSink = (_level, line) => log(line);
  const settings = loadSettings({ ...LOCAL_DEFAULTS, ...env });
  // Before the runtime: its store and the handlers record into the meter provider installed here.
  await installLocalTelemetry(env);
  const runtime = await createAppRuntime(settings, {
    ...(options.clock ? { clock: options.clock } : {}),
    sourceFor: options.sourceFor ?? demoAwareSourceFor(createSourceFor),
  });
  let server: Server | undefined;
  let healing: NodeJS.Timeout | undefined;
  // The same provisioning orchestrator Durable Functions runs, driven in-process; it resumes a run the
  // last process left mid-way.
  const provisioning = createLocalProvisioningDriver(runtime.services, {
    log,
    beforeRun: async (run) => {
      await options.beforeProvisioningRun?.(run);
      if (settings.DEMO_TENANT && run.org === DEMO_ORG && run.action === 'provision') {
        await restoreDemoForRun(runtime, run, log);
      }
    },
  });
  runtime.services = { ...runtime.services, provisioning };
  try {
    if (settings.DEMO_TENANT) await ensureDemoTenant(runtime.services, { log });
    await provisioning.resumeInterrupted();
    runtime.embeddedQueue?.start(
      (body, delivery) =>
        withLogScope({ sink: lineSink }, () => handleReplicationMessage(runtime.services, body, delivery)),
      {
        concurrency: 2,
        pollMs: options.workerPollMs ?? 250,
      },
    );
    // The same healing the Functions timer trigger runs, on the same 5-minute period.
    healing = setInterval(() => {
      void withLogScope({ sink: lineSink, trigger: 'timer:replicationHealing' }, () =>
        // Caught here and logged: the next period tries again.
        healReplication(runtime.services).catch((error: unknown) =>
          logLine('error', 'replication.healing failed', errorFields(error)),
        ),
      );
    }, HEALING_SLACK_MS);
    healing.unref();
    server = createLocalHttpServer(routes, runtime, log);
    const port = await listen(server, settings.PORT);
    const url = `http://127.0.0.1:${port}`;
    let closed = false;
    return {
      url,
      port,
      settings,
      runtime,
      async close() {
        if (closed) return;
        closed = true;
        clearInterval(healing);
        server!.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
        await provisioning.close();
        await runtime.close();
      },
    };
  } catch (error) {
    clearInterval(healing);
    server?.close();
    await provisioning.close();
    await runtime.close();
    throw error;
  }
}

function banner(host: LocalHost): string {
  const s = host.settings;
  return [
    '',
    `Offline sync backend listening on ${host.url}  (store: ${s.STORE_KIND}, data: ${s.DATA_DIR})`,
    s.DEMO_TENANT
      ? `Demo tenant: contoso (local source; users alice (admin), bob, carol (managers), dave … wendy)`
      : '',
    '',
    "Get a token (prints it; the host accepts only tokens signed with this data folder's key):",
    '  npm run -s token -- --operator                          # operator: register and list tenants',
    '  npm run -s token -- --org contoso --user alice --admin  # tenant admin',
    '  npm run -s token -- --org contoso --user dave           # a device user',
    '',
    'Try:',
    `  curl ${host.url}/api/health`,
    '  TOKEN=$(npm run -s token -- --org contoso --user alice --admin)',
    `  curl -H "Authorization: Bearer $TOKEN" ${host.url}/api/admin/contoso/entities`,
    '',
    'Ctrl-C stops it; data stays in the data folder for the next start.',
  ]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
}

async function main(): Promise<void> {
  let host: LocalHost;
  try {
    host = await startLocalHost();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  console.log(banner(host));
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (finishing in-flight work)…`);
    host
      .close()
      .then(() => installLocalTelemetry(process.env))
      .then((telemetry) => telemetry?.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * V8 lets old space grow to up to 4x what survived its last full collection (its most generous
 * factor, used when the heap limit is 2 GB or more; ~3.6x measured here). Serving a download, nearly
 * all a page allocates is garbage within the request, so with ~35 MB live the host carried ~120 MB of
 * dead pages (~210 MB before the initial plan stopped holding the set). Growing 2x instead keeps the
 * heap near twice the live size without capping it: a 1,000,000-row tenant's download still gets all
 * the heap it needs. Measured on workload 2 (199,479 rows, 2-core AMD EPYC, Node 20): host peak RSS
 * 285-346 MiB -> 221-230 MiB, server time unchanged (6.1-7.6 s either way). 1.5x since: a large
 * download's pages still leave old space half garbage at its peak, and at 523,639 rows (a
 * 1,000,000-row tenant) 2x peaked at 280-284 MiB, 1.5x at 241-246 MiB (1.25x: 227), server time
 * 31-36 s in both; workload 1's download of 10,565 rows runs 1.8 full collections instead of 1.2 (a
 * few ms). Set at start, before the heap grows, so it applies however the host runs (`npm start`,
 * `node dist/local/host.js`, the bench).
 */
const HEAP_GROWING_PERCENT = 50;

/**
 * libuv's thread pool compresses the responses (brotli), and each pool thread keeps its own malloc
 * arena: with libuv's default of 4 threads on a 2-core machine the arenas held ~50 MB after a large
 * download for no gain in speed, as only 2 compress at once. One thread per core (2 to 4), unless
 * UV_THREADPOOL_SIZE is set; read by libuv when the pool first starts, which is after this. Measured on
 * workload 2 (199,479 rows, tables format, 2 cores): host peak RSS 245-246 MiB -> 216-222 MiB, server
 * time 6.0-6.2 s either way.
 */
function threadPoolSize(): string {
  return String(Math.min(4, Math.max(2, availableParallelism())));
}

if (require.main === module) {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  process.env.UV_THREADPOOL_SIZE ??= threadPoolSize();
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
