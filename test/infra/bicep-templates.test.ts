import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_CONTAINERS } from '../../shared/store/cosmos/layout';
import {
  callArguments,
  findRoleAssignments,
  infraDir,
  parseModuleUses,
  parseOutputs,
  parseParams,
  propertyValue,
  readBicepFiles,
  readInfraFile,
  readInfraFiles,
  repoRoot,
} from './bicep-source';

/**
 * Checks on the Bicep text that would otherwise need a deployment to find out: secure defaults,
 * least-privilege role assignments, no secret material, and modules wired to the params and
 * outputs they declare (there is no Bicep compiler here to catch a misspelt name).
 */

const files = readInfraFiles();
const bicepFiles = readBicepFiles();
const main = readInfraFile('main.bicep');

/** The roles the deployment grants, by role definition id: nothing broader may appear. */
const expectedRoles: Record<string, string> = {
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner (host, Durable, deployment package)',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor (Durable task hub)',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor (Durable task hub)',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher (Entra telemetry ingestion)',
  '230815da-be43-4aae-9cb4-875f7bd000aa': 'Cosmos DB Operator (create and delete tenant databases)',
  '00000000-0000-0000-0000-000000000002': 'Cosmos DB Built-in Data Contributor (data plane)',
  '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39': 'Azure Service Bus Data Sender (replication queue)',
  '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0': 'Azure Service Bus Data Receiver (replication queue)',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User (Dataverse client secrets)',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7':
    'Key Vault Secrets Officer (optional, the operator who stores them)',
};

/**
 * Required parameters the parameters file deliberately leaves out: each deployment passes its own
 * (`-p name=value`), so a shared default can never be deployed by mistake.
 */
const givenPerDeployment: Record<string, string> = {
  authAudience: "the API app registration's client id and api://<client id>: a placeholder could never match",
};

describe('infra/ Bicep templates', () => {
  it('has the expected templates', () => {
    expect(bicepFiles.map((f) => f.path).sort()).toEqual(
      [
        'main.bicep',
        'modules/alerts.bicep',
        'modules/cosmos.bicep',
        'modules/function-app.bicep',
        'modules/identity.bicep',
        'modules/key-vault.bicep',
        'modules/monitoring.bicep',
        'modules/service-bus.bicep',
        'modules/storage.bicep',
      ].map((p) => join(p)),
    );
  });

  it('describes every parameter', () => {
    const undescribed = bicepFiles.flatMap((f) =>
      parseParams(f.text)
        .filter((p) => !/@(sys\.)?description\('/.test(p.decorators))
        .map((p) => `${f.path}: ${p.name}`),
    );
    expect(undescribed).toEqual([]);
    expect(parseParams(main).length).toBeGreaterThan(10);
  });

  it('wires each module with params it declares, passing every one it requires', () => {
    const uses = parseModuleUses(main);
    expect(uses.map((u) => u.symbol).sort()).toEqual(
      [
        'alerts',
        'cosmos',
        'functionApp',
        'identity',
        'keyVault',
        'monitoring',
        'serviceBus',
        'storage',
      ].sort(),
    );
    for (const use of uses) {
      expect(existsSync(join(infraDir, use.path))).toBe(true);
      const declared = parseParams(readInfraFile(use.path));
      const names = new Set(declared.map((p) => p.name));
      expect([use.symbol, use.params.filter((p) => !names.has(p))]).toEqual([use.symbol, []]);
      const missing = declared
        .filter((p) => !p.hasDefault && !use.params.includes(p.name))
        .map((p) => p.name);
      expect([use.symbol, missing]).toEqual([use.symbol, []]);
    }
  });

  it('reads only outputs the modules declare', () => {
    const outputsByModule = new Map(
      parseModuleUses(main).map((u) => [u.symbol, new Set(parseOutputs(readInfraFile(u.path)))]),
    );
    const unknown = [...main.matchAll(/\b(\w+)\.outputs\.(\w+)/g)]
      .filter(([, symbol, output]) => !outputsByModule.get(symbol!)?.has(output!))
      .map(([reference]) => reference);
    expect(unknown).toEqual([]);
  });

  it('outputs what the deploy steps use', () => {
    expect(parseOutputs(main)).toEqual(
      expect.arrayContaining([
        'functionAppName',
        'functionAppDefaultHostname',
        'cosmosEndpoint',
        'serviceBusNamespace',
        'keyVaultUri',
        'keyVaultName',
        'managedIdentityClientId',
      ]),
    );
  });

  it('gives the parameters file only declared params and every required one but those of each deployment', () => {
    const parameters = JSON.parse(readInfraFile('main.parameters.json')) as {
      parameters: Record<string, unknown>;
    };
    const declared = parseParams(main);
    const given = Object.keys(parameters.parameters);
    expect(given.filter((name) => !declared.some((p) => p.name === name))).toEqual([]);
    const missing = declared.filter((p) => !p.hasDefault && !given.includes(p.name)).map((p) => p.name);
    expect(missing).toEqual(Object.keys(givenPerDeployment));
    // Those the deployment must pass itself may not be left empty either.
    for (const name of Object.keys(givenPerDeployment)) {
      expect(declared.find((p) => p.name === name)?.decorators).toMatch(/@minLength\(1\)/);
    }
  });
});

describe('Node.js version', () => {
  const defaultOf = (text: string, name: string) =>
    new RegExp(`^param ${name} string = '([^']*)'$`, 'm').exec(text)?.[1];

  it('defaults to Node.js 22 in the templates and the parameters file, with 20 still allowed', () => {
    const functionApp = readInfraFile('modules/function-app.bicep');
    expect(defaultOf(main, 'nodeVersion')).toBe('22');
    expect(defaultOf(functionApp, 'nodeVersion')).toBe('22');
    const parameters = JSON.parse(readInfraFile('main.parameters.json')) as {
      parameters: Record<string, { value: unknown }>;
    };
    expect(parameters.parameters.nodeVersion?.value).toBe('22');
    for (const text of [main, functionApp]) {
      const decorators = parseParams(text).find((p) => p.name === 'nodeVersion')?.decorators ?? '';
      expect(decorators).toMatch(/'20'/);
      expect(decorators).toMatch(/'22'/);
    }
  });

  it('keeps Node.js 20 working for the package and the SDK (engines >=20)', () => {
    for (const path of ['package.json', 'client/package.json']) {
      const pkg = JSON.parse(readFileSync(join(repoRoot, path), 'utf8')) as { engines?: { node?: string } };
      expect([path, pkg.engines?.node]).toEqual([path, '>=20']);
    }
  });

  it('is what the README and the deploy guide name', () => {
    for (const path of ['README.md', 'docs/deploy-to-azure.md']) {
      const lines = readFileSync(join(repoRoot, path), 'utf8').split('\n');
      expect([path, lines.some((l) => /Node\.js 22/.test(l))]).toEqual([path, true]);
      // Node.js 20 only as what still works.
      expect([path, lines.filter((l) => /Node\.js 20(?! still works)/.test(l))]).toEqual([path, []]);
    }
  });
});

describe('Cosmos DB control database', () => {
  it('has the containers the Cosmos store lays out, since the app does not create them where the database exists', () => {
    const cosmos = readInfraFile('modules/cosmos.bicep');
    const declared = /^var controlContainers = \[\n([\s\S]*?)\n\]$/m.exec(cosmos)?.[1] ?? '';
    const containers = [...declared.matchAll(/id: '([^']+)'\s*\n\s*partitionKeyPath: '([^']+)'/g)].map(
      ([, id, partitionKeyPath]) => ({ id, partitionKeyPath }),
    );
    expect(containers).toEqual(
      CONTROL_CONTAINERS.map(({ id, partitionKeyPath }) => ({ id, partitionKeyPath })),
    );
    // Bicep sets no default TTL on control containers; a layout that needs one must add it there.
    expect(CONTROL_CONTAINERS.filter((c) => c.defaultTtl !== undefined)).toEqual([]);
    expect(cosmos).toMatch(/\[for container in controlContainers:/);
  });
});

describe('role assignments', () => {
  const assignments = findRoleAssignments(bicepFiles);

  it('exist for every grant the app needs', () => {
    expect(assignments.length).toBeGreaterThanOrEqual(10);
  });

  it.each(assignments.map((a) => [`${a.file} ${a.symbol}`, a] as const))(
    '%s is named guid(scope, principal, role) after what it grants',
    (_, assignment) => {
      const args = callArguments(propertyValue(assignment.body, 'name') ?? '', 'guid');
      expect(args).toHaveLength(3);
      const [scopeId, principal, role] = args!;
      expect(propertyValue(assignment.body, 'principalId')).toBe(principal);
      expect(propertyValue(assignment.body, 'roleDefinitionId')).toBe(role);
      if (assignment.type.includes('sqlRoleAssignments')) {
        // A Cosmos SQL role assignment names its scope as a property and lives under its account.
        expect(propertyValue(assignment.body, 'scope')).toBe(scopeId);
        expect(`${propertyValue(assignment.body, 'parent')}.id`).toBe(scopeId);
      } else {
        expect(`${propertyValue(assignment.body, 'scope')}.id`).toBe(scopeId);
        expect(propertyValue(assignment.body, 'principalType')).toBeDefined();
      }
    },
  );

  it('grant exactly the expected roles, each once', () => {
    const text = bicepFiles.map((f) => f.text).join('\n');
    const granted = [
      ...[...text.matchAll(/roleDefinitions',\s*'([0-9a-f-]{36})'/g)].map((m) => m[1]!),
      ...[...text.matchAll(/sqlRoleDefinitions\/([0-9a-f-]{36})/g)].map((m) => m[1]!),
    ];
    expect([...granted].sort()).toEqual(Object.keys(expectedRoles).sort());
  });

  it('scope the Service Bus roles to the queue and the Key Vault roles to the vault', () => {
    const scopeOf = (symbol: string) =>
      propertyValue(assignments.find((a) => a.symbol === symbol)!.body, 'scope');
    expect(scopeOf('dataSender')).toBe('queue');
    expect(scopeOf('dataReceiver')).toBe('queue');
    expect(scopeOf('secretsUser')).toBe('vault');
    expect(scopeOf('metricsPublisher')).toBe('appInsights');
    expect(scopeOf('cosmosOperator')).toBe('account');
  });
});

describe('secure defaults', () => {
  const template = (path: string) => readInfraFile(path);

  it('turns off keys and local authentication everywhere', () => {
    expect(template('modules/storage.bicep')).toMatch(/^\s*allowSharedKeyAccess: false$/m);
    expect(template('modules/cosmos.bicep')).toMatch(/^\s*disableLocalAuth: true$/m);
    expect(template('modules/service-bus.bicep')).toMatch(/^\s*disableLocalAuth: true$/m);
    expect(template('modules/monitoring.bicep')).toMatch(/^\s*DisableLocalAuth: true$/m);
    expect(template('modules/key-vault.bicep')).toMatch(/^\s*enableRbacAuthorization: true$/m);
  });

  it('runs the Function App on Flex Consumption as the user-assigned identity', () => {
    const functionApp = template('modules/function-app.bicep');
    expect(functionApp).toMatch(/name: 'FC1'/);
    expect(functionApp).toMatch(/type: 'UserAssigned'\n/);
    expect(functionApp).toMatch(
      /type: 'UserAssignedIdentity'\n\s*userAssignedIdentityResourceId: identityId/,
    );
    expect(functionApp).toMatch(/name: 'node'/);
    expect(functionApp).toMatch(/httpsOnly: true/);
  });

  it('dead-letters replication messages on expiry and after repeated failure', () => {
    const serviceBus = template('modules/service-bus.bicep');
    expect(serviceBus).toMatch(/deadLetteringOnMessageExpiration: true/);
    expect(serviceBus).toMatch(/maxDeliveryCount: maxDeliveryCount/);
    expect(serviceBus).toMatch(/lockDuration: lockDuration/);
  });

  it('turns duplicate detection on, with a 10-minute window by default', () => {
    const serviceBus = template('modules/service-bus.bicep');
    expect(serviceBus).toMatch(/requiresDuplicateDetection: true/);
    expect(serviceBus).toMatch(/duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow/);
    expect(serviceBus).toMatch(/param duplicateDetectionWindow string = 'PT10M'/);
  });
});

describe('no secret material in infra/', () => {
  const forbidden: [string, RegExp][] = [
    ['listKeys', /listKeys/i],
    ['listConnectionStrings', /listConnectionStrings/i],
    ['account or service SAS', /list(Account|Service)Sas/i],
    ['AccountKey=', /AccountKey\s*=/i],
    ['SharedAccessKey', /SharedAccessKey/i],
    ['SharedAccessSignature', /SharedAccessSignature/i],
    ['SAS', /\bSAS\b/i],
    ['SAS signature', /[?&]sig=/i],
    ['authorization rules', /authorizationRules/i],
    ['account keys', /(primary|secondary|master)(Master)?Key/i],
    ['COSMOS_KEY', /COSMOS_KEY/],
    ['@secure() parameter', /@secure\(\)/],
  ];

  it.each(files.map((f) => [f.path, f.text] as const))(
    '%s holds no key, SAS or shared access rule',
    (_, text) => {
      expect(forbidden.filter(([, pattern]) => pattern.test(text)).map(([name]) => name)).toEqual([]);
    },
  );

  it.each(files.map((f) => [f.path, f.text] as const))(
    '%s mentions a connection string only for Application Insights',
    (_, text) => {
      const lines = text.split('\n').filter((l) => /connection.?string/i.test(l));
      expect(lines.filter((l) => !/appInsights|APPLICATIONINSIGHTS_CONNECTION_STRING/.test(l))).toEqual([]);
    },
  );
});
