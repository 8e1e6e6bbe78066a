import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOpenApiDocument, errorCodesOf } from '../../../functions/http/openapi';
import { parameterExamples, requestExamples } from '../../../functions/http/openapi-examples';
import { routes } from '../../../functions/routes';
import { createRouteMatcher } from '../../../local/route-matcher';
import { statusByCode } from '../../../shared/errors';
import { createContractChecker, pointer, type OpenApiDocument } from '../../support/openapi-contract';

const root = join(__dirname, '../../..');
const document = buildOpenApiDocument(routes) as OpenApiDocument & {
  servers: unknown[];
  tags: { name: string }[];
  paths: Record<string, Record<string, { tags: string[]; security: unknown[] }>>;
};
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
);
const operationOf = (name: string) => {
  const found = operations.find((o) => o.operation.operationId === name);
  if (!found) throw new Error(`no operation ${name}`);
  return found.operation;
};
const statusesOf = (name: string) => Object.keys(operationOf(name).responses);
/** The error codes a status of an operation may carry, read from its response's schema. */
const codesAt = (name: string, status: number): string[] => {
  const ref = operationOf(name).responses[String(status)] as { $ref: string };
  const response = document.components.responses[ref.$ref.replace('#/components/responses/', '')]!;
  const schema = response.content!['application/json']!.schema as {
    properties: { error: { properties: { code: { enum: string[] } } } };
  };
  return schema.properties.error.properties.code.enum;
};

interface ValidationReport {
  swaggerParser: { valid: boolean; error?: string };
  redocly: { ruleId: string; severity: 'error' | 'warn'; message: string; pointer?: string }[];
}

/** Both third-party validators' verdicts (ES modules: run by test/support/validate-openapi.mjs). */
const report = (): ValidationReport =>
  JSON.parse(
    execFileSync(process.execPath, [join(root, 'test/support/validate-openapi.mjs')], {
      input: JSON.stringify(document),
      encoding: 'utf8',
    }),
  ) as ValidationReport;

describe('the OpenAPI document', () => {
  it("is valid for swagger-parser and has no error in redocly's recommended lint (reviewed warnings only)", () => {
    const { swaggerParser, redocly: problems } = report();
    expect(swaggerParser).toEqual({ valid: true });
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    // Reviewed: SPEC §10 fixes both `admin/tenants/{org}` and `admin/{org}/…`; routing takes the
    // literal `tenants` first. Health, the document, its viewer and the admin page's sign-in
    // configuration answer no 4xx.
    const unexplained = problems.filter(
      (p) =>
        !(
          p.ruleId === 'no-ambiguous-paths' &&
          p.message.includes('`/api/admin/tenants/{org}` and `/api/admin/{org}/')
        ) &&
        !(
          p.ruleId === 'operation-4xx-response' &&
          ['/api/health', '/api/openapi.json', '/api/docs', '/api/console/config'].some((path) =>
            p.pointer?.startsWith(`#/paths/${path.replace(/\//g, '~1')}/`),
          )
        ),
    );
    expect(unexplained).toEqual([]);
  });

  it('describes every route of the table once, tagged with a declared area, with servers', () => {
    expect(operations.map((o) => o.operation.operationId).sort()).toEqual(routes.map((r) => r.name).sort());
    for (const route of routes) {
      expect(document.paths[`/${route.route}`]?.[route.method.toLowerCase()]?.operationId).toBe(route.name);
    }
    const tagNames = document.tags.map((t) => t.name);
    for (const { operation } of operations) {
      expect(operation.tags).toHaveLength(1);
      expect(tagNames).toContain(operation.tags[0]);
    }
    expect(new Set(operations.map((o) => o.operation.tags[0])).size).toBeGreaterThanOrEqual(10);
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it('lists the success statuses each route answers', () => {
    expect(statusesOf('tenantRegister')).toEqual(expect.arrayContaining(['200', '201']));
    expect(statusesOf('appPut')).toEqual(expect.arrayContaining(['200', '201']));
    expect(statusesOf('profileCreate')).toContain('201');
    expect(statusesOf('profileCreate')).not.toContain('200');
    expect(statusesOf('ingestKeyRotate')).toContain('201');
    for (const name of ['ingestChanges', 'ingestDataverse', 'provisioningAction']) {
      expect(statusesOf(name)).toContain('202');
      expect(statusesOf(name)).not.toContain('200');
    }
    expect(statusesOf('profileDelete')).toContain('204');
    expect(operationOf('profileDelete').responses['204']).not.toHaveProperty('content');
  });

  it('lists the error statuses of each route with the codes of the error table it answers', () => {
    // Derived from the declaration: auth, input, tenant, active tenant.
    expect(statusesOf('health')).not.toContain('401');
    expect(codesAt('tenantList', 401)).toEqual(['Unauthorized']);
    expect(codesAt('tenantRegister', 400)).toEqual(['BadRequest', 'ValidationFailed']);
    expect(statusesOf('tenantRegister')).toContain('413');
    expect(statusesOf('tenantRegister')).not.toContain('404');
    expect(codesAt('settingsGet', 404)).toEqual(['TenantNotFound']);
    expect(codesAt('syncDownload', 503)).toEqual(['TenantNotProvisioned', 'Unavailable']);
    // Declared next to the route.
    expect(codesAt('profileReplace', 409)).toEqual(['Conflict', 'UserInAnotherProfile']);
    expect(statusesOf('profileReplace')).toContain('412');
    expect(codesAt('profilePublish', 422)).toEqual(['ProfileInvalid']);
    expect(codesAt('syncDownload', 422)).toEqual(['ProfileInvalid', 'RowLimitExceeded']);
    expect(codesAt('syncMetadata', 403)).toEqual(['Forbidden', 'PrivilegeDenied', 'NoProfile']);
    expect(codesAt('provisioningAction', 409)).toEqual(['Conflict']);

    for (const route of routes) {
      const codes = errorCodesOf(route);
      for (const status of new Set(codes.map((c) => statusByCode[c]))) {
        expect([...codesAt(route.name, status)].sort()).toEqual(
          codes.filter((c) => statusByCode[c] === status).sort(),
        );
      }
    }
  });

  it('resolves the recursive filter schema from components (not from a $defs the document lacks)', () => {
    const text = JSON.stringify(document);
    expect(text).not.toContain('#/$defs/');
    expect(document.components.schemas).toHaveProperty('FilterTree');
    expect(document.components.schemas).toHaveProperty('FilterTreeInput');
    expect(JSON.stringify(operationOf('profileReplace').requestBody)).toContain(
      '#/components/schemas/FilterTreeInput',
    );
  });

  it("carries examples that its schemas accept, taken from the README's worked example", () => {
    const { validatorAt } = createContractChecker(document);
    const pathOf = (name: string) => operations.find((o) => o.operation.operationId === name)!;
    for (const [name, example] of Object.entries(requestExamples)) {
      const route = routes.find((r) => r.name === name)!;
      expect(route.body?.safeParse(example.value).success).toBe(true);
      const media = operationOf(name).requestBody!.content['application/json']!;
      expect(media.examples).toEqual({ [name]: example });
      const { path, method } = pathOf(name);
      const validate = validatorAt(
        pointer('paths', path, method, 'requestBody', 'content', 'application/json', 'schema'),
      );
      expect({ name, valid: validate(example.value), errors: validate.errors }).toMatchObject({
        valid: true,
      });
    }
    for (const { path, method, operation } of operations) {
      operation.parameters.forEach((parameter, index) => {
        const example = (parameter as { example?: string }).example;
        if (example === undefined) return;
        expect(example).toBe(parameterExamples[parameter.name]);
        const validate = validatorAt(pointer('paths', path, method, 'parameters', String(index), 'schema'));
        expect({ parameter: parameter.name, valid: validate(example) }).toEqual({
          parameter: parameter.name,
          valid: true,
        });
      });
    }

    // Every body the README's worked example sends is its route's example, and the reverse.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('### Worked example'),
      readme.indexOf('## Build a device app'),
    );
    const match = createRouteMatcher(routes);
    const sent = [...section.matchAll(/curl -X (\w+) \$URL(\/api\/\S+)(?:(?!curl )[\s\S])*?-d '([^']*)'/g)];
    expect(sent.length).toBeGreaterThanOrEqual(8);
    const fromReadme = new Map<string, unknown>();
    for (const [, method, path, body] of sent) {
      const found = match(method!, path!);
      if (found.kind !== 'found') throw new Error(`README: no route ${method} ${path}`);
      fromReadme.set(found.route.name, JSON.parse(body!));
    }
    for (const [name, body] of fromReadme)
      expect({ name, value: requestExamples[name]?.value }).toEqual({ name, value: body });
    const workedExample = Object.keys(requestExamples).filter((name) => name !== 'syncDownload');
    expect(workedExample.sort()).toEqual([...fromReadme.keys()].sort());
  });

  it('is what GET /api/openapi.json serves', async () => {
    const route = routes.find((r) => r.name === 'openApi')!;
    const served = await route.handler({
      params: {},
      query: undefined,
      body: undefined,
      principal: undefined,
      services: {} as never,
      headers: new Headers(),
      traceId: 't',
      log: () => undefined,
    });
    expect(JSON.parse(JSON.stringify(served.body))).toEqual(JSON.parse(JSON.stringify(document)));
  });

  it('describes error answers of the error table only under their own status', () => {
    for (const [name, response] of Object.entries(document.components.responses)) {
      const codes = (
        response.content!['application/json']!.schema as {
          properties: { error: { properties: { code: { enum: (keyof typeof statusByCode)[] } } } };
        }
      ).properties.error.properties.code.enum;
      expect({ name, statuses: [...new Set(codes.map((c) => statusByCode[c]))] }).toEqual({
        name,
        statuses: [statusByCode[codes[0]!]],
      });
    }
  });
});
