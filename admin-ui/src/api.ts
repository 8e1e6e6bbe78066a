import type { Violation } from '../../shared/model/profile';

/**
 * The page's one way to call the API: same origin, bearer token of the session, JSON in and out.
 * An error answer (`{ error: { code, message, details?, traceId } }`) becomes an {@link ApiError}.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
  }

  /** The violations of a 422 / 400 answer (each with the path of the field it concerns). */
  get violations(): Violation[] {
    if (!Array.isArray(this.details)) return [];
    return this.details.filter(
      (d): d is Violation =>
        typeof d === 'object' && d !== null && typeof (d as { path?: unknown }).path === 'string',
    );
  }
}

let currentToken: string | undefined;

/** The token every call carries (set by sign-in). */
export function setToken(token: string | undefined): void {
  currentToken = token;
}

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

/** Calls `path` (under /api) and answers the parsed JSON body and the response headers. */
export async function call<T>(
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<{ body: T; headers: Headers; status: number }> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (currentToken !== undefined) headers.authorization = `Bearer ${currentToken}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(`/api/${path}`, { method, headers, body, credentials: 'same-origin' });
  } catch (error) {
    throw new ApiError(0, 'Unreachable', `The API cannot be reached (${String(error)}).`, undefined);
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
      ?.error;
    throw new ApiError(
      response.status,
      error?.code ?? `HTTP${response.status}`,
      error?.message ?? `${response.status} ${response.statusText}`,
      error?.details,
    );
  }
  return { body: parsed as T, headers: response.headers, status: response.status };
}

/** `call` answering the body only. */
export async function get<T>(path: string): Promise<T> {
  return (await call<T>('GET', path)).body;
}

export async function send<T>(
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<T> {
  return (await call<T>(method, path, { body, ...(headers ? { headers } : {}) })).body;
}

/** A path segment, encoded. */
export const seg = encodeURIComponent;

/** A message for any error the page shows (an ApiError's code and message, else the error's text). */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
