import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { handleRequest, type HttpRuntime } from '../functions/http/handle-request';
import type { RouteDefinition } from '../functions/http/route-definition';
import { AppError, toErrorResponse } from '../shared/errors';
import { createRequestGate } from './request-gate';
import { orgSchema } from '../shared/model/tenant';
import { createRouteMatcher } from './route-matcher';

/**
 * How long the host keeps an idle keep-alive connection open after its last answer (announced as
 * `Keep-Alive: timeout=75`). A client sending on a connection at the moment the host closes it gets
 * ECONNRESET: the request meets a closed socket, or lies unread in one being closed. Node's default
 * of 5 s (closing at about 6 s) did that once in ~20,000 requests in the bench's 50-device loop,
 * whose http.Agent reuses pooled connections however long they were idle (a pool of 54 for 50
 * devices leaves some idle for seconds, and a paced phase most of them). Clients that honour the
 * announcement (fetch/undici, the SDK; an http.Agent with a `timeout`) close a second before it;
 * 75 s outlasts the gaps in a bench phase and the 60 s idle timeout of common proxies and agents.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 75_000;
/**
 * Time for a request's headers: past the keep-alive timeout, the usual pairing for a long keep-alive
 * (Node before 18 timed an idle connection's next headers from its last answer, so a shorter headers
 * timeout cut idle connections first).
 */
export const HEADERS_TIMEOUT_MS = KEEP_ALIVE_TIMEOUT_MS + 1_000;
/**
 * Time to receive a whole request (at most MAX_BODY_BYTES, a 4 MiB upload by default) once it has
 * started: 2 minutes, not Node's 5, so a stalled upload does not hold a connection that long; it must
 * be at least the headers timeout. Answers are not bounded by it (a large download streams longer).
 */
export const REQUEST_TIMEOUT_MS = 120_000;

/** The routes of device syncs, served through the sync gate (`LOCAL_SYNC_CONCURRENCY`). */
const SYNC_ROUTES: ReadonlySet<string> = new Set(['syncDownload', 'syncUpload']);

/**
 * Serves the route table over node:http, building the same `HttpRequest` and `InvocationContext`
 * objects the Functions host would, and calling the same adapter (`handleRequest`).
 */
export function createLocalHttpServer(
  routes: readonly RouteDefinition[],
  runtime: HttpRuntime,
  log: (line: string) => void,
): Server {
  const match = createRouteMatcher(routes);
  const maxBytes = runtime.services.settings.MAX_BODY_BYTES;
  const syncGate = createRequestGate(runtime.services.settings.LOCAL_SYNC_CONCURRENCY);
  const requestLog = runtime.services.settings.REQUEST_LOG ? log : undefined;

  const server = createServer(
    {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    (req, res) => {
      void serve(req, res).catch((error: unknown) => {
        log(`request failed: ${error instanceof Error ? error.stack : String(error)}`);
        if (!res.headersSent) sendJson(res, 500, toErrorResponse(error).body);
        else res.destroy();
      });
    },
  );
  return server;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const received = performance.now();
    let org: string | undefined;
    // One line per request, whoever answered it, once it is sent.
    if (requestLog !== undefined) {
      res.once('finish', () => {
        const traceId = res.getHeader('x-trace-id');
        requestLog(
          requestLogLine({
            method: req.method ?? 'GET',
            target: req.url ?? '/',
            status: res.statusCode,
            ms: performance.now() - received,
            org,
            traceId: typeof traceId === 'string' ? traceId : undefined,
          }),
        );
      });
    }
    // Errors the router answers itself carry a trace id like those of the adapter.
    const refuse = (error: AppError): void => {
      const traceId = randomUUID();
      res.setHeader('x-trace-id', traceId);
      sendJson(res, error.status, toErrorResponse(error, traceId).body);
    };
    const url = requestUrl(req);
    if (url === undefined) {
      return refuse(new AppError('BadRequest', 'The Host header or the request target is not valid.'));
    }
    const found = match(req.method ?? 'GET', url.pathname);
    if (found.kind === 'found') org = orgOf(found.params.org);
    if (found.kind === 'not-found') return refuse(new AppError('NotFound', `No route ${url.pathname}.`));
    if (found.kind === 'method-not-allowed') {
      res.setHeader('allow', found.allowed.join(', '));
      return refuse(
        new AppError(
          'MethodNotAllowed',
          `Method ${req.method} is not allowed; use ${found.allowed.join(', ')}.`,
        ),
      );
    }
    const body = await readBody(req, maxBytes);
    if (body === 'too-large') {
      return refuse(new AppError('PayloadTooLarge', `The request body is larger than ${maxBytes} bytes.`));
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: url.toString(),
      headers,
      query: Object.fromEntries(url.searchParams.entries()),
      params: found.params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    });
    const invocationId = randomUUID();
    const context = new InvocationContext({
      invocationId,
      functionName: found.route.name,
      // The core's lines (shared/telemetry/log.ts) are JSON with their level inside: written as they are.
      logHandler: (level, ...args) => {
        if (level !== 'debug' && level !== 'trace') log(args.map(String).join(' '));
      },
    });
    // server-timing is the time spent answering, from the moment the gate let the request in.
    const answer = async (): Promise<SettledResponse & { ms: number }> => {
      const started = performance.now();
      const settled = await settleResponse(await handleRequest(found.route, request, context, runtime));
      return { ...settled, ms: performance.now() - started };
    };
    const {
      status,
      headers: answerHeaders,
      bytes,
      ms,
    } = SYNC_ROUTES.has(found.route.name) ? await syncGate.run(answer) : await answer();
    res.statusCode = status;
    answerHeaders.forEach((value, name) => res.setHeader(name, value));
    res.setHeader('content-length', bytes.length);
    res.setHeader('server-timing', `app;dur=${ms.toFixed(1)}`);
    res.end(bytes);
  }
}

/** An answer as node:http sends it: status, headers and the whole body. */
interface SettledResponse {
  status: number;
  headers: Headers;
  bytes: Buffer;
}

/**
 * The answer a route gave, ready to send. The routes answer with bytes (or nothing), taken as they
 * are: going through `HttpResponse` (a fetch Response) streamed them out and read them back, about
 * 20 ms a 2.6 MB uncompressed download page (workload 1 uncompressed: 260 -> 209-219 ms). Anything else (a string, a stream, cookies) goes through `HttpResponse`, as
 * the Functions host would.
 */
export async function settleResponse(init: HttpResponseInit): Promise<SettledResponse> {
  const { body } = init;
  if (
    init.cookies === undefined &&
    init.jsonBody === undefined &&
    (body === undefined || body instanceof Uint8Array)
  ) {
    return {
      status: init.status ?? 200,
      headers: new Headers(init.headers),
      bytes:
        body === undefined ? Buffer.alloc(0) : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    };
  }
  const response = new HttpResponse(init);
  return {
    status: response.status,
    headers: response.headers,
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

/** What the request log line says of one request: never a header, a query string or a body. */
export interface RequestLogEntry {
  method: string;
  /** The request target as sent; only its path is logged. */
  target: string;
  status: number;
  ms: number;
  org: string | undefined;
  traceId: string | undefined;
}

/** Longest path a log line repeats. */
const MAX_LOGGED_PATH = 512;

/** The JSON line of one request (`{ time, level, msg: 'request', method, path, status, ms, org, traceId }`). */
export function requestLogLine(entry: RequestLogEntry): string {
  const path = entry.target.split('?', 1)[0]!.slice(0, MAX_LOGGED_PATH);
  return JSON.stringify({
    time: new Date().toISOString(),
    level: entry.status >= 500 ? 'error' : entry.status >= 400 ? 'warn' : 'info',
    msg: 'request',
    method: entry.method,
    path,
    status: entry.status,
    ms: Math.round(entry.ms * 10) / 10,
    ...(entry.org === undefined ? {} : { org: entry.org }),
    ...(entry.traceId === undefined ? {} : { traceId: entry.traceId }),
  });
}

function orgOf(value: string | undefined): string | undefined {
  return value !== undefined && orgSchema.safeParse(value).success ? value : undefined;
}

/**
 * The request's URL from its target and Host header, or undefined when they make no URL: both come
 * from the client, so a malformed one is the client's error (400), not the server's.
 */
function requestUrl(req: IncomingMessage): URL | undefined {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
  } catch {
    return undefined;
  }
  // `Host: a@b` parses as user info, which the Fetch API's Request (under HttpRequest) refuses.
  return url.username === '' && url.password === '' ? url : undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': bytes.length,
  });
  res.end(bytes);
}

/** Reads at most `maxBytes` (+1 to detect overflow) so an oversized upload cannot exhaust memory. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
