import { AppError, toErrorResponse } from '../../shared/errors';

describe('toErrorResponse', () => {
  it('maps an AppError to its status with code, message and details', () => {
    const { status, body } = toErrorResponse(
      new AppError('ProfileInvalid', 'bad', { details: [{ path: 'items.0', message: 'x' }] }),
      't1',
    );
    expect(status).toBe(422);
    expect(body.error).toEqual({
      code: 'ProfileInvalid',
      message: 'bad',
      details: [{ path: 'items.0', message: 'x' }],
      traceId: 't1',
    });
  });

  it('hides the message and stack of anything else', () => {
    const { status, body } = toErrorResponse(new Error('secret connection string'));
    expect(status).toBe(500);
    expect(body.error.code).toBe('Internal');
    expect(JSON.stringify(body)).not.toContain('secret');
  });
});
