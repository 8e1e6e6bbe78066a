import { AppError, isAppError } from '../../errors';

/**
 * Translates a failure of the Cosmos DB SDK (or of anything it calls) into an {@link AppError}, so
 * the core never sees an SDK error. The caller says what a 404 means where it happened: a missing
 * document (`NotFound`) or a missing tenant database (`TenantNotProvisioned`). A 413 (an item over
 * 2 MB) is `PayloadTooLarge`, which no retry can fix; anything unknown is a retryable `Unavailable`.
 */
export function toStoreError(
  error: unknown,
  context: { what: string; notFound?: 'NotFound' | 'TenantNotProvisioned' },
): AppError {
  if (isAppError(error)) return error;
  const status = cosmosStatusOf(error);
  const message = `${context.what}: ${messageOf(error)}`;
  switch (status) {
    case 404:
      return new AppError(context.notFound ?? 'NotFound', message, { cause: error });
    case 409:
      return new AppError('Conflict', message, { cause: error });
    case 412:
      return new AppError('PreconditionFailed', message, { cause: error });
    case 413:
      // An item over Cosmos DB's 2 MB limit (or a request over its size limit): the same write is
      // refused every time, so it must not be retried as a passing outage would be.
      return new AppError('PayloadTooLarge', message, { cause: error });
    case 429:
      return new AppError('Throttled', message, {
        cause: error,
        retryAfterSeconds: retryAfterSecondsOf(error),
      });
    default:
      return new AppError('Unavailable', message, { cause: error });
  }
}

/** The HTTP status of a Cosmos SDK error (`code`), undefined for anything else. */
export function cosmosStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

/** The Cosmos sub-status (1003: the owning database or container does not exist). */
export function cosmosSubstatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { substatus } = error as { substatus?: unknown };
  return typeof substatus === 'number' ? substatus : undefined;
}

/** Cosmos sub-status of a 404 whose owner resource (database or container) does not exist. */
export const OWNER_RESOURCE_NOT_FOUND = 1003;

function retryAfterSecondsOf(error: unknown): number {
  const { retryAfterInMs, retryAfterInMilliseconds, headers } = error as {
    retryAfterInMs?: unknown;
    retryAfterInMilliseconds?: unknown;
    headers?: Record<string, unknown>;
  };
  const fromHeader = headers?.['x-ms-retry-after-ms'];
  const ms = [
    retryAfterInMs,
    retryAfterInMilliseconds,
    typeof fromHeader === 'string' ? Number(fromHeader) : fromHeader,
  ].find((v): v is number => typeof v === 'number' && Number.isFinite(v));
  // A client should never be told to retry in zero seconds: round up to a whole second.
  return Math.max(1, Math.ceil((ms ?? 1000) / 1000));
}

function messageOf(error: unknown): string {
  if (error instanceof Error && error.message) return error.message.split('\n')[0] ?? error.message;
  const status = cosmosStatusOf(error);
  return status === undefined ? 'Cosmos DB request failed' : `Cosmos DB answered ${status}`;
}
