import { settingsSchema } from '../../shared/config';
import {
  parseObjectVariable,
  parseParams,
  readInfraFile,
  readBicepFiles,
  stringLiteral,
} from './bicep-source';

/**
 * The app settings main.bicep gives the Function App must agree with what shared/config.ts reads:
 * a setting the schema does not know is dead (or misspelled), and a setting Azure needs but Bicep
 * omits falls back to a local default (SQLite, the embedded queue, the demo tenant) in production.
 */

const appSettings = parseObjectVariable(readInfraFile('main.bicep'), 'appSettings');
const schemaKeys = new Set(Object.keys(settingsSchema.shape));

/**
 * Settings the Functions host reads, not the product: Bicep may set these although
 * `settingsSchema` does not list them.
 */
const hostSettings: Record<string, string> = {
  AzureWebJobsStorage__accountName: 'host and Durable Functions storage, identity-based',
  AzureWebJobsStorage__credential: 'selects the managed identity for host storage',
  AzureWebJobsStorage__clientId: 'which user-assigned identity the host uses for storage',
  ServiceBusConnection__credential:
    'the Service Bus trigger connection authenticates with the managed identity',
  ServiceBusConnection__clientId: 'which user-assigned identity the trigger uses',
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    'where telemetry goes (no secret: local auth is disabled); the host and @azure/monitor-opentelemetry at the entry read it',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'telemetry ingestion authenticated with the identity',
};

/** Product settings Azure cannot leave to their defaults, and why. */
const requiredInAzure: Record<string, string> = {
  STORE_KIND: 'the default is sqlite; Flex Consumption instances have no lasting disk',
  COSMOS_ENDPOINT: 'required by the Cosmos store',
  COSMOS_CONTROL_DATABASE: 'must name the control database Bicep creates',
  COSMOS_DATABASE_PREFIX: 'tenant database names must match what the operator expects to see in the account',
  AZURE_SUBSCRIPTION_ID: 'management plane: the data plane refuses to create databases for Entra callers',
  COSMOS_RESOURCE_GROUP: 'management plane, as above',
  COSMOS_ACCOUNT_NAME: 'management plane, as above',
  AZURE_CLIENT_ID: 'the app has only a user-assigned identity; DefaultAzureCredential must be told which',
  AUTH_ENTRA_ENABLED: 'pinned on: Entra tokens are the only way in',
  AUTH_AUDIENCE: 'no default (start-up fails without it): each deployment has its own app registration',
  AUTH_LOCAL_ENABLED: 'pinned off: development tokens must never open a production API',
  OPERATOR_TENANT_ID: 'the default (all zeros) would lock every operator out',
  QUEUE_KIND: 'the default is the embedded queue, which nothing consumes in Azure',
  REPLICATION_QUEUE_NAME: 'the Service Bus trigger resolves %REPLICATION_QUEUE_NAME% from the app settings',
  ServiceBusConnection__fullyQualifiedNamespace: 'required with the servicebus queue, and by the trigger',
  KEY_VAULT_URI: 'Dataverse client secrets are read from Key Vault',
  DEMO_TENANT: 'the default creates the demo tenant; never in production',
};

/** Values Azure must have exactly. */
const pinnedValues: Record<string, string> = {
  STORE_KIND: 'cosmos',
  QUEUE_KIND: 'servicebus',
  AUTH_ENTRA_ENABLED: 'true',
  AUTH_LOCAL_ENABLED: 'false',
  DEMO_TENANT: 'false',
  AzureWebJobsStorage__credential: 'managedidentity',
  ServiceBusConnection__credential: 'managedidentity',
};

/** Settings that must never reach Azure: keys, and trust of self-signed certificates. */
const forbiddenInAzure = ['COSMOS_KEY', 'COSMOS_ALLOW_INSECURE_TLS'];

describe('Function App settings in main.bicep', () => {
  it('sets only settings the schema reads or the Functions host reads', () => {
    const unknown = [...appSettings.keys()].filter((key) => !schemaKeys.has(key) && !(key in hostSettings));
    expect(unknown).toEqual([]);
  });

  it('lists host settings that are not product settings', () => {
    // If the schema starts reading one of these, it belongs with the product settings instead.
    expect(Object.keys(hostSettings).filter((key) => schemaKeys.has(key))).toEqual([]);
  });

  it('sets every setting Azure needs, each a name the schema reads', () => {
    const required = Object.keys(requiredInAzure);
    expect(required.filter((key) => !schemaKeys.has(key))).toEqual([]);
    expect(required.filter((key) => !appSettings.has(key))).toEqual([]);
  });

  it('pins the settings whose defaults are for local use', () => {
    for (const [key, value] of Object.entries(pinnedValues)) {
      expect([key, stringLiteral(appSettings.get(key) ?? '')]).toEqual([key, value]);
    }
  });

  it('never sets a key or an insecure TLS setting', () => {
    for (const key of forbiddenInAzure) {
      expect(schemaKeys.has(key)).toBe(true);
      expect(appSettings.has(key)).toBe(false);
    }
  });

  it('gives literal values the schema accepts', () => {
    const shape = settingsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
    const rejected = [...appSettings]
      .filter(([key]) => schemaKeys.has(key))
      .map(([key, expression]) => [key, stringLiteral(expression)] as const)
      .filter(([key, literal]) => literal !== undefined && !shape[key]!.safeParse(literal).success);
    expect(rejected).toEqual([]);
  });

  it('uses one identity for every identity-based connection and for telemetry', () => {
    const clientId = appSettings.get('AZURE_CLIENT_ID');
    expect(clientId).toBe('identity.outputs.clientId');
    expect(appSettings.get('AzureWebJobsStorage__clientId')).toBe(clientId);
    expect(appSettings.get('ServiceBusConnection__clientId')).toBe(clientId);
    expect(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(
      `'Authorization=AAD;ClientId=\${${clientId}}'`,
    );
  });

  it("passes the admin page's sign-in client id from its own parameter, empty by default", () => {
    // Set by hand (az functionapp config appsettings set), it would be gone after the next provision.
    expect(appSettings.get('ADMIN_CONSOLE_CLIENT_ID')).toBe('adminConsoleClientId');
    const param = parseParams(readInfraFile('main.bicep')).find((p) => p.name === 'adminConsoleClientId');
    expect(param).toMatchObject({ hasDefault: true });
    expect(readInfraFile('main.bicep')).toMatch(/^param adminConsoleClientId string = ''$/m);
    expect(param?.decorators).toContain('ADMIN_CONSOLE_CLIENT_ID');
  });

  it('is the only place in infra/ that sets app settings', () => {
    // A second source of settings (a `config` child resource, a literal list) would escape the
    // checks above.
    const elsewhere = readBicepFiles().filter(
      (f) =>
        /name:\s*'appsettings'/i.test(f.text) ||
        (/appSettings:\s*\[/.test(f.text) && !/items\(appSettings\)/.test(f.text)),
    );
    expect(elsewhere.map((f) => f.path)).toEqual([]);
    const functionApp = readInfraFile('modules/function-app.bicep');
    expect(functionApp).toMatch(/appSettings:\s*\[for setting in items\(appSettings\):/);
  });
});
