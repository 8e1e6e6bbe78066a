import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { AppError } from '../../errors';
import { openSqliteFile, translateSqliteError } from '../../store/sqlite/sqlite-connection';

/** How long a writer waits for another connection's write lock before giving up (ms). */

/**
 * One row per message. `visible_at` is the single due time: when it is scheduled for, when its lock
 * expires (a leased message is invisible until then), or when a retry is due. `state` moves from
 * `active` to `completed` or `deadLettered` once; settled rows stay for de-duplication and status.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lock_token TEXT,
    state TEXT NOT NULL,
    settled_at INTEGER,
    last_error TEXT,
    dead_letter_reason TEXT,
    dead_letter_description TEXT
  );
  CREATE INDEX IF NOT EXISTS messages_due ON messages (state, visible_at, seq);
  CREATE INDEX IF NOT EXISTS messages_by_message_id ON messages (message_id);
  CREATE INDEX IF NOT EXISTS messages_settled ON messages (state, settled_at);`;

/** A message handed to a consumer, with the lock token that settles it. */
export interface LeasedMessage {
  seq: number;
  messageId: string;
  body: unknown;
  enqueuedAt: Date;
  deliveryCount: number;
  lockToken: string;
}

/** A dead-lettered message, for status pages and operators. */
export interface DeadLetter {
  messageId: string;
  body: unknown;
  /** `PoisonMessage` (the handler said it can never succeed) or `MaxDeliveryCountExceeded`. */
  reason: 'PoisonMessage' | 'MaxDeliveryCountExceeded';
  /** The last error's message. */
  description: string;
  deliveryCount: number;
  enqueuedAt: Date;
  deadLetteredAt: Date;
}

/** How many messages are in each state. */
export interface QueueCounts {
  /** Due now (waiting for a consumer, or leased with an expired lock). */
  pending: number;
  /** Not yet due (scheduled for later, or waiting out a retry backoff). */
  scheduled: number;
  /** Leased to a consumer whose lock has not expired. */
  locked: number;
  deadLettered: number;
  /** Completed and still remembered for de-duplication. */
  completed: number;
}

/** One message to insert. */
export interface NewMessage {
  body: string;
  messageId: string | undefined;
  visibleAt: number;
}

interface LeaseRow {
  seq: number;
  message_id: string;
  body: string;
  enqueued_at: number;
  delivery_count: number;
  last_error: string | null;
}

interface DeadLetterRow {
  message_id: string;
  body: string;
  dead_letter_reason: DeadLetter['reason'];
  dead_letter_description: string;
  delivery_count: number;
  enqueued_at: number;
  settled_at: number;
}

/**
 * The embedded queue's table and its operations, each one SQLite transaction. Leasing takes the
 * write lock up front (`BEGIN IMMEDIATE`), so several processes sharing the data folder (the host
 * and the CLI) never lease the same message twice while its lock holds.
 */
export class QueueDatabase {
  private readonly db: Database.Database;
  private readonly statements: {
    findDuplicate: Database.Statement<[string, number], { seq: number }>;
    insert: Database.Statement<[string, string, number, number]>;
    due: Database.Statement<[number, number], LeaseRow>;
    lease: Database.Statement<[string, number, number]>;
    complete: Database.Statement<[number, number, string]>;
    release: Database.Statement<[number, string, number, string]>;
    deadLetterLocked: Database.Statement<[DeadLetter['reason'], string, number, string, number, string]>;
    deadLetterUnleased: Database.Statement<[DeadLetter['reason'], string, number, number]>;
    deadLetters: Database.Statement<[number], DeadLetterRow>;
    purge: Database.Statement<[number]>;
    counts: Database.Statement<[number, number, number], QueueCounts>;
  };
  private readonly insertMany: Database.Transaction<
    (messages: readonly NewMessage[], now: number, dedupeSince: number) => number
  >;
  private readonly leaseMany: Database.Transaction<
    (now: number, limit: number, lockMs: number, maxDeliveryCount: number) => LeasedMessage[]
  >;

  constructor(path: string) {
    try {
      this.db = openSqliteFile(path, SCHEMA, { mustExist: false });
    } catch (error) {
      throw translateQueueError(error);
    }
    const db = this.db;
    this.statements = {
      // A message id is a duplicate while a message with it is active, or within the window.
      findDuplicate: db.prepare(
        `SELECT seq FROM messages WHERE message_id = ? AND (state = 'active' OR enqueued_at >= ?) LIMIT 1`,
      ),
      insert: db.prepare(
        `INSERT INTO messages (message_id, body, enqueued_at, visible_at, state) VALUES (?, ?, ?, ?, 'active')`,
      ),
      due: db.prepare(
        `SELECT seq, message_id, body, enqueued_at, delivery_count, last_error FROM messages
         WHERE state = 'active' AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?`,
      ),
      lease: db.prepare(
        `UPDATE messages SET delivery_count = delivery_count + 1, lock_token = ?, visible_at = ? WHERE seq = ?`,
      ),
      complete: db.prepare(
        `UPDATE messages SET state = 'completed', settled_at = ?, lock_token = NULL
         WHERE seq = ? AND lock_token = ? AND state = 'active'`,
      ),
      release: db.prepare(
        `UPDATE messages SET visible_at = ?, lock_token = NULL, last_error = ?
         WHERE seq = ? AND lock_token = ? AND state = 'active'`,
      ),
      deadLetterLocked: db.prepare(
        `UPDATE messages SET state = 'deadLettered', dead_letter_reason = ?, dead_letter_description = ?,
           settled_at = ?, last_error = ?, lock_token = NULL
         WHERE seq = ? AND lock_token = ? AND state = 'active'`,
      ),
      // At lease time: the message's lock expired too often; no consumer holds it.
      deadLetterUnleased: db.prepare(
        `UPDATE messages SET state = 'deadLettered', dead_letter_reason = ?, dead_letter_description = ?,
           settled_at = ?, lock_token = NULL
         WHERE seq = ? AND state = 'active'`,
      ),
      deadLetters: db.prepare(
        `SELECT message_id, body, dead_letter_reason, dead_letter_description, delivery_count, enqueued_at,
           settled_at FROM messages WHERE state = 'deadLettered' ORDER BY settled_at, seq LIMIT ?`,
      ),
      purge: db.prepare(`DELETE FROM messages WHERE state = 'completed' AND enqueued_at < ?`),
      counts: db.prepare(
        `SELECT
           coalesce(sum(state = 'active' AND visible_at <= ?), 0) AS pending,
           coalesce(sum(state = 'active' AND visible_at > ? AND lock_token IS NULL), 0) AS scheduled,
           coalesce(sum(state = 'active' AND visible_at > ? AND lock_token IS NOT NULL), 0) AS locked,
           coalesce(sum(state = 'deadLettered'), 0) AS deadLettered,
           coalesce(sum(state = 'completed'), 0) AS completed
         FROM messages`,
      ),
    };

    this.insertMany = db.transaction((messages: readonly NewMessage[], now: number, dedupeSince: number) => {
      let inserted = 0;
      for (const message of messages) {
        if (
          message.messageId !== undefined &&
          this.statements.findDuplicate.get(message.messageId, dedupeSince)
        ) {
          continue;
        }
        this.statements.insert.run(message.messageId ?? randomUUID(), message.body, now, message.visibleAt);
        inserted += 1;
      }
      return inserted;
    });

    this.leaseMany = db.transaction(
      (now: number, limit: number, lockMs: number, maxDeliveryCount: number) => {
        const leased: LeasedMessage[] = [];
        // Rows dead-lettered here leave the due set, so ask again until enough are leased or none is due.
        for (;;) {
          const rows = this.statements.due.all(now, limit - leased.length);
          if (rows.length === 0) return leased;
          for (const row of rows) {
            if (row.delivery_count >= maxDeliveryCount) {
              // Every delivery so far ended with an expired lock (a crashed consumer): give up on it.
              const description =
                `The lock expired after ${row.delivery_count} deliveries without settlement` +
                (row.last_error === null ? '.' : `; last error: ${row.last_error}`);
              this.statements.deadLetterUnleased.run('MaxDeliveryCountExceeded', description, now, row.seq);
              continue;
            }
            const lockToken = randomUUID();
            this.statements.lease.run(lockToken, now + lockMs, row.seq);
            leased.push({
              seq: row.seq,
              messageId: row.message_id,
              body: JSON.parse(row.body) as unknown,
              enqueuedAt: new Date(row.enqueued_at),
              deliveryCount: row.delivery_count + 1,
              lockToken,
            });
          }
          if (leased.length >= limit) return leased;
        }
      },
    );
  }

  private run<R>(operation: () => R): R {
    try {
      return operation();
    } catch (error) {
      throw translateQueueError(error);
    }
  }

  /** Inserts messages, skipping those whose id is a duplicate; returns how many were inserted. */
  insert(messages: readonly NewMessage[], now: number, dedupeSince: number): number {
    return this.run(() => this.insertMany.immediate(messages, now, dedupeSince));
  }

  /** Leases up to `limit` due messages for `lockMs`, dead-lettering those out of deliveries. */
  lease(now: number, limit: number, lockMs: number, maxDeliveryCount: number): LeasedMessage[] {
    return this.run(() => this.leaseMany.immediate(now, limit, lockMs, maxDeliveryCount));
  }

  /** Settles a leased message; false when its lock was lost (it expired and the message moved on). */
  complete(message: LeasedMessage, now: number): boolean {
    return this.run(() => this.statements.complete.run(now, message.seq, message.lockToken).changes === 1);
  }

  /** Makes a leased message due again at `visibleAt`, remembering the error. */
  release(message: LeasedMessage, visibleAt: number, error: string): boolean {
    return this.run(
      () => this.statements.release.run(visibleAt, error, message.seq, message.lockToken).changes === 1,
    );
  }

  /** Dead-letters a leased message with its reason. */
  deadLetter(
    message: LeasedMessage,
    reason: DeadLetter['reason'],
    description: string,
    now: number,
  ): boolean {
    return this.run(
      () =>
        this.statements.deadLetterLocked.run(
          reason,
          description,
          now,
          description,
          message.seq,
          message.lockToken,
        ).changes === 1,
    );
  }

  deadLetters(limit: number): DeadLetter[] {
    return this.run(() =>
      this.statements.deadLetters.all(limit).map((row) => ({
        messageId: row.message_id,
        body: JSON.parse(row.body) as unknown,
        reason: row.dead_letter_reason,
        description: row.dead_letter_description,
        deliveryCount: row.delivery_count,
        enqueuedAt: new Date(row.enqueued_at),
        deadLetteredAt: new Date(row.settled_at),
      })),
    );
  }

  /** Forgets completed messages sent before `before` (their ids no longer de-duplicate). */
  purgeCompleted(before: number): number {
    return this.run(() => this.statements.purge.run(before).changes);
  }

  counts(now: number): QueueCounts {
    return this.run(() => this.statements.counts.get(now, now, now)!);
  }

  close(): void {
    this.db.close();
  }
}

/** A better-sqlite3 failure of the queue's database as an {@link AppError}. */
function translateQueueError(error: unknown): AppError {
  return translateSqliteError(error, 'embedded queue');
}
