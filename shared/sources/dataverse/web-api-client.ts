import { z } from 'zod';
import { AppError } from '../../errors';
import type { ErrorCode } from '../../errors';

/**
 * The HTTP side of the Dataverse adapter: common Web API headers, bearer token, JSON bodies, and the
 * translation of failures into AppErrors (shared/reference/dataverse.md §3). Throttling (429) waits
 * the `Retry-After` the service asks for, through the injected `sleep`, then retries; transient 5xx
 * and network failures of reads (GET) are retried with exponential backoff. Writes are retried only on
 * 429, which the service answers before executing anything: a write that failed with a 5xx may have
 * been applied, and repeating it would turn success into a spurious 412 or 404.
 */

/** The `{ error: { code, message } }` body of every Web API failure; `code` is often empty. */
export const webApiErrorBodySchema = z.object({
  error: z.object({ code: z.string().optional(), message: z.string().optional() }).loose(),
});

/** A collection page as the Web API returns it. */
export const collectionPageSchema = z
  .object({
    value: z.array(z.record(z.string(), z.unknown())),
    '@odata.nextLink': z.string().optional(),
    '@odata.deltaLink': z.string().optional(),
  })
  .loose();
export type CollectionPage = z.infer<typeof collectionPageSchema>;

export interface WebApiResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined when the body is empty (204) or not JSON. */
  body: unknown;
}

export interface WebApiRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Relative to the API base (`accounts?$select=name`), or an absolute link the service returned. */
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface DataverseHttpClientOptions {
  /** The environment URL (`https://org.crm.dynamics.com`) or its Web API base (`…/api/data/v9.2`). */
  url: string;
  getToken: () => Promise<string>;
  sleep: (ms: number) => Promise<void>;
  fetch: typeof fetch;
  /** Current time, for a `Retry-After` given as an HTTP date. */
  now?: () => number;
  /** Attempts after the first for 429 and transient failures (default 5). */
  maxRetries?: number;
  /** First backoff for transient failures, doubled each retry (default 1000 ms). */
  backoffMs?: number;
  /** Wait when a 429 carries no usable Retry-After (default 5 s). */
  defaultRetryAfterSeconds?: number;
}

/** A Web API client bound to one environment. */
export interface DataverseHttpClient {
  /** `https://org.crm.dynamics.com/api/data/v9.2/` (with the trailing slash). */
  readonly apiBase: string;
  /** Sends a request; answers 2xx responses and throws an AppError for anything else. */
  send(request: WebApiRequest): Promise<WebApiResponse>;
}

const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);

/** The Web API base URL of an environment URL (which may already be the API base). */
export function webApiBase(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /\/api\/data\/v\d+(\.\d+)?$/.test(trimmed) ? `${trimmed}/` : `${trimmed}/api/data/v9.2/`;
}

/** Creates the client. */
export function createDataverseHttpClient(options: DataverseHttpClientOptions): DataverseHttpClient {
  const apiBase = webApiBase(options.url);
  const origin = new URL(apiBase).origin;
  const maxRetries = options.maxRetries ?? 5;
  const backoffMs = options.backoffMs ?? 1000;
  const defaultRetryAfter = options.defaultRetryAfterSeconds ?? 5;
  const now = options.now ?? Date.now;

  function resolve(path: string): string {
    const absolute = new URL(path, apiBase);
    // Links come from response bodies: never send the bearer token anywhere but the environment.
    if (absolute.origin !== origin) {
      throw new AppError('SourceUnavailable', 'The Dataverse link points outside the environment.', {
        details: { link: path },
      });
    }
    return absolute.toString();
  }

  async function send(request: WebApiRequest): Promise<WebApiResponse> {
    const method = request.method ?? 'GET';
    const url = resolve(request.path);
    for (let attempt = 0; ; attempt++) {
      const token = await options.getToken();
      const headers: Record<string, string> = {
        Accept: 'application/json',
        'OData-MaxVersion': '4.0',
        'OData-Version': '4.0',
        Authorization: `Bearer ${token}`,
        ...(request.body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
        ...request.headers,
      };
      let response: Response;
      try {
        response = await options.fetch(url, {
          method,
          headers,
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
        });
      } catch (cause) {
        // Network failure: the request may not have reached the service; reads are safe to repeat.
        if (method === 'GET' && attempt < maxRetries) {
          await options.sleep(backoffMs * 2 ** attempt);
          continue;
        }
        throw new AppError('SourceUnavailable', 'Dataverse could not be reached.', {
          details: { method, url: stripQuery(url) },
          cause,
        });
      }
      const body = await readBody(response);
      if (response.ok) return { status: response.status, headers: response.headers, body };

      if (response.status === 429 && attempt < maxRetries) {
        await options.sleep(retryAfterSeconds(response.headers, defaultRetryAfter, now) * 1000);
        continue;
      }
      if (TRANSIENT_STATUSES.has(response.status) && method === 'GET' && attempt < maxRetries) {
        const asked = response.headers.get('retry-after');
        await options.sleep(
          asked === null
            ? backoffMs * 2 ** attempt
            : retryAfterSeconds(response.headers, defaultRetryAfter, now) * 1000,
        );
        continue;
      }
      throw webApiError(response.status, body, response.headers, method, url, defaultRetryAfter, now);
    }
  }

  return { apiBase, send };
}

/** Seconds from a `Retry-After` header (delta seconds or an HTTP date), or the fallback. */
function retryAfterSeconds(headers: Headers, fallback: number, now: () => number = Date.now): number {
  const value = headers.get('retry-after');
  if (value === null) return fallback;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? fallback : Math.max(0, Math.ceil((date - now()) / 1000));
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // `$count` answers plain text; keep it as the string.
    return text;
  }
}

function stripQuery(url: string): string {
  return url.split('?')[0] ?? url;
}

/** The AppError code of a Web API status (reference §3 status map). */
function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'ValidationFailed';
    case 401:
      // Our own credentials were refused: the source is unusable, not the user's fault.
      return 'SourceUnavailable';
    case 403:
      return 'PrivilegeDenied';
    case 404:
      return 'NotFound';
    case 412:
      return 'PreconditionFailed';
    case 413:
      return 'PayloadTooLarge';
    case 429:
      return 'Throttled';
    default:
      return status >= 400 && status < 500 ? 'ValidationFailed' : 'SourceUnavailable';
  }
}

/**
 * Builds the AppError of a failed response. `details` keeps the HTTP status and the Dataverse error
 * `code` and `message`, so callers can match codes such as `0x80044352` (expired version stamp).
 */
export function webApiError(
  status: number,
  body: unknown,
  headers: Headers,
  method: string,
  url: string,
  defaultRetryAfter = 5,
  now: () => number = Date.now,
): AppError {
  const parsed = webApiErrorBodySchema.safeParse(body);
  const dataverseCode = parsed.success ? (parsed.data.error.code ?? '') : '';
  const dataverseMessage = parsed.success ? (parsed.data.error.message ?? '') : '';
  const code = codeForStatus(status);
  return new AppError(
    code,
    dataverseMessage !== '' ? `Dataverse: ${dataverseMessage}` : `Dataverse answered ${status} to ${method}.`,
    {
      details: { status, dataverseCode, dataverseMessage, method, url: stripQuery(url) },
      ...(code === 'Throttled'
        ? { retryAfterSeconds: retryAfterSeconds(headers, defaultRetryAfter, now) }
        : {}),
    },
  );
}

/** The HTTP status and Dataverse error code kept in an AppError from {@link webApiError}. */
export function webApiFailure(error: unknown): { status: number; dataverseCode: string } | undefined {
  if (!(error instanceof AppError) || error.details === undefined || Array.isArray(error.details))
    return undefined;
  const { status, dataverseCode } = error.details;
  return typeof status === 'number'
    ? { status, dataverseCode: typeof dataverseCode === 'string' ? dataverseCode : '' }
    : undefined;
}

/** Reads every page of a (non-tracking) collection, following `@odata.nextLink` unchanged. */
export async function readAllPages(
  client: DataverseHttpClient,
  path: string,
  maxPageSize: number,
): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  let next: string | undefined = path;
  while (next !== undefined) {
    const response = await client.send({
      path: next,
      headers: { Prefer: `odata.maxpagesize=${maxPageSize}` },
    });
    const page = parseCollectionPage(response.body, next);
    rows.push(...page.value);
    next = page['@odata.nextLink'];
  }
  return rows;
}

/** Validates a collection page body; a malformed body is the source's failure. */
export function parseCollectionPage(body: unknown, path: string): CollectionPage {
  const parsed = collectionPageSchema.safeParse(body);
  if (!parsed.success) {
    throw new AppError('SourceUnavailable', 'Dataverse answered a collection that is not valid.', {
      details: {
        path: stripQuery(path),
        issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      },
    });
  }
  return parsed.data;
}
