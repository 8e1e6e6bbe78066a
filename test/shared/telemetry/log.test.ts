import { AppError } from '../../../shared/errors';
import { errorFields, logLine, withLogScope, type LogLevel } from '../../../shared/telemetry/log';

/** The one place log lines get their context: the scope a host opened, across awaits and nested scopes. */

function collect(): { sink: (level: LogLevel, line: string) => void; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { sink: (_level, line) => lines.push(JSON.parse(line) as Record<string, unknown>), lines };
}

describe('logLine', () => {
  it('adds the scope’s org, route, trace id and ms, across awaits; data cannot override them', async () => {
    const { sink, lines } = collect();
    await withLogScope({ sink, route: 'syncDownload', traceId: 't-1', org: 'acme' }, async () => {
      await Promise.resolve();
      logLine('info', 'sync.download', { rows: 3, org: 'spoofed', traceId: 'spoofed' });
    });
    expect(lines).toEqual([
      {
        time: expect.any(String),
        level: 'info',
        msg: 'sync.download',
        rows: 3,
        org: 'acme',
        route: 'syncDownload',
        traceId: 't-1',
        ms: expect.any(Number),
      },
    ]);
  });

  it('a nested scope adds its fields and keeps the outer sink; a scope without route or trigger has no ms', () => {
    const { sink, lines } = collect();
    withLogScope({ sink }, () => {
      logLine('warn', 'outside');
      withLogScope({ trigger: 'queue:replication' }, () =>
        withLogScope({ org: 'acme' }, () => logLine('error', 'inside')),
      );
    });
    expect(lines[0]).toEqual({ time: expect.any(String), level: 'warn', msg: 'outside' });
    expect(lines[1]).toMatchObject({
      level: 'error',
      msg: 'inside',
      trigger: 'queue:replication',
      org: 'acme',
    });
    expect(lines[1]!.ms).toEqual(expect.any(Number));
  });

  it('without a host scope writes warnings and errors to the console, not info lines', () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    logLine('info', 'quiet');
    logLine('error', 'loud');
    expect(log).not.toHaveBeenCalled();
    expect(error).toHaveBeenCalledWith(expect.stringContaining('"msg":"loud"'));
    jest.restoreAllMocks();
  });
});

describe('errorFields', () => {
  it('names the product’s errors by code, never their message; a bug’s stack is kept', () => {
    const fields = errorFields(new AppError('ValidationFailed', 'value secret-42 is bad'));
    expect(fields).toEqual({ errorType: 'ValidationFailed' });
    const bug = errorFields(new TypeError('x is undefined'));
    expect(bug).toMatchObject({ errorType: 'TypeError', stack: expect.stringContaining('TypeError') });
  });
});
