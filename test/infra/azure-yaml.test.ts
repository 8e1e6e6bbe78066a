import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseParams, readInfraFile, repoRoot } from './bicep-source';

type YamlMap = { [key: string]: YamlValue };
type YamlValue = string | boolean | YamlMap;

/**
 * Reads the YAML that azure.yaml uses: nested maps of `key: value` (plain scalars, true/false),
 * two-space indents, `#` comments. Anything else (lists, anchors, quoting, flow style) throws, so a
 * check cannot pass by not seeing a setting.
 */
function readYamlMaps(text: string): YamlMap {
  const root: YamlMap = {};
  const stack: Array<{ indent: number; map: YamlMap }> = [{ indent: -1, map: root }];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trimEnd();
    if (line.trim() === '') return;
    const match = /^( *)([A-Za-z][\w.-]*):(?: (.*))?$/.exec(line);
    if (!match) throw new Error(`azure.yaml line ${index + 1} is not "key: value": ${raw}`);
    const indent = match[1]!.length;
    if (indent % 2 !== 0) throw new Error(`azure.yaml line ${index + 1}: odd indent`);
    while (stack.at(-1)!.indent >= indent) stack.pop();
    const parent = stack.at(-1)!;
    if (indent !== parent.indent + 2 && !(parent.indent === -1 && indent === 0))
      throw new Error(`azure.yaml line ${index + 1}: unexpected indent`);
    const [key, value] = [match[2]!, match[3]?.trim()];
    if (key in parent.map) throw new Error(`azure.yaml line ${index + 1}: duplicate key ${key}`);
    if (value === undefined || value === '') {
      const map: YamlMap = {};
      parent.map[key] = map;
      stack.push({ indent, map });
    } else {
      if (/^[[{&*!|>'"-]/.test(value))
        throw new Error(`azure.yaml line ${index + 1}: unsupported value ${value}`);
      parent.map[key] = value === 'true' ? true : value === 'false' ? false : value;
    }
  });
  return root;
}

const azureYaml = readYamlMaps(readFileSync(join(repoRoot, 'azure.yaml'), 'utf8'));
const asMap = (value: YamlValue | undefined): YamlMap => {
  if (typeof value !== 'object') throw new Error(`expected a map, got ${String(value)}`);
  return value;
};
const asString = (value: YamlValue | undefined): string => {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${JSON.stringify(value)}`);
  return value;
};
/** Environment values azd provides itself, which main.parameters.json may reference. */
const AZD_PROVIDED = [
  'AZURE_ENV_NAME',
  'AZURE_LOCATION',
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_PRINCIPAL_ID',
  'AZURE_RESOURCE_GROUP',
];

describe('azure.yaml (azd up)', () => {
  const infra = asMap(azureYaml.infra);
  const services = asMap(azureYaml.services);
  const infraPath = join(repoRoot, asString(infra.path));
  const module = asString(infra.module ?? 'main');

  it('names the project', () => {
    expect(azureYaml.name).toMatch(/^[a-z][a-z0-9-]+$/);
  });

  it('provisions the Bicep template in infra/, with its parameters file', () => {
    expect(infra.provider).toBe('bicep');
    expect(existsSync(join(infraPath, `${module}.bicep`))).toBe(true);
    expect(existsSync(join(infraPath, `${module}.parameters.json`))).toBe(true);
    expect(join(infraPath, `${module}.bicep`)).toBe(join(repoRoot, 'infra', 'main.bicep'));
  });

  it('deploys one service, the TypeScript Functions app at the root, built remotely', () => {
    expect(Object.keys(services)).toEqual(['api']);
    const api = asMap(services.api);
    expect(api).toEqual({ project: '.', language: 'ts', host: 'function', remoteBuild: true });
    const project = join(repoRoot, asString(api.project));
    expect(existsSync(join(project, 'host.json'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      main: string;
      scripts: Record<string, string>;
    };
    // azd (and the remote build) run `npm run build`; the Functions host loads `main`.
    expect(pkg.scripts.build).toBeDefined();
    expect(pkg.main).toBe('dist/functions/index.js');
    expect(existsSync(join(project, 'functions', 'index.ts'))).toBe(true);
  });

  it('finds the Function App by its azd-service-name tag, which only the app carries', () => {
    const functionApp = readInfraFile('modules/function-app.bicep');
    const main = readInfraFile('main.bicep');
    expect(functionApp).toMatch(/^ {2}tags: union\(tags, \{ 'azd-service-name': azdServiceName \}\)$/m);
    const plan = functionApp.slice(
      functionApp.indexOf('resource plan '),
      functionApp.indexOf('resource site '),
    );
    expect(plan).toMatch(/^ {2}tags: tags$/m);
    expect(main).toMatch(/^ {4}azdServiceName: 'api'$/m);
    expect(Object.keys(services)).toContain('api');
  });

  it('gives azd a parameters file it can read as is: declared params, azd-provided variables only', () => {
    const parameters = JSON.parse(readInfraFile(`${module}.parameters.json`)) as {
      parameters: Record<string, { value: unknown }>;
    };
    const declared = parseParams(readInfraFile(`${module}.bicep`));
    for (const [name, { value }] of Object.entries(parameters.parameters)) {
      expect([name, declared.some((p) => p.name === name)]).toEqual([name, true]);
      const variables = [...JSON.stringify(value).matchAll(/\$\{(\w+)/g)].map((m) => m[1]!);
      expect([name, variables.filter((v) => !AZD_PROVIDED.includes(v))]).toEqual([name, []]);
    }
    // What the file leaves out and the template requires, azd asks for at the first `azd up`.
    const prompted = declared
      .filter((p) => !p.hasDefault && !(p.name in parameters.parameters))
      .map((p) => p.name);
    expect(prompted).toEqual(['authAudience']);
  });

  it('packages the sources the remote build compiles, without local binaries, tests or data', () => {
    const ignored = readFileSync(join(repoRoot, '.funcignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignored).toEqual(
      expect.arrayContaining(['node_modules', '.azure', '.data', 'test', 'local.settings.json']),
    );
    for (const kept of [
      'dist',
      'functions',
      'shared',
      'local',
      'client',
      'bench',
      'tooling',
      'scripts',
      'host.json',
      'package.json',
    ])
      expect([kept, ignored.some((pattern) => pattern === kept || pattern === `${kept}/`)]).toEqual([
        kept,
        false,
      ]);
    for (const kept of ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'])
      expect([
        kept,
        ignored.some((pattern) =>
          new RegExp(`^${pattern.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`).test(kept),
        ),
      ]).toEqual([kept, false]);
  });

  it('is how docs/deploy-to-azure.md deploys, naming each parameter azd asks for', () => {
    const guide = readFileSync(join(repoRoot, 'docs', 'deploy-to-azure.md'), 'utf8');
    expect(guide).toMatch(/azd up/);
    expect(guide).toMatch(/azd-service-name/);
    expect(guide).toMatch(/`authAudience`[^\n]*required/);
  });
});
