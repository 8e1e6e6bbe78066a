import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  context as otelContext,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import type { z } from 'zod';
import type { AppServices } from '../../shared/app-services';
import { ADMIN_ROLE, hasRole, INGEST_ROLE, type Principal } from '../../shared/auth/principal';
import type { TokenVerifier } from '../../shared/auth/token-verifier';
import { AppError, toErrorResponse, type ErrorDetail } from '../../shared/errors';
import { jsonDepth } from '../../shared/model/json-limits';
import { orgSchema } from '../../shared/model/tenant';
import { INGEST_KEY_HEADER, verifyIngestKey } from '../../shared/ingest/ingest-key';
import type { DocStore } from '../../shared/store/port';
import { ATTR, errorType, instruments, secondsSince, tracer } from '../../shared/telemetry/telemetry';
import { errorFields, logLine, withLogScope } from '../../shared/telemetry/log';
import { invocationLogSink } from '../telemetry/invocation-log-sink';
import { getTenant } from '../../shared/tenants/tenant-registry';
import type { RouteContext, RouteDefinition, RouteResponse, TenantRouteContext } from './route-definition';

const gzipAsync = promisify(gzip);
/** Output step of response compression. */
const COMPRESS_CHUNK_BYTES = 1 << 20;
const brotliAsync = promisify(brotliCompress);

/** Bodies smaller than this are sent uncompressed: compression would not pay for itself. */
const COMPRESS_MIN_BYTES = 1024;

/** What the adapter needs besides the request: the process's services and token verifier. */
export interface HttpRuntime {
  services: AppServices;
  verifier: TokenVerifier;
}

/**
 * The one generic adapter between HTTP and a route's handler: authentication, tenant resolution and
 * isolation (role and tenant checks), then the body's size and depth limits, JSON parsing and schema
 * validation of params, query and body, the call, compression, and error mapping (one table:
 * `statusByCode`). Both hosts call it.
 */
export function handleRequest(
  route: RouteDefinition,
  request: HttpRequest,
  invocation: InvocationContext,
  runtime: HttpRuntime,
): Promise<HttpResponseInit> {
  const started = performance.now();
  const attributes: Attributes = {
    [ATTR.method]: route.method,
    [ATTR.route]: `/${route.route}`,
    'offline_sync.route': route.name,
  };
  // The caller's trace (the Functions host's invocation, or a client's traceparent) is the parent.
  const parent = propagation.extract(otelContext.active(), traceCarrier(request, invocation));
  const span = tracer().startSpan(
    `${route.method} /${route.route}`,
    { kind: SpanKind.SERVER, attributes },
    parent,
  );
  // With a tracer installed the trace id is the span's, so an error body leads to its trace.
  const traceId = span.isRecording() ? span.spanContext().traceId : invocation.invocationId || randomUUID();
  const named = request.params.org;
  const org = named !== undefined && orgSchema.safeParse(named).success ? named : undefined;
  // Every core log line of this request names its route, trace, tenant and the time since it began.
  const scope = { route: route.name, traceId, sink: invocationLogSink(invocation), ...(org ? { org } : {}) };
  return withLogScope(scope, () =>
    otelContext.with(trace.setSpan(parent, span), async () => {
      try {
        const response = await respond(route, request, invocation, runtime, traceId, span);
        const status = response.status ?? 200;
        span.setAttribute(ATTR.statusCode, status);
        if (org !== undefined) span.setAttribute(ATTR.org, org);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        const labels: Attributes = { ...attributes, [ATTR.statusCode]: status };
        const { httpDuration, httpResponseSize } = instruments();
        httpDuration.record(secondsSince(started), labels);
        httpResponseSize.record(bodyBytes(response.body), labels);
        return response;
      } finally {
        span.end();
      }
    }),
  );
}

/** The W3C trace context the request came with: the Functions invocation's, else its headers'. */
function traceCarrier(request: HttpRequest, invocation: InvocationContext): Record<string, string> {
  const carrier: Record<string, string> = {};
  const parent = invocation.traceContext?.traceParent ?? request.headers.get('traceparent');
  const state = invocation.traceContext?.traceState ?? request.headers.get('tracestate');
  if (parent) carrier.traceparent = parent;
  if (state) carrier.tracestate = state;
  return carrier;
}

function bodyBytes(body: HttpResponseInit['body']): number {
  if (body === undefined || body === null) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return 0;
}

async function respond(
  route: RouteDefinition,
  request: HttpRequest,
  invocation: InvocationContext,
  runtime: HttpRuntime,
  traceId: string,
  span: Span,
): Promise<HttpResponseInit> {
  const log = (message: string, data?: Record<string, unknown>): void => logLine('info', message, data);
  try {
    const response = await dispatch(route, request, runtime, traceId, log);
    return await toHttpResponse(response, request.headers.get('accept-encoding'), traceId);
  } catch (error) {
    const { status, body } = toErrorResponse(error, traceId);
    span.setAttribute(ATTR.errorType, errorType(error));
    if (status >= 500) logLine('error', 'request failed', { status, ...errorFields(error) });
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-trace-id': traceId,
    };
    if (error instanceof AppError && error.retryAfterSeconds !== undefined) {
      headers['retry-after'] = String(Math.ceil(error.retryAfterSeconds));
    }
    if (status === 401) headers['www-authenticate'] = 'Bearer';
    return { status, headers, body: JSON.stringify(body) };
  }
}

async function dispatch(
  route: RouteDefinition,
  request: HttpRequest,
  runtime: HttpRuntime,
  traceId: string,
  log: RouteContext<unknown, unknown, unknown>['log'],
): Promise<RouteResponse> {
  const { services } = runtime;
  const usesIngestKey =
    route.auth === 'ingest' &&
    request.headers.has(INGEST_KEY_HEADER) &&
    !request.headers.has('authorization');
  const open = route.openWhen?.(services.settings) === true;
  const principal =
    route.auth === 'none' || usesIngestKey || open
      ? undefined
      : await authenticate(request, runtime.verifier);
  const rawParams: Record<string, string> = { ...request.params };
  const base: Omit<RouteContext<unknown, unknown, unknown>, 'params' | 'query' | 'body'> = {
    principal,
    services,
    headers: request.headers,
    traceId,
    log,
  };

  if (!route.tenantScoped) {
    if (route.auth === 'operator' && !open)
      authorizeOperator(principal!, services.settings.OPERATOR_TENANT_ID);
    return route.handler({
      ...base,
      ...(await validateInput(route, request, services.settings.MAX_BODY_BYTES)),
    });
  }

  const org = orgSchema.safeParse(rawParams.org);
  if (!org.success) throw new AppError('TenantNotFound', `No tenant '${rawParams.org ?? ''}' is registered.`);
  const tenant = await getTenant(services.store, org.data);
  if (!tenant) throw new AppError('TenantNotFound', `No tenant '${org.data}' is registered.`);
  const caller = usesIngestKey
    ? await authenticateIngestKey(services.store.tenant(tenant.org), request, tenant.entraTenantId)
    : principal!;
  authorizeTenant(route, caller, tenant.entraTenantId, org.data);
  if (route.requireActiveTenant && tenant.state !== 'active') {
    throw new AppError(
      'TenantNotProvisioned',
      `Tenant '${org.data}' is not provisioned (state: ${tenant.state}).`,
      {
        retryAfterSeconds: 60,
      },
    );
  }
  const context: TenantRouteContext<unknown, unknown, unknown> = {
    ...base,
    ...(await validateInput(route, request, services.settings.MAX_BODY_BYTES)),
    principal: caller,
    tenant,
    store: services.store.tenant(tenant.org),
  };
  return route.handler(context);
}

/**
 * Params, query and body, each validated with the route's schema. Called only once the caller is
 * authenticated and authorized: a caller who may not use the route learns 401 or 403, never the
 * shape its input should have had.
 */
async function validateInput(
  route: RouteDefinition,
  request: HttpRequest,
  maxBodyBytes: number,
): Promise<Pick<RouteContext<unknown, unknown, unknown>, 'params' | 'query' | 'body'>> {
  const rawParams: Record<string, string> = { ...request.params };
  return {
    params: route.params ? validate(route.params, rawParams, 'params') : rawParams,
    query: route.query
      ? validate(route.query, Object.fromEntries(request.query.entries()), 'query')
      : undefined,
    body: route.body
      ? validate(
          route.body,
          await readJsonBody(request, maxBodyBytes, route.maxBodyDepth ?? MAX_BODY_DEPTH),
          'body',
        )
      : undefined,
  };
}

async function authenticate(request: HttpRequest, verifier: TokenVerifier): Promise<Principal> {
  const header = request.headers.get('authorization');
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) throw new AppError('Unauthorized', 'A bearer token is required.');
  return verifier.verify(match[1]);
}

/** A source system that cannot fetch tokens (a Dataverse webhook) proves itself with the tenant's ingest key. */
async function authenticateIngestKey(
  store: DocStore,
  request: HttpRequest,
  entraTenantId: string,
): Promise<Principal> {
  const key = request.headers.get(INGEST_KEY_HEADER) ?? '';
  if (!(await verifyIngestKey(store, key)))
    throw new AppError('Unauthorized', 'The ingest key is not valid.');
  return { objectId: 'ingest-key', tenantId: entraTenantId, roles: [INGEST_ROLE], issuer: 'ingest-key' };
}

function authorizeOperator(principal: Principal, operatorTenantId: string): void {
  if (
    principal.tenantId.toLowerCase() !== operatorTenantId.toLowerCase() ||
    !hasRole(principal, ADMIN_ROLE)
  ) {
    throw new AppError('Forbidden', `Operator routes need the ${ADMIN_ROLE} role in the operator tenant.`);
  }
}

/** Tenant isolation: a token acts only on the org whose Entra tenant issued it. */
function authorizeTenant(
  route: RouteDefinition,
  principal: Principal,
  entraTenantId: string,
  org: string,
): void {
  if (principal.tenantId.toLowerCase() !== entraTenantId.toLowerCase()) {
    throw new AppError('Forbidden', `The token's tenant may not act on '${org}'.`);
  }
  if (route.auth === 'admin' && !hasRole(principal, ADMIN_ROLE)) {
    throw new AppError('Forbidden', `This route needs the ${ADMIN_ROLE} role.`);
  }
  if (route.auth === 'ingest' && !hasRole(principal, INGEST_ROLE) && !hasRole(principal, ADMIN_ROLE)) {
    throw new AppError('Forbidden', `This route needs the ${INGEST_ROLE} role.`);
  }
}

/**
 * Deepest JSON body a route takes unless it says otherwise (`RouteDefinition.maxBodyDepth`). No
 * schema needs more than about 15 levels; zod and JSON.stringify recurse, and a value a few thousand
 * levels deep overflows the stack, which would answer 500 for the client's mistake.
 */
export const MAX_BODY_DEPTH = 64;

/** Reads the body within the size and depth limits and parses it as JSON (400 when it is not JSON). */
async function readJsonBody(request: HttpRequest, maxBytes: number, maxDepth: number): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? 'NaN');
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new AppError('PayloadTooLarge', `The request body is larger than ${maxBytes} bytes.`);
  }
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > maxBytes)
    throw new AppError('PayloadTooLarge', `The request body is larger than ${maxBytes} bytes.`);
  if (bytes.length === 0) throw new AppError('BadRequest', 'A JSON request body is required.');
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new AppError('BadRequest', 'The request body is not valid JSON.');
  }
  if (jsonDepth(body, maxDepth) > maxDepth) {
    throw new AppError('BadRequest', `The request body nests deeper than ${maxDepth} levels.`);
  }
  return body;
}

/** Validates one part of the request; 400 with every failing path. */
function validate<S extends z.ZodType>(schema: S, value: unknown, part: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details: ErrorDetail[] = result.error.issues.map((issue) => ({
    path: [part, ...issue.path.map(String)].join('.'),
    code: issue.code,
    message: issue.message,
  }));
  throw new AppError('ValidationFailed', `The request ${part} is not valid.`, { details });
}

async function toHttpResponse(
  response: RouteResponse,
  acceptEncoding: string | null,
  traceId: string,
): Promise<HttpResponseInit> {
  const headers: Record<string, string> = { 'x-trace-id': traceId, ...response.headers };
  if (response.raw !== undefined) return { status: response.status ?? 200, headers, body: response.raw };
  if (response.body === undefined) return { status: response.status ?? 204, headers };
  const json = Buffer.from(JSON.stringify(response.body), 'utf8');
  headers['content-type'] = 'application/json; charset=utf-8';
  const encoding = json.length >= COMPRESS_MIN_BYTES ? chooseEncoding(acceptEncoding) : undefined;
  headers.vary = 'Accept-Encoding';
  if (!encoding) return { status: response.status ?? 200, headers, body: json };
  // Measured on workload 1's tables-format pages (10,565 rows): brotli quality 2 makes 107.5 B/row in
  // 27 ms, quality 4 103.8 B/row in 44-54 ms, quality 5 95 B/row in 108 ms; gzip level 5 119.5 B/row in
  // 69 ms, level 6 116 B/row in 125 ms. Compression is on every download's critical path.
  const compressed =
    encoding === 'br'
      ? await brotliAsync(json, {
          // Output in 1 MiB steps rather than 16 KiB: fewer hops between the pool thread and the loop.
          chunkSize: COMPRESS_CHUNK_BYTES,
          params: {
            [zlibConstants.BROTLI_PARAM_QUALITY]: 2,
            // A 256 KiB window, not 4 MiB: at quality 2 the output is the same size (548,499 against
            // 547,818 B for a 2.6 MB page of 5,000 rows; workload 1 1,140,249 against 1,136,104 B),
            // with 4 MiB less memory per compression; in the host, pages of 2.6 MB took a median of 19
            // against 26 ms (means equal, 25 ms, over 40 pages each: the pool thread shares two cores).
            [zlibConstants.BROTLI_PARAM_LGWIN]: 18,
            [zlibConstants.BROTLI_PARAM_SIZE_HINT]: json.length,
          },
        })
      : await gzipAsync(json, { level: 5, chunkSize: COMPRESS_CHUNK_BYTES });
  headers['content-encoding'] = encoding;
  return { status: response.status ?? 200, headers, body: compressed };
}

/** Picks brotli or gzip from Accept-Encoding, honouring q=0. */
export function chooseEncoding(acceptEncoding: string | null): 'br' | 'gzip' | undefined {
  if (!acceptEncoding) return undefined;
  const accepted = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...rest] = part.trim().toLowerCase().split(';');
    const q = rest.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name) accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const wildcard = accepted.get('*');
  const weight = (name: string): number => accepted.get(name) ?? wildcard ?? 0;
  if (weight('br') > 0 && weight('br') >= weight('gzip')) return 'br';
  if (weight('gzip') > 0) return 'gzip';
  return undefined;
}
