import { unchangedSince } from '../../../shared/store/port';

describe('unchangedSince', () => {
  it('asks for the etag that was read, or for no document when none was read', () => {
    expect(unchangedSince('"etag-1"')).toEqual({ ifMatch: '"etag-1"' });
    expect(unchangedSince(undefined)).toEqual({ ifNoneMatch: '*' });
  });
});
