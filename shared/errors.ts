/**
 * Errors are values: every failure the product reports carries a stable code from {@link ErrorCode}
 * and maps to exactly one HTTP status in {@link statusByCode}. Anything thrown that is not an
 * {@link AppError} is an internal error and is reported without its stack.
 */

/** Every error code the product reports, with the HTTP status it maps to. */
export const statusByCode = {
  /** The request body is not JSON, or not of the expected shape. */
  BadRequest: 400,
  /** A request field failed validation; `details` lists each failing path. */
  ValidationFailed: 400,
  /** No bearer token, or a token that is not valid (signature, issuer, audience, expiry). */
  Unauthorized: 401,
  /** A valid token that may not do this: wrong tenant, missing role. */
  Forbidden: 403,
  /** The user lacks the privilege the operation needs. */
  PrivilegeDenied: 403,
  /** The user has no offline profile for the app. */
  NoProfile: 403,
  /** The tenant, entity, profile, app or row does not exist. */
  NotFound: 404,
  /** The tenant is not registered. */
  TenantNotFound: 404,
  /** The path exists but not with this method (the local host's router; `Allow` names the methods). */
  MethodNotAllowed: 405,
  /** The request conflicts with the current state (already exists, wrong lifecycle state). */
  Conflict: 409,
  /** A user is already in another profile. */
  UserInAnotherProfile: 409,
  /**
   * A change cursor older than the store's change retention (or of an earlier store format): the
   * changes after it may be gone. The sync engine starts the device over from the rows themselves.
   */
  ChangeCursorExpired: 409,
  /** A concurrent writer changed the resource first (ETag or version mismatch). */
  PreconditionFailed: 412,
  /** The request body is larger than the configured limit. */
  PayloadTooLarge: 413,
  /** The profile or entity configuration breaks a rule; `details` lists every violation. */
  ProfileInvalid: 422,
  /** The configuration document breaks a rule; `details` lists every violation. */
  Unprocessable: 422,
  /** A user's download exceeds the hard row limit. */
  RowLimitExceeded: 422,
  /** Too many requests; retry after the time given. */
  Throttled: 429,
  /** Something failed that is not the caller's fault. */
  Internal: 500,
  /** The source system failed or could not be reached. */
  SourceUnavailable: 502,
  /** The tenant exists but devices may not sync yet (or any more). */
  TenantNotProvisioned: 503,
  /** A dependency is temporarily unavailable. */
  Unavailable: 503,
} as const;

export type ErrorCode = keyof typeof statusByCode;

/** One problem in a request or a document: where (path) and what. */
export interface ErrorDetail {
  path: string;
  code?: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: ErrorDetail[] | Record<string, unknown>;
  /** Seconds a client should wait before retrying (429, 503). */
  readonly retryAfterSeconds?: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      details?: ErrorDetail[] | Record<string, unknown>;
      retryAfterSeconds?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return statusByCode[this.code];
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown; traceId?: string };
}

/** Turns anything thrown into a status and body; internal errors never leak their message or stack. */
export function toErrorResponse(error: unknown, traceId?: string): { status: number; body: ErrorBody } {
  if (isAppError(error)) {
    return {
      status: error.status,
      body: {
        error: {
          code: error.code,
          message: error.message,
          ...(error.details === undefined ? {} : { details: error.details }),
          ...(traceId === undefined ? {} : { traceId }),
        },
      },
    };
  }
  return {
    status: 500,
    body: {
      error: {
        code: 'Internal',
        message: 'An internal error occurred.',
        ...(traceId === undefined ? {} : { traceId }),
      },
    },
  };
}
