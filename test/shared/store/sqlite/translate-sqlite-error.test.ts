import Database from 'better-sqlite3';
import { AppError } from '../../../../shared/errors';
import { translateSqliteError } from '../../../../shared/store/sqlite/sqlite-connection';

const sqliteError = (code: string): Error => new Database.SqliteError('message from SQLite', code);

describe('translateSqliteError', () => {
  it.each(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED'])(
    'makes %s a retryable Unavailable naming the database',
    (code) => {
      const error = translateSqliteError(sqliteError(code), 'embedded queue');
      expect(error).toMatchObject({
        code: 'Unavailable',
        message: 'The embedded queue is busy; retry shortly.',
      });
      expect(error.retryAfterSeconds).toBe(1);
    },
  );

  it('makes any other failure Internal with its code, and keeps AppErrors as they are', () => {
    expect(translateSqliteError(sqliteError('SQLITE_CORRUPT'))).toMatchObject({
      code: 'Internal',
      message: 'Local store failure (SQLITE_CORRUPT).',
    });
    expect(translateSqliteError(new Error('boom'), 'embedded queue').message).toBe('Embedded queue failure.');
    const original = new AppError('NotFound', 'gone');
    expect(translateSqliteError(original)).toBe(original);
  });
});
