import { z } from 'zod';

/**
 * The product's settings, read once at start from the environment (Azure app settings, or the
 * local host's environment). Every key is listed in `local.settings.sample.json`. A bad or missing
 * setting stops start-up with a message that names it.
 */

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const positiveInt = z.coerce.number().int().positive();

export const settingsSchema = z
  .object({
    /** Which Store adapter serves tenant data and the control store. */
    STORE_KIND: z.enum(['sqlite', 'cosmos']).default('sqlite'),
    /** Port of the local host (`npm start`); the Functions host ignores it. */
    PORT: z.coerce.number().int().min(0).max(65535).default(7071),
    /** Folder for the SQLite files, the local signing key and the embedded queue. */
    DATA_DIR: z.string().min(1).default('.data'),
    /** Cosmos DB account endpoint (`https://<account>.documents.azure.com:443/`). */
    COSMOS_ENDPOINT: z.url().optional(),
    /** Cosmos DB key: only for emulators; in Azure the managed identity is used. */
    COSMOS_KEY: z.string().min(1).optional(),
    /** Accept the self-signed certificate of a local emulator. Never in Azure. */
    COSMOS_ALLOW_INSECURE_TLS: flag.default(false),
    /** The database that holds the tenant registry and provisioning status. */
    COSMOS_CONTROL_DATABASE: z.string().min(1).default('offline-control'),
    /** Tenant databases are named `<prefix><org>`. */
    COSMOS_DATABASE_PREFIX: z.string().min(1).default('tenant-'),
    /**
     * Autoscale maximum RU/s shared by the containers of each tenant database that provisioning
     * creates. Set it only on a provisioned (autoscale) account; leave it unset on a serverless
     * account, which takes no throughput settings.
     */
    COSMOS_TENANT_DATABASE_MAX_THROUGHPUT: positiveInt.min(1000).optional(),
    /** Management plane (tenant databases are created there when running with an identity). */
    AZURE_SUBSCRIPTION_ID: z.string().min(1).optional(),
    COSMOS_RESOURCE_GROUP: z.string().min(1).optional(),
    COSMOS_ACCOUNT_NAME: z.string().min(1).optional(),
    /** Client id of the user-assigned managed identity (read by DefaultAzureCredential too). */
    AZURE_CLIENT_ID: z.string().min(1).optional(),
    /** Accept Microsoft Entra ID tokens (then `AUTH_AUDIENCE` is required). */
    AUTH_ENTRA_ENABLED: flag.default(true),
    /**
     * Entra authority: v2.0 issuer `<authority>/<tid>/v2.0` (v1.0 tokens: `https://sts.windows.net/<tid>/`),
     * signing keys of every tenant at `<authority>/common/discovery/v2.0/keys`.
     */
    AUTH_ENTRA_AUTHORITY: z.url().default('https://login.microsoftonline.com'),
    /**
     * Audiences Entra tokens may carry, comma-separated: the API app registration's client id (v2.0
     * tokens) and its application ID URI `api://<client id>` (v1.0 tokens). No default: a placeholder
     * could never match, so start-up fails without it while Entra tokens are enabled.
     */
    AUTH_AUDIENCE: z
      .string()
      .optional()
      .transform((list) =>
        (list ?? '')
          .split(',')
          .map((audience) => audience.trim())
          .filter((audience) => audience.length > 0),
      ),
    /**
     * Client id of the app registration the admin page signs in with (a single-page application
     * registration, or the API's own with a SPA redirect URI `<host>/api/console`). Empty: the page
     * offers no Microsoft sign-in.
     */
    ADMIN_CONSOLE_CLIENT_ID: z.string().trim().default(''),
    /** Accept the local host's own development tokens (never enable in Azure). */
    AUTH_LOCAL_ENABLED: flag.default(false),
    /** The Entra tenant of the operators who register tenants (`admin/tenants` routes). */
    OPERATOR_TENANT_ID: z.string().min(1).default('00000000-0000-0000-0000-000000000000'),
    /** Largest request body accepted, in bytes. */
    MAX_BODY_BYTES: positiveInt.default(4 * 1024 * 1024),
    /** Which Queue adapter carries replication work. */
    QUEUE_KIND: z.enum(['embedded', 'servicebus']).default('embedded'),
    /** The replication queue's name. */
    REPLICATION_QUEUE_NAME: z.string().min(1).default('replication'),
    /**
     * Deliveries of a replication message before Service Bus dead-letters it (the queue's
     * `maxDeliveryCount`, set from the same Bicep parameter): lets the status tell the last failed
     * delivery from one that will be retried.
     */
    REPLICATION_QUEUE_MAX_DELIVERY_COUNT: positiveInt.default(10),
    /** Service Bus namespace for the sender; the trigger reads `ServiceBusConnection__*`. */
    ServiceBusConnection__fullyQualifiedNamespace: z.string().min(1).optional(),
    /** Key Vault holding Dataverse client secrets. */
    KEY_VAULT_URI: z.url().optional(),
    /**
     * Days the change sequence keeps a change (SQLite log entries, Cosmos marker TTL). A device that
     * has not synced for longer starts over from its rows (what its user holds), not from changes.
     */
    CHANGE_RETENTION_DAYS: positiveInt.max(365).default(14),
    /**
     * Device syncs (download and upload pages) the local host serves at once; later ones wait their
     * turn in arrival order (`local/request-gate.ts`). Its SQLite store answers synchronously, so
     * running more side by side adds no throughput and makes every one of them finish late. Two, not
     * one: the thread has the next sync to run while the last one's answer is compressed and written.
     * Measured on workload 3's rounds (50 devices download 100 changed rows at once, 2 cores, five
     * alternating runs each): median latency 236 ms at 2 against 271 ms at 4.
     */
    LOCAL_SYNC_CONCURRENCY: positiveInt.max(64).default(2),
    /**
     * Serve `GET api/metrics` (Prometheus) without a token. Off by default: operators only; the local
     * host turns it on (it listens on 127.0.0.1).
     */
    METRICS_OPEN: flag.default(false),
    /** Print one JSON line per HTTP request on stdout (local host). */
    REQUEST_LOG: flag.default(true),
    /** Create the demo tenant `contoso` on first start (local host). */
    DEMO_TENANT: flag.default(true),
    /** How many business rows the demo tenant gets. */
    DEMO_ROWS: positiveInt.max(2_000_000).default(3000),
    /** Seed of the demo data generator. */
    DEMO_SEED: z.coerce.number().int().default(42),
    /**
     * Most bytes (UTF-8) of JSON one replicated row's attributes may take, checked before the write.
     * Cosmos DB refuses items over 2 MB and a row's item also carries its look-up keys, so the
     * default leaves half a MiB of headroom. A larger row is not stored: it is skipped, counted and
     * named in its entity's replication status (a row Cosmos still refuses, 413, is skipped alike).
     */
    REPLICATION_MAX_ROW_BYTES: positiveInt.min(1024).max(2_000_000).default(1_572_864),
    /**
     * Replicate the columns that hold file contents (`annotation.documentbody`,
     * `activitymimeattachment.body`), which full reads leave out by default. File and image columns
     * proper are never in the metadata, so never read.
     */
    REPLICATION_INCLUDE_FILE_COLUMNS: flag.default(false),
    /** More columns replication reads leave out, comma-separated `entity.column` logical names. */
    REPLICATION_EXCLUDED_COLUMNS: z
      .string()
      .optional()
      .transform((list) =>
        (list ?? '')
          .split(',')
          .map((column) => column.trim())
          .filter((column) => column.length > 0),
      )
      .pipe(z.array(z.string().regex(/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/, 'entity.column logical names'))),
    /**
     * Replication messages of one tenant that one process handles at once; a message beyond it is
     * put back on the queue a few seconds later (and its delivery completed), so one busy tenant
     * cannot hold every handler of an instance, nor push its database into throttling alone.
     */
    REPLICATION_TENANT_CONCURRENCY: positiveInt.max(1000).default(8),
    /**
     * Most source pages one replication message reads: a longer read saves its position and goes on
     * in a new message (the message's lock, its lease and the function timeout are never outlasted).
     */
    REPLICATION_READ_MAX_PAGES: positiveInt.max(10_000).default(100),
    /**
     * Most seconds one replication message reads before it saves its position and goes on in a new
     * message (checked after each page). At most 480: a page in hand finishes well inside the
     * 10-minute lock renewal and function timeout of host.json.
     */
    REPLICATION_READ_MAX_SECONDS: positiveInt.max(480).default(240),
  })
  .superRefine((s, ctx) => {
    if (s.AUTH_ENTRA_ENABLED && s.AUTH_AUDIENCE.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_AUDIENCE'],
        message:
          "required when AUTH_ENTRA_ENABLED is true: the API app registration's client id and/or api://<client id>, comma-separated",
      });
    }
    if (s.STORE_KIND === 'cosmos' && s.COSMOS_ENDPOINT === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['COSMOS_ENDPOINT'],
        message: 'required when STORE_KIND is cosmos',
      });
    }
    if (s.QUEUE_KIND === 'servicebus' && s.ServiceBusConnection__fullyQualifiedNamespace === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['ServiceBusConnection__fullyQualifiedNamespace'],
        message: 'required when QUEUE_KIND is servicebus',
      });
    }
  });

export type Settings = z.infer<typeof settingsSchema>;

/** Thrown at start-up when settings are bad; its message names every bad setting. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses settings from an environment. Empty strings count as unset. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const input: Record<string, string> = {};
  for (const key of Object.keys(settingsSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(settings)'}: ${issue.message}`),
    );
  }
  return parsed.data;
}
