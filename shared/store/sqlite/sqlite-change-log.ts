import type Database from 'better-sqlite3';
import { AppError } from '../../errors';
import type { ChangeScope, ReadMeter } from '../port';

/**
 * The change log of a tenant's SQLite database (table `record_changes`, schema in
 * sqlite-connection.ts): what was written in which seq under which keys, and the reads of it by
 * scope. Rows keep their own latest seq as well (`records.seq`); the log adds the keys, so a reader
 * can ask for the changes of a few owners without reading the entity's.
 */

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/**
 * A cursor is `s2:<seq>:<epochHour>`: the last seq read and the hour (store clock, rounded down) it
 * was issued. The hour tells an expired cursor without reading the log, and changes at most hourly,
 * so an idle device's checkpoint is not rewritten on every sync. Plain seqs are earlier versions'.
 */
const CURSOR_PATTERN = /^s2:(\d{1,15}):(\d{1,10})$/;

/** The cursor at `seq`, issued now. */
export function formatChangeCursor(seq: number, nowMs: number): string {
  return `s2:${seq}:${Math.floor(nowMs / HOUR_MS)}`;
}

/** A parsed cursor: the seq after which to read and the epoch hour it was issued. */
export interface ChangeCursor {
  seq: number;
  hour: number;
}

/** The error of a cursor this store can no longer read from; `reason` says why, for the log. */
export function changeCursorExpired(reason: string): AppError {
  return new AppError('ChangeCursorExpired', `The change cursor can no longer be read (${reason}).`);
}

/**
 * Reads a cursor (undefined: the beginning, issued now).
 *
 * @throws AppError `ChangeCursorExpired` when it is not of this format (an earlier version's, or
 * another store's) or older than the retention allows (less 2 hours' margin: entries written just
 * after the cursor was issued are compacted once they are `retentionDays` old).
 */
export function parseChangeCursor(
  cursor: string | undefined,
  nowMs: number,
  retentionDays: number,
): ChangeCursor {
  const nowHour = Math.floor(nowMs / HOUR_MS);
  if (cursor === undefined) return { seq: 0, hour: nowHour };
  const match = CURSOR_PATTERN.exec(cursor);
  if (match === null) throw changeCursorExpired('not a cursor of this store');
  const parsed = { seq: Number(match[1]), hour: Number(match[2]) };
  if (parsed.hour < nowHour - (retentionDays * 24 - 2)) throw changeCursorExpired('older than the retention');
  return parsed;
}

/** Log entries deleted per compaction at most: keeps the write transaction that compacts short. */
const COMPACTION_BATCH = 4_000;
/** How often a connection compacts while it writes, unless the last compaction left a backlog. */
const COMPACTION_INTERVAL_MS = 60_000;
/** Entries read per (entity, key) and statement: a page reads about what it returns, not limit × keys. */
const SCOPE_FETCH = 256;

interface EntryRow {
  seq: number;
  id: string;
}

/** The reads of one (entity, key) of a scoped read: fetched a slice at a time, in seq order. */
interface ScopeStream {
  entity: string;
  key: string;
  /** The seq after which the next slice starts. */
  after: number;
  slice: EntryRow[];
  position: number;
  /** True once a slice came back short: nothing is left up to the head. */
  exhausted: boolean;
}

/** The rows of a scoped page, each at the seq of its last entry read, and where the next read starts. */
export interface ScopedChanges {
  rows: { entity: string; id: string; seq: number }[];
  /** The last seq consumed: the head when every scoped entry up to it was read. */
  seq: number;
  more: boolean;
}

/** The log's prepared statements on one connection, and its compaction schedule there. */
export class SqliteChangeLog {
  private readonly insert: Database.Statement<[number, string, string, string, number]>;
  private readonly oldest: Database.Statement<[number], { seq: number; at: number }>;
  private readonly deleteBelow: Database.Statement<[number]>;
  private readonly raiseHorizon: Database.Statement<[number]>;
  private readonly horizonSeq: Database.Statement<[], { seq: number }>;
  private readonly ofScope: Database.Statement<[string, string, number, number, number], EntryRow>;
  /** When this connection compacts next (epoch ms of the store clock). */
  private compactAt = Number.NEGATIVE_INFINITY;

  constructor(db: Database.Database) {
    this.insert = db.prepare('INSERT INTO record_changes (seq, key, entity, id, at) VALUES (?, ?, ?, ?, ?)');
    this.oldest = db.prepare('SELECT seq, at FROM record_changes ORDER BY seq, key LIMIT ?');
    this.deleteBelow = db.prepare('DELETE FROM record_changes WHERE seq < ?');
    this.raiseHorizon = db.prepare('UPDATE record_change_horizon SET seq = max(seq, ?)');
    this.horizonSeq = db.prepare('SELECT seq FROM record_change_horizon');
    this.ofScope = db.prepare(
      `SELECT seq, id FROM record_changes
       WHERE entity = ? AND key = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
    );
  }

  /** Logs one applied write: under `''` and under each of its ownership keys. In the write's transaction. */
  append(seq: number, entity: string, id: string, keys: readonly string[], atMs: number): void {
    this.insert.run(seq, '', entity, id, atMs);
    for (const key of keys) this.insert.run(seq, key, entity, id, atMs);
  }

  /**
   * Deletes entries older than the retention, oldest seqs first, at most {@link COMPACTION_BATCH}
   * of them, and raises the horizon over them. Runs in a write transaction, at most once a minute
   * per connection, but again at once while a backlog remains, so compaction keeps up with any
   * write rate. Stops at the first entry that is young enough: `at` follows seq but for clock skew
   * between writers, and keeping an old entry longer is harmless.
   */
  compactIfDue(nowMs: number, retentionDays: number): void {
    if (nowMs < this.compactAt) return;
    this.compactAt = nowMs + COMPACTION_INTERVAL_MS;
    const cutoff = nowMs - retentionDays * DAY_MS;
    // One entry first: on most rounds the oldest is young enough and nothing more is read.
    const [first] = this.oldest.all(1);
    if (first === undefined || first.at >= cutoff) return;
    const entries = this.oldest.all(COMPACTION_BATCH);
    const young = entries.findIndex((entry) => entry.at >= cutoff);
    const last = entries[entries.length - 1]!.seq;
    /** Entries below this seq go. */
    let below: number;
    if (young !== -1) below = entries[young]!.seq;
    else if (entries.length < COMPACTION_BATCH) below = last + 1;
    else {
      // A full batch of old entries may end inside a seq: keep that seq whole for the next round,
      // which comes with the next write, not in a minute, as old entries remain.
      below = last;
      this.compactAt = nowMs;
    }
    this.deleteBelow.run(below);
    this.raiseHorizon.run(below - 1);
  }

  /** The seq at or below which entries may be missing: a cursor below it cannot be read from the log. */
  horizon(): number {
    return this.horizonSeq.get()?.seq ?? 0;
  }

  /**
   * The changed rows of `scopes` in (after, head], in seq order, each row once, at most `limit` rows
   * and about `maxEntries` entries (a hot row rewritten thousands of times must not make one page
   * unbounded). Merges one seq-ordered stream per (entity, key); an entry under several keys of the
   * scopes (owner and business unit) has one seq and counts once. Entries read go to `meter.changes`.
   */
  readScoped(
    scopes: readonly ChangeScope[],
    after: number,
    head: number,
    limit: number,
    maxEntries: number,
    meter: ReadMeter | undefined,
  ): ScopedChanges {
    const streams = scopeStreams(scopes, after);
    const fetch = Math.min(limit + 1, SCOPE_FETCH);
    const refill = (stream: ScopeStream): void => {
      stream.slice = this.ofScope.all(stream.entity, stream.key, stream.after, head, fetch);
      stream.position = 0;
      stream.exhausted = stream.slice.length < fetch;
      if (meter !== undefined) meter.changes += stream.slice.length;
      const last = stream.slice[stream.slice.length - 1];
      if (last !== undefined) stream.after = last.seq;
    };

    const rows = new Map<string, { entity: string; id: string; seq: number }>();
    let consumed = after;
    let entries = 0;
    for (;;) {
      let next: { stream: ScopeStream; entry: EntryRow } | undefined;
      for (const stream of streams) {
        if (stream.position === stream.slice.length && !stream.exhausted) refill(stream);
        const entry = stream.slice[stream.position];
        if (entry !== undefined && (next === undefined || entry.seq < next.entry.seq))
          next = { stream, entry };
      }
      if (next === undefined) return { rows: [...rows.values()], seq: head, more: false };
      const { entity } = next.stream;
      const { seq, id } = next.entry;
      const rowKey = `${entity}\u0000${id}`;
      if ((!rows.has(rowKey) && rows.size === limit) || entries >= maxEntries) {
        return { rows: [...rows.values()], seq: consumed, more: true };
      }
      // A seq is one write: under another key of the scopes it is the same change, stepped over.
      for (const stream of streams) {
        if (stream.slice[stream.position]?.seq === seq) stream.position += 1;
      }
      rows.delete(rowKey);
      rows.set(rowKey, { entity, id, seq });
      consumed = seq;
      entries += 1;
    }
  }
}

/**
 * One stream per (entity, key) the scopes name: key `''` for a scope without ownership keys, which
 * makes the entity's keyed streams redundant (its entries are every change of the entity).
 */
function scopeStreams(scopes: readonly ChangeScope[], after: number): ScopeStream[] {
  const keysByEntity = new Map<string, Set<string>>();
  for (const scope of scopes) {
    let keys = keysByEntity.get(scope.entity);
    if (keys === undefined) {
      keys = new Set();
      keysByEntity.set(scope.entity, keys);
    }
    if (scope.ownershipKeys === undefined) keys.add('');
    else for (const key of scope.ownershipKeys) keys.add(key);
  }
  const streams: ScopeStream[] = [];
  for (const [entity, keys] of keysByEntity) {
    const chosen = keys.has('') ? [''] : [...keys].sort();
    for (const key of chosen) streams.push({ entity, key, after, slice: [], position: 0, exhausted: false });
  }
  return streams;
}
