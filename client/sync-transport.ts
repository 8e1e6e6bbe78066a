import type * as z from 'zod';
import { timerSleep } from './portable';

/** How requests are retried on network errors and on 429 / 502 / 503 / 504. */
export interface RetryPolicy {
  /** Attempts per request, the first included (default 6). */
  maxAttempts: number;
  /** First backoff delay; doubled on each retry, with jitter (default 250 ms). */
  baseDelayMs: number;
  /** Longest backoff delay and longest `Retry-After` honoured (default 30 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 250, maxDelayMs: 30_000 };

/** What the transport needs: where the server is, who the caller is, and how to wait. */
export interface SyncTransportOptions {
  /** The server's root, e.g. `http://127.0.0.1:7071` (routes are under `/api`). */
  baseUrl: string;
  org: string;
  /** Called before every request, so a refreshed token is always used; the token is never logged. */
  getToken: () => Promise<string> | string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  retry?: Partial<RetryPolicy>;
  /**
   * The `Accept-Encoding` to send. Default: `br, gzip` on Node.js, whose `fetch` decodes brotli but
   * asks only for gzip and deflate (brotli answers are about a fifth smaller and faster to make);
   * elsewhere none, as browsers forbid the header and mobile HTTP stacks negotiate on their own.
   */
  acceptEncoding?: string;
}

/** Node.js's `fetch` (undici) decodes brotli but does not ask for it. */
function defaultAcceptEncoding(): string | undefined {
  const versions = (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions;
  return typeof versions?.node === 'string' ? 'br, gzip' : undefined;
}

/** A failed sync request: the server's error code and message, or a network failure. */
export class SyncClientError extends Error {
  override readonly name = 'SyncClientError';
  constructor(
    /** The server's error code (`Forbidden`, `ValidationFailed`, …), `Network` or `BadResponse`. */
    readonly code: string,
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** Seconds or an HTTP date, as `Retry-After` allows; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What a caller may do while a request runs. */
export interface SyncRequestOptions {
  /**
   * Called with a successful answer's headers as soon as they arrive, before its body is read (the
   * download loop asks for its next page here, while the body is still on its way).
   */
  onHeaders?: (headers: Headers) => void;
}

/** Sends sync requests with the bearer token, retrying what may be retried. */
export interface SyncTransport {
  request<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    body?: unknown,
    options?: SyncRequestOptions,
  ): Promise<z.infer<S>>;
}

async function readError(response: Response): Promise<SyncClientError> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const error = parsed.error;
    if (error && typeof error.code === 'string') {
      return new SyncClientError(
        error.code,
        typeof error.message === 'string' ? error.message : `HTTP ${response.status}`,
        response.status,
        error.details,
      );
    }
  } catch {
    // Not the server's JSON error shape (e.g. a proxy's page): report the status alone.
  }
  return new SyncClientError(
    `Http${response.status}`,
    `HTTP ${response.status} ${response.statusText}`,
    response.status,
  );
}

/**
 * Builds the transport: JSON over `fetch`, a fresh `getToken()` per attempt, retries with exponential
 * backoff and jitter on network errors and 429/502/503/504 (honouring `Retry-After`), one retry on
 * 401 (the token may have expired in flight). Sync requests are safe to repeat: downloads are keyed by
 * checkpoint and uploads by operation id.
 */
export function createSyncTransport(options: SyncTransportOptions): SyncTransport {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? timerSleep;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const root = options.baseUrl.replace(/\/+$/, '');
  const acceptEncoding = options.acceptEncoding ?? defaultAcceptEncoding();

  return {
    async request(method, path, schema, body, requestOptions) {
      const url = `${root}/api/sync/${encodeURIComponent(options.org)}/${path}`;
      let unauthorizedRetried = false;
      for (let attempt = 1; ; attempt++) {
        const token = await options.getToken();
        const headers: Record<string, string> = {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
        };
        if (body !== undefined) headers['content-type'] = 'application/json';
        if (acceptEncoding !== undefined) headers['accept-encoding'] = acceptEncoding;
        let response: Response;
        try {
          response = await doFetch(url, {
            method,
            headers,
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
        } catch (error) {
          if (attempt >= policy.maxAttempts) {
            throw new SyncClientError('Network', `${method} ${path} failed: ${(error as Error).message}`);
          }
          await sleep(backoff(policy, attempt));
          continue;
        }
        if (response.ok) {
          requestOptions?.onHeaders?.(response.headers);
          // A body cut off on the way is a network failure, as a failed fetch is (not retried here: the
          // download loop or the next sync asks again from the checkpoint it saved).
          let text: string;
          try {
            text = await response.text();
          } catch (error) {
            throw new SyncClientError('Network', `${method} ${path} failed: ${(error as Error).message}`);
          }
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            throw new SyncClientError(
              'BadResponse',
              `${method} ${path}: the answer is not JSON.`,
              response.status,
            );
          }
          const parsed = schema.safeParse(json);
          if (!parsed.success) {
            throw new SyncClientError(
              'BadResponse',
              `${method} ${path}: unexpected response: ${parsed.error.message}`,
              response.status,
            );
          }
          return parsed.data;
        }
        if (response.status === 401 && !unauthorizedRetried) {
          unauthorizedRetried = true;
          await response.body?.cancel();
          continue;
        }
        if (RETRY_STATUSES.has(response.status) && attempt < policy.maxAttempts) {
          const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
          await response.body?.cancel();
          await sleep(
            retryAfter === undefined ? backoff(policy, attempt) : Math.min(retryAfter, policy.maxDelayMs),
          );
          continue;
        }
        throw await readError(response);
      }
    },
  };
}

function backoff(policy: RetryPolicy, attempt: number): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Full jitter in the upper half: devices that failed together do not retry together.
  return Math.round(exponential / 2 + (Math.random() * exponential) / 2);
}
