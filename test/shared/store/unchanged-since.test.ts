import { AppError, type ErrorCode } from '../../../shared/errors';
import { retryOnWriteRace, unchangedSince } from '../../../shared/store/port';

describe('unchangedSince', () => {
  it('asks for the etag that was read, or for no document when none was read', () => {
    expect(unchangedSince('"etag-1"')).toEqual({ ifMatch: '"etag-1"' });
    expect(unchangedSince(undefined)).toEqual({ ifNoneMatch: '*' });
  });
});

describe('retryOnWriteRace', () => {
  /** An attempt failing with `codes` in turn, then answering how many runs it took. */
  const attemptFailing = (codes: ErrorCode[]) => {
    let runs = 0;
    return {
      runs: () => runs,
      attempt: async () => {
        const code = codes[runs++];
        if (code !== undefined) throw new AppError(code, `run ${runs}`);
        return runs;
      },
    };
  };

  it.each<[string, ErrorCode[], number, number | string]>([
    ['a first write that wins: one run', [], 3, 1],
    ['lost to an IfMatch writer, then won', ['PreconditionFailed'], 3, 2],
    ['lost to an IfNoneMatch creator twice, then won', ['Conflict', 'Conflict'], 3, 3],
    [
      'lost every time: the last race is thrown',
      ['PreconditionFailed', 'Conflict', 'Conflict'],
      3,
      'Conflict',
    ],
    ['any other failure is thrown at once', ['Unavailable', 'PreconditionFailed'], 3, 'Unavailable'],
  ])('%s', async (_name, codes, attempts, expected) => {
    const { attempt, runs } = attemptFailing(codes);
    if (typeof expected === 'number') {
      await expect(retryOnWriteRace(attempts, attempt)).resolves.toBe(expected);
      expect(runs()).toBe(expected);
    } else {
      await expect(retryOnWriteRace(attempts, attempt)).rejects.toMatchObject({ code: expected });
      expect(runs()).toBe(expected === 'Unavailable' ? 1 : attempts);
    }
  });
});
