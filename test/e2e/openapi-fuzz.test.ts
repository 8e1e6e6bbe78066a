import { request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import fc from 'fast-check';
import { SignJWT, exportJWK } from 'jose';
import { handleRequest } from '../../functions/http/handle-request';
import type { RouteDefinition } from '../../functions/http/route-definition';
import { routes } from '../../functions/routes';
import { DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { loadDirectory } from '../../shared/admin/directory-store';
import { listProfiles } from '../../shared/admin/profile-service';
import { listSyncErrors } from '../../shared/sync/sync-errors/sync-error-log';
import { VIEWER_ASSETS } from '../../functions/http/routes/api-viewer-routes';
import { loadOrCreateLocalSigningKey } from '../../shared/auth/local-signing-key';
import { ADMIN_ROLE, INGEST_ROLE } from '../../shared/auth/principal';
import { statusByCode, type ErrorCode } from '../../shared/errors';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';
import { contractChecker, type OpenApiOperation } from '../support/openapi-contract';
import { schemaArbitrary } from '../support/schema-arbitrary';

/**
 * Property: whatever a client sends to any route of the OpenAPI document (bodies, queries, path
 * params, headers; no token, garbage, forged, expired, another tenant's and valid ones), the answer
 * is never a 5xx (503 TenantNotProvisioned excepted: a documented state, not a failure), every
 * non-2xx is the error envelope `{ error: { code, message, details?, traceId } }` with the status of
 * its code, and every answer is one the document describes (status listed, body matching its
 * schema). Requests go through the HTTP adapter in-process (as both hosts call it) over a running
 * local host's runtime (demo tenant `contoso`, active); then a shorter run sends raw HTTP to the
 * local host itself (methods, paths, Host headers, bodies).
 *
 * Budget: `FUZZ_RUNS` runs per route (default 100) and `FUZZ_HTTP_RUNS` raw requests (default 500);
 * `FUZZ_SEED` replays a run (fast-check prints the seed and the shrunk input of a failure).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const HTTP_RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 500);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** One fuzzed request to a route. */
interface FuzzInput {
  params: Record<string, string>;
  query: Record<string, string>;
  token: string | undefined;
  headers: Record<string, string>;
  body: { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };
}

interface FuzzAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/** Routes whose fuzzing changes what later routes see run last, the most sweeping at the end. */
const lastRoutes = [
  'appPut',
  'settingsUpdate',
  'configurationImport',
  'profileReplace',
  'profileUsersChange',
  'profileDelete',
  'directoryReplace',
  'tenantRegister',
  'provisioningAction',
];
const order = (route: RouteDefinition): number => lastRoutes.indexOf(route.name);

describe('fuzz: every route of the OpenAPI document answers within its contract', () => {
  let f: HostFixture;
  let tokens: { valid: string[]; invalid: string[] };
  let users: string[];
  let knownStrings: string[];
  const contract = contractChecker();
  const document = contract.document;

  beforeAll(async () => {
    f = await startHostFixture();
    const directory = await loadDirectory(f.host.runtime.services.store.tenant(DEMO_ORG));
    const alice = directory.users.find((u) => u.userName === 'alice')!;
    const dave = directory.users.find((u) => u.userName === 'dave')!;
    const key = await loadOrCreateLocalSigningKey(f.dataDir);
    const publicJwk = await exportJWK(key.publicKey);
    const claims = { oid: alice.entraObjectId, tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] };
    tokens = {
      // alice is a directory user and an admin: admin and device routes alike.
      valid: [
        await f.token(claims),
        await f.token(claims),
        await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID }),
        await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID, roles: [INGEST_ROLE] }),
        await f.operatorToken(),
      ],
      invalid: [
        await f.token({ ...claims, tid: '0b6f1f0e-8a53-4d3b-9c1e-5f7a2b3c4d5e' }),
        // Signed with the local public key as an HMAC secret (the algorithm-confusion forgery).
        await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid: key.kid })
          .setIssuer('urn:offline-sync:local')
          .setAudience('api://offline-sync')
          .setExpirationTime('1h')
          .sign(Buffer.from(JSON.stringify(publicJwk))),
        // alg none, and an expired one with a signature of the right length.
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
        `${b64({ alg: 'ES256', kid: key.kid })}.${b64({ ...claims, exp: 1 })}.${'A'.repeat(86)}`,
      ],
    };
    users = [alice.id, dave.id];
    knownStrings = [
      DEMO_ORG,
      'acme',
      'account',
      'contact',
      'systemuser',
      'field-sales',
      'field-sellers',
      'sales-managers',
      alice.id,
      dave.id,
      alice.entraObjectId,
      'provision',
      'tables',
    ];
  });
  afterAll(() => f.close());

  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

  function operationOf(route: RouteDefinition): OpenApiOperation {
    return document.paths[`/${route.route}`]![route.method.toLowerCase()]!;
  }

  const resolve = (ref: string) =>
    document.components.schemas[ref.replace('#/components/schemas/', '')] as never;

  /** Replaces one node of a JSON value (picked by a path of random choices) with another value. */
  function mutate(value: unknown, path: number[], replacement: unknown): unknown {
    if (path.length === 0 || value === null || typeof value !== 'object' || isDeepMark(value))
      return replacement;
    const [step, ...rest] = path as [number, ...number[]];
    if (Array.isArray(value)) {
      if (value.length === 0) return [replacement];
      const i = step % value.length;
      return (value as unknown[]).map((v, j) => (j === i ? mutate(v, rest, replacement) : v));
    }
    const keys = Object.keys(value);
    if (keys.length === 0) return { [String(step)]: replacement };
    const k = keys[step % keys.length]!;
    return { ...value, [k]: mutate((value as Record<string, unknown>)[k], rest, replacement) };
  }

  /** Parameter values the demo tenant really has, tried most of the time (else requests stop at 404). */
  async function preferredValues(): Promise<Record<string, string[]>> {
    const store = f.host.runtime.services.store.tenant(DEMO_ORG);
    const profiles = await listProfiles(store).catch(() => []);
    const errors = await listSyncErrors(store, { limit: 20 }).catch(() => []);
    return {
      org: [DEMO_ORG],
      entity: ['account', 'contact', 'opportunity'],
      id: profiles.length > 0 ? profiles.map((p) => p.id) : ['field-sellers'],
      appId: ['field-sales'],
      app: ['field-sales'],
      deviceId: ['fuzz-device-1', 'fuzz-device-2'],
      user: users,
      errorId:
        errors.length > 0
          ? errors.map((e) => e.id)
          : ['000000000000001-0f8fad5b-d9cb-469f-a165-70867728950e'],
      asset: VIEWER_ASSETS,
    };
  }

  /** Values that break naive code: deep nesting (up to 6,000 levels), extremes, control and bidi characters. */
  const oddValue: fc.Arbitrary<unknown> = fc.oneof(
    fc.integer({ min: 1, max: 6000 }).map((depth) => ({ [DEEP]: depth })),
    fc.constantFrom(null, -1, 1e308, -0, '', [], {}, '\u0000', '\u202e', '\ud800', 'x'.repeat(70_000)),
  );

  function inputArbitrary(
    route: RouteDefinition,
    preferred: Record<string, string[]>,
  ): fc.Arbitrary<FuzzInput> {
    const operation = operationOf(route);
    const schemaOf = (schema: unknown) =>
      schemaArbitrary(schema as never, { resolve, knownStrings, preferred, freeForm: oddValue, maxDepth: 4 });
    const anyString = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40, unit: 'binary' }));
    // What an HTTP client can put in a header: visible ASCII and spaces.
    const headerValue = fc.string({ maxLength: 60, unit: 'grapheme-ascii' });

    const params: Record<string, fc.Arbitrary<string>> = {};
    const query: Record<string, fc.Arbitrary<string | undefined>> = {};
    for (const p of operation.parameters) {
      const valid = schemaOf(p.schema).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
      const real = preferred[p.name] ?? [];
      const value = fc.oneof(
        { weight: real.length > 0 ? 6 : 0, arbitrary: real.length > 0 ? fc.constantFrom(...real) : valid },
        { weight: 3, arbitrary: valid },
        { weight: 1, arbitrary: anyString },
      );
      if (p.in === 'path') params[p.name] = value;
      else query[p.name] = fc.option(value, { nil: undefined, freq: 4 });
    }
    const bodySchema = operation.requestBody?.content['application/json']?.schema;
    const validBody = bodySchema === undefined ? fc.jsonValue({ maxDepth: 3 }) : schemaOf(bodySchema);
    const replacement = fc.oneof(fc.jsonValue({ maxDepth: 3 }), anyString, oddValue);
    const body = fc.oneof(
      { weight: 4, arbitrary: validBody.map((value) => ({ kind: 'json' as const, value })) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(validBody, fc.array(fc.nat(), { maxLength: 6 }), replacement)
          .map(([value, path, r]) => ({ kind: 'json' as const, value: mutate(value, path, r) })),
      },
      { weight: 1, arbitrary: fc.jsonValue().map((value) => ({ kind: 'json' as const, value })) },
      { weight: 1, arbitrary: anyString.map((text) => ({ kind: 'raw' as const, text })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
    );
    // Each header now and then (a wrong content-length at most one request in ten).
    const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number) =>
      fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
    const headers = fc
      .record({
        'if-match': sometimes(fc.oneof(headerValue, fc.constant('*')), 3),
        'x-ingest-key': sometimes(headerValue, 4),
        'accept-encoding': sometimes(
          fc.constantFrom('br', 'gzip', 'br;q=0, gzip;q=0', '*', 'identity', 'x;q=abc'),
          2,
        ),
        'content-length': sometimes(fc.oneof(fc.nat().map(String), headerValue), 10),
      })
      .map(
        (h) =>
          Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>,
      );
    const token = fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...tokens.valid) },
      { weight: 3, arbitrary: fc.constantFrom(...tokens.invalid) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: headerValue },
    );
    return fc.record({
      params: fc.record(params),
      query: fc
        .tuple(fc.record(query), fc.dictionary(fc.string({ maxLength: 10 }), anyString, { maxKeys: 2 }))
        .map(([declared, extra]) => {
          const out: Record<string, string> = { ...extra };
          for (const [k, v] of Object.entries(declared)) if (v !== undefined) out[k] = v;
          return out;
        }),
      token,
      headers,
      body,
    });
  }

  async function call(route: RouteDefinition, input: FuzzInput): Promise<FuzzAnswer> {
    const path = route.route.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(input.params[name] ?? ''),
    );
    const search = new URLSearchParams(input.query).toString();
    const headers: Record<string, string> = { ...input.headers };
    if (input.token !== undefined) headers.authorization = `Bearer ${input.token}`;
    let text: string | undefined;
    // GET requests carry no body (the Functions host and undici drop it).
    if (route.method !== 'GET' && input.body.kind === 'json') text = stringify(input.body.value);
    if (route.method !== 'GET' && input.body.kind === 'raw') text = input.body.text;
    if (text !== undefined) headers['content-type'] = 'application/json';
    const request = new HttpRequest({
      method: route.method,
      url: `http://127.0.0.1/${path}${search ? `?${search}` : ''}`,
      params: input.params,
      query: input.query,
      headers,
      ...(text === undefined ? {} : { body: { string: text } }),
    });
    const init = await handleRequest(
      route,
      request,
      new InvocationContext({ invocationId: `fuzz-${route.name}`, logHandler: () => undefined }),
      f.host.runtime,
    );
    return read(init);
  }

  function read(init: HttpResponseInit): FuzzAnswer {
    const headers = new Headers(init.headers);
    let bytes =
      init.body === undefined || init.body === null
        ? Buffer.alloc(0)
        : typeof init.body === 'string'
          ? Buffer.from(init.body)
          : Buffer.from(init.body as Uint8Array);
    if (headers.get('content-encoding') === 'br') bytes = brotliDecompressSync(bytes);
    if (headers.get('content-encoding') === 'gzip') bytes = gunzipSync(bytes);
    return { status: init.status ?? 200, headers, text: bytes.toString('utf8') };
  }

  /** What is wrong with an answer (undefined: nothing). */
  function judge(
    route: RouteDefinition,
    answer: FuzzAnswer,
    options: { traceId: boolean },
  ): string | undefined {
    let body: unknown;
    if (answer.status >= 300) {
      try {
        body = JSON.parse(answer.text);
      } catch {
        return `${answer.status} whose body is not JSON: ${answer.text.slice(0, 200)}`;
      }
      const problem = envelopeProblem(body, answer.status, options);
      if (problem) return `${answer.status}: ${problem}: ${answer.text.slice(0, 300)}`;
      const code = (body as { error: { code: ErrorCode } }).error.code;
      if (answer.status >= 500 && !(answer.status === 503 && code === 'TenantNotProvisioned')) {
        return `${answer.status} ${code}: ${answer.text.slice(0, 300)}`;
      }
    }
    return contract.checkOperation(route, {
      status: answer.status,
      contentType: answer.headers.get('content-type'),
      text: answer.text,
    });
  }

  /** With FUZZ_DEBUG: the answers each route gave, by status and code (how deep the inputs reach). */
  const statistics: Record<string, Record<string, number>> = {};
  afterAll(() => {
    if (process.env.FUZZ_DEBUG) process.stderr.write(`${JSON.stringify(statistics, null, 1)}\n`);
  });

  it('in-process, through the HTTP adapter, for every route', async () => {
    const only = process.env.FUZZ_ROUTES?.split(',');
    const ordered = [...routes]
      .filter((r) => only === undefined || only.includes(r.name))
      .sort((a, b) => order(a) - order(b));
    for (const route of ordered) {
      if (process.env.FUZZ_DEBUG)
        process.stderr.write(
          `fuzz ${route.name} ${new Date().toISOString()} heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB\n`,
        );
      const preferred = await preferredValues();
      await fc.assert(
        fc.asyncProperty(inputArbitrary(route, preferred), async (input) => {
          if (process.env.FUZZ_DEBUG === '2')
            process.stderr.write(`  ${JSON.stringify(input).slice(0, 300)}\n`);
          const answer = await call(route, input);
          if (process.env.FUZZ_DEBUG) {
            const code = answer.status >= 300 ? /"code":"(\w+)"/.exec(answer.text)?.[1] : '';
            const key = `${answer.status} ${code ?? ''}`;
            (statistics[route.name] ??= {})[key] = (statistics[route.name]?.[key] ?? 0) + 1;
          }
          const problem = judge(route, answer, { traceId: true });
          if (problem === undefined) return;
          throw new Error(`${route.method} ${route.route} (${route.name}): ${problem}`);
        }),
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
      );
    }
  }, 600_000);

  it('over HTTP to the local host: methods, paths, Host headers, bodies', async () => {
    const templates = routes.map((r) => r.route);
    const segment = fc.oneof(
      fc.constantFrom(DEMO_ORG, 'acme', 'account', 'field-sales', 'docs', 'tenants', '%ZZ', '..', ''),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    );
    const path = fc.oneof(
      fc
        .tuple(fc.constantFrom(...templates), fc.array(segment, { minLength: 4, maxLength: 4 }))
        .map(([t, s]) => `/${t.replace(/\{\w+\}/g, () => s.pop() ?? 'x')}`),
      fc.array(segment, { maxLength: 6 }).map((s) => `/api/${s.join('/')}`),
    );
    const raw = fc
      .record({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'),
        path: fc
          .tuple(path, fc.option(fc.string({ maxLength: 20 }).map(encodeURIComponent)))
          .map(([p, q]) => (q === null ? p : `${p}?${q}=${q}`)),
        host: fc.option(
          fc.oneof(
            fc.constantFrom('127.0.0.1', '[::1', 'a b', 'host:99999', 'üñî', '@', '%zz', ':', '[]'),
            fc.string({ maxLength: 30, unit: 'grapheme-ascii' }),
          ),
          { nil: undefined },
        ),
        token: fc.option(fc.constantFrom(...tokens.valid, ...tokens.invalid), { nil: undefined }),
        body: fc.option(
          fc.oneof(fc.jsonValue({ maxDepth: 3 }).map(stringify), fc.string({ maxLength: 200 })),
          {
            nil: undefined,
          },
        ),
      })
      // GET sends no body (node's parser refuses one without a length): a filter, not a map, so
      // the shrinker never tries bodies that change nothing.
      .filter((req) => req.method !== 'GET' || req.body === undefined);
    await fc.assert(
      fc.asyncProperty(raw, async (req) => {
        if (process.env.FUZZ_DEBUG === '2') process.stderr.write(`  ${JSON.stringify(req).slice(0, 400)}\n`);
        const answer = await send(f.host.port, req);
        if (answer.status < 300) return;
        let body: unknown;
        try {
          body = JSON.parse(answer.text);
        } catch {
          throw new Error(
            `${req.method} ${req.path}: ${answer.status} whose body is not JSON: ${answer.text}`,
          );
        }
        const problem = envelopeProblem(body, answer.status, { traceId: true });
        if (problem)
          throw new Error(`${req.method} ${req.path}: ${answer.status}: ${problem}: ${answer.text}`);
        const code = (body as { error: { code: string } }).error.code;
        if (answer.status >= 500 && !(answer.status === 503 && code === 'TenantNotProvisioned')) {
          throw new Error(
            `${req.method} ${req.path} (Host ${String(req.host)}): ${answer.status} ${answer.text}`,
          );
        }
      }),
      { numRuns: HTTP_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  }, 600_000);
});

/**
 * Marks a value nested that many levels deep (objects and arrays in turn): the input holds the
 * mark, so fast-check can print and shrink it; {@link stringify} writes the nesting.
 */
const DEEP = '$fuzzDeep';

/** A {@link DEEP} mark (its depth a whole number of at most 6,000 levels). */
function isDeepMark(value: unknown): value is { [DEEP]: number } {
  if (value === null || typeof value !== 'object' || !(DEEP in value)) return false;
  const depth = (value as Record<string, unknown>)[DEEP];
  return typeof depth === 'number' && Number.isInteger(depth) && depth >= 1 && depth <= 6000;
}

/** JSON text of a fuzzed value, each {@link DEEP} mark written as its nesting. */
function stringify(value: unknown): string {
  const depths: number[] = [];
  const text =
    JSON.stringify(value, (_key, v: unknown) => {
      if (isDeepMark(v)) {
        depths.push((v as Record<string, number>)[DEEP]!);
        return `\u0000deep${depths.length - 1}\u0000`;
      }
      return v;
    }) ?? 'null';
  return text.replace(/"\\u0000deep(\d+)\\u0000"/g, (_, i: string) => {
    const depth = depths[Number(i)]!;
    let open = '';
    let close = '';
    for (let level = 0; level < depth; level++) {
      open += level % 2 ? '[' : '{"v":';
      close = (level % 2 ? ']' : '}') + close;
    }
    return `${open}"x"${close}`;
  });
}

/** What is wrong with an error body: the envelope, a code of the table, the status of the code. */
function envelopeProblem(body: unknown, status: number, options: { traceId: boolean }): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'not an object';
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return `keys ${keys.join(', ')} instead of error`;
  const error = (body as { error: unknown }).error;
  if (error === null || typeof error !== 'object') return 'error is not an object';
  const { code, message, traceId, ...rest } = error as Record<string, unknown>;
  const extra = Object.keys(rest).filter((k) => k !== 'details');
  if (extra.length > 0) return `unexpected fields ${extra.join(', ')}`;
  if (typeof code !== 'string' || !(code in statusByCode))
    return `code ${String(code)} is not in the error table`;
  if (statusByCode[code as ErrorCode] !== status)
    return `code ${code} has status ${statusByCode[code as ErrorCode]}`;
  if (typeof message !== 'string' || message === '') return 'no message';
  if (options.traceId && (typeof traceId !== 'string' || traceId === '')) return 'no traceId';
  return undefined;
}

/** One raw HTTP request (node:http, so the Host header and the target are as given). */
function send(
  port: number,
  req: {
    method: string;
    path: string;
    host: string | undefined;
    token: string | undefined;
    body: string | undefined;
  },
): Promise<{ status: number; text: string }> {
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = {};
    if (req.host !== undefined) headers.host = req.host;
    if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
    if (req.body !== undefined) {
      headers['content-type'] = 'application/json';
      // A GET with a chunked body is refused by node's own parser (400, no body): not the app's answer.
      headers['content-length'] = String(Buffer.byteLength(req.body));
    }
    const r = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.path,
        headers,
        setHost: req.host === undefined,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolvePromise({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    // A request the host never answers is a failure too (and must not hang the suite).
    r.setTimeout(5000, () => r.destroy(new Error('no answer within 5 s')));
    r.end(req.body);
  });
}
