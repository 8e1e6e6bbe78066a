import { AppError } from '../../../../shared/errors';
import { toStoreError } from '../../../../shared/store/cosmos/cosmos-errors';

/** An error shaped like the Cosmos SDK's ErrorResponse. */
function sdkError(code: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`status ${code}\nwith details`), { code, ...extra });
}

describe('toStoreError', () => {
  it.each([
    [404, 'NotFound'],
    [409, 'Conflict'],
    [412, 'PreconditionFailed'],
    [413, 'PayloadTooLarge'],
    [429, 'Throttled'],
    [500, 'Unavailable'],
    [503, 'Unavailable'],
  ] as const)('translates status %i into %s', (status, code) => {
    const error = toStoreError(sdkError(status), { what: 'Reading x' });
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe(code);
    expect(error.message).toBe(`Reading x: status ${status}`);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('never marks an item over 2 MB as retryable: 413 carries no retry delay and is not Unavailable', () => {
    const error = toStoreError(sdkError(413, { headers: { 'x-ms-retry-after-ms': '100' } }), { what: 'w' });
    expect(error).toMatchObject({ code: 'PayloadTooLarge', status: 413 });
    expect(error.retryAfterSeconds).toBeUndefined();
  });

  it('says what a 404 means where it happened', () => {
    expect(toStoreError(sdkError(404), { what: 'q', notFound: 'TenantNotProvisioned' }).code).toBe(
      'TenantNotProvisioned',
    );
  });

  it('carries the retry delay of a 429, rounded up to whole seconds', () => {
    expect(toStoreError(sdkError(429, { retryAfterInMs: 1500 }), { what: 'w' }).retryAfterSeconds).toBe(2);
    expect(
      toStoreError(sdkError(429, { headers: { 'x-ms-retry-after-ms': '3200' } }), { what: 'w' })
        .retryAfterSeconds,
    ).toBe(4);
    expect(toStoreError(sdkError(429), { what: 'w' }).retryAfterSeconds).toBe(1);
  });

  it('reads the status of management-plane errors and passes AppErrors through', () => {
    expect(
      toStoreError(Object.assign(new Error('gone'), { code: 'NotFound', statusCode: 404 }), { what: 'a' })
        .code,
    ).toBe('NotFound');
    const own = new AppError('Conflict', 'mine');
    expect(toStoreError(own, { what: 'a' })).toBe(own);
    expect(toStoreError('weird', { what: 'a' })).toMatchObject({
      code: 'Unavailable',
      message: 'a: Cosmos DB request failed',
    });
  });
});
