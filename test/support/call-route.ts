import { HttpRequest, InvocationContext } from '@azure/functions';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { handleRequest, type HttpRuntime } from '../../functions/http/handle-request';
import type { RouteDefinition } from '../../functions/http/route-definition';

/** What the HTTP adapter answered, its body decompressed and parsed. */
export interface RouteCallAnswer<T> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Calls one route through the HTTP adapter (`handleRequest`, as both hosts do) with a bearer token:
 * authentication, validation, error mapping and compression included.
 */
export async function callRoute<T = Record<string, unknown>>(
  route: RouteDefinition,
  runtime: HttpRuntime,
  token: string,
  input: {
    params: Record<string, string>;
    query?: Record<string, string>;
    body?: unknown;
    /** The body as sent, instead of `body` (a value too deep for JSON.stringify, or not JSON at all). */
    rawBody?: string;
    headers?: Record<string, string>;
  },
): Promise<RouteCallAnswer<T>> {
  const query = new URLSearchParams(input.query ?? {}).toString();
  const request = new HttpRequest({
    method: route.method,
    url: `http://127.0.0.1/${route.route}${query ? `?${query}` : ''}`,
    params: input.params,
    query: input.query ?? {},
    headers: {
      authorization: `Bearer ${token}`,
      ...input.headers,
      ...(input.body === undefined && input.rawBody === undefined
        ? {}
        : { 'content-type': 'application/json' }),
    },
    ...(input.body === undefined ? {} : { body: { string: JSON.stringify(input.body) } }),
    ...(input.rawBody === undefined ? {} : { body: { string: input.rawBody } }),
  });
  const response = await handleRequest(
    route,
    request,
    new InvocationContext({ invocationId: 't', logHandler: () => undefined }),
    runtime,
  );
  const headers = new Headers(response.headers);
  let raw = response.body === undefined ? Buffer.alloc(0) : Buffer.from(response.body as Uint8Array);
  if (headers.get('content-encoding') === 'gzip') raw = gunzipSync(raw);
  if (headers.get('content-encoding') === 'br') raw = brotliDecompressSync(raw);
  const text = raw.toString('utf8');
  return { status: response.status ?? 200, headers, body: (text ? JSON.parse(text) : {}) as T };
}
