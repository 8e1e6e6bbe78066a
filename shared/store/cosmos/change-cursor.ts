import { AppError } from '../../errors';

/**
 * The change cursor of the Cosmos store: `cs2:<seq>:<epochHour>`, the last seq a reader passed and
 * an hour (of the store's clock, rounded down) such that every marker after that seq was written no
 * earlier than an hour before it. The hour is what lets a cursor expire: markers live for the change
 * retention (their `ttl`), so a cursor whose hour is older than the retention minus two hours may
 * point before markers that are gone — one hour for the rounding down, one for how long a marker
 * may wait before the watermark passes it (the gap timeout and the time until the next settle are
 * far shorter). Such a cursor, or one of an earlier format (`cs1:`), is `ChangeCursorExpired`: the
 * sync engine starts the device over from the rows themselves.
 *
 * Only the hour is kept, not the time, so that an idle device's cursor changes at most once an hour
 * (a download that changed nothing writes no new checkpoint within the hour).
 */
export interface ChangeCursor {
  position: number;
  /** Undefined for the start of the sequence (no cursor): it vouches for no marker's age. */
  hour: number | undefined;
}

const HOUR_MS = 3_600_000;
const CURSOR = /^cs2:(\d{1,15}):(\d{1,9})$/;

/** The hour (since the epoch, rounded down) of an instant. */
export function epochHour(now: Date): number {
  return Math.floor(now.getTime() / HOUR_MS);
}

/**
 * The oldest hour a cursor may carry at `now` and still be read: markers written an hour before it
 * are still retained.
 */
export function oldestValidHour(now: Date, retentionDays: number): number {
  return epochHour(now) - (retentionDays * 24 - 2);
}

export function formatChangeCursor(position: number, hour: number): string {
  return `cs2:${position}:${hour}`;
}

/** Reads a cursor (undefined: the start of the sequence), refusing one that may have outlived its markers. */
export function parseChangeCursor(
  cursor: string | undefined,
  now: Date,
  retentionDays: number,
): ChangeCursor {
  if (cursor === undefined) return { position: 0, hour: undefined };
  const match = CURSOR.exec(cursor);
  if (match === null) {
    if (cursor.startsWith('cs2:')) {
      throw new AppError('ValidationFailed', 'The change cursor is not valid.', {
        details: [{ path: 'cursor', message: 'not a cursor of this store' }],
      });
    }
    // Another format: a cursor of an earlier version of this store (`cs1:`), or of another store.
    throw new AppError('ChangeCursorExpired', 'The change cursor is of an earlier format: start over.');
  }
  const hour = Number(match[2]);
  if (hour < oldestValidHour(now, retentionDays)) {
    throw new AppError(
      'ChangeCursorExpired',
      `The change cursor is older than the change retention (${retentionDays} days): start over.`,
    );
  }
  return { position: Number(match[1]), hour };
}
