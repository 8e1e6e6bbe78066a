import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { AppError } from '../../errors';
import type { DocEtag, DocStore, PutDocOptions, ReadMeter, StoredDoc } from '../port';
import { perConnection, translateSqliteError } from './sqlite-connection';

interface DocRow {
  kind: string;
  id: string;
  value: string;
  etag: string;
}

/** The prepared statements of one connection, prepared once and reused for every call. */
class DocStatements {
  readonly get: Database.Statement<[string, string], DocRow>;
  readonly getEtag: Database.Statement<[string, string], { etag: string }>;
  readonly upsert: Database.Statement<[string, string, string, string]>;
  readonly remove: Database.Statement<[string, string]>;
  readonly listFrom: Database.Statement<[string, string], DocRow>;
  readonly listEtagsFrom: Database.Statement<[string, string], DocEtag>;
  /** Conditional writes read and write under one write lock, so two connections cannot both win. */
  readonly putConditionally: Database.Transaction<
    (kind: string, id: string, json: string, etag: string, options: PutDocOptions) => void
  >;
  readonly deleteConditionally: Database.Transaction<(kind: string, id: string, ifMatch: string) => boolean>;

  constructor(db: Database.Database) {
    this.get = db.prepare('SELECT kind, id, value, etag FROM docs WHERE kind = ? AND id = ?');
    this.getEtag = db.prepare('SELECT etag FROM docs WHERE kind = ? AND id = ?');
    this.upsert = db.prepare(
      `INSERT INTO docs (kind, id, value, etag) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, etag = excluded.etag`,
    );
    this.remove = db.prepare('DELETE FROM docs WHERE kind = ? AND id = ?');
    // Ids that start with a prefix sort contiguously from the prefix on (BINARY collation).
    this.listFrom = db.prepare(
      'SELECT kind, id, value, etag FROM docs WHERE kind = ? AND id >= ? ORDER BY id',
    );
    this.listEtagsFrom = db.prepare('SELECT id, etag FROM docs WHERE kind = ? AND id >= ? ORDER BY id');
    this.putConditionally = db.transaction((kind, id, json, etag, options) => {
      const current = this.getEtag.get(kind, id);
      if (options.ifNoneMatch === '*' && current !== undefined) {
        throw new AppError('Conflict', `Document ${kind}/${id} already exists.`);
      }
      if (options.ifMatch !== undefined && current?.etag !== options.ifMatch) {
        throw new AppError('PreconditionFailed', `Document ${kind}/${id} was changed by another writer.`);
      }
      this.upsert.run(kind, id, json, etag);
    });
    this.deleteConditionally = db.transaction((kind, id, ifMatch) => {
      const current = this.getEtag.get(kind, id);
      if (current === undefined) return false;
      if (current.etag !== ifMatch) {
        throw new AppError('PreconditionFailed', `Document ${kind}/${id} was changed by another writer.`);
      }
      return this.remove.run(kind, id).changes > 0;
    });
  }
}

/** The prepared statements of a connection, made on its first use. */
const statementsOf = perConnection((db) => new DocStatements(db));

/** A fresh opaque token per write: 96 random bits cannot repeat across writers or processes. */
function newEtag(): string {
  return randomBytes(12).toString('base64url');
}

function toDoc<T>(row: DocRow): StoredDoc<T> {
  return { kind: row.kind, id: row.id, value: JSON.parse(row.value) as T, etag: row.etag };
}

/**
 * The {@link DocStore} of one SQLite database (the control store or a tenant's). `connect` returns
 * the open connection, or throws (e.g. `TenantNotProvisioned`) when there is none. Deleting with
 * `ifMatch` a document that no longer exists returns `false` (nothing was deleted; the caller's
 * goal holds), while `putDoc` with `ifMatch` on a missing document is `PreconditionFailed`. Reads
 * add the documents they read (listed etags included) to `meter` when one is given.
 */
export class SqliteDocStore implements DocStore {
  constructor(
    private readonly connect: () => Database.Database,
    private readonly meter?: ReadMeter,
  ) {}

  private countDocs(count: number): void {
    if (this.meter !== undefined) this.meter.docs += count;
  }

  private run<R>(operation: (statements: DocStatements) => R): Promise<R> {
    try {
      return Promise.resolve(operation(statementsOf(this.connect())));
    } catch (error) {
      return Promise.reject(translateSqliteError(error));
    }
  }

  getDocIfChanged<T = unknown>(
    kind: string,
    id: string,
    etag: string,
  ): Promise<StoredDoc<T> | 'unchanged' | undefined> {
    return this.run((s) => {
      // The etag first (an index look-up); the value only when it changed. One read either way.
      const current = s.getEtag.get(kind, id);
      if (current === undefined) return undefined;
      this.countDocs(1);
      if (current.etag === etag) return 'unchanged';
      const row = s.get.get(kind, id);
      return row === undefined ? undefined : toDoc<T>(row);
    });
  }

  getDoc<T = unknown>(kind: string, id: string): Promise<StoredDoc<T> | undefined> {
    return this.run((s) => {
      const row = s.get.get(kind, id);
      if (row === undefined) return undefined;
      this.countDocs(1);
      return toDoc<T>(row);
    });
  }

  putDoc<T>(kind: string, id: string, value: T, options: PutDocOptions = {}): Promise<StoredDoc<T>> {
    return this.run((s) => {
      const json = JSON.stringify(value);
      if (json === undefined) throw new AppError('ValidationFailed', `Document ${kind}/${id} is not JSON.`);
      const etag = newEtag();
      if (options.ifMatch === undefined && options.ifNoneMatch === undefined)
        s.upsert.run(kind, id, json, etag);
      else s.putConditionally.immediate(kind, id, json, etag, options);
      // Return the value as stored (a JSON round trip), as a later getDoc would; parsed only when read,
      // as most writers never read it (an initial download's plan chunks and held buckets, megabytes
      // each, were parsed back and thrown away).
      let parsed: { value: T } | undefined;
      return {
        kind,
        id,
        get value(): T {
          parsed ??= { value: JSON.parse(json) as T };
          return parsed.value;
        },
        set value(value: T) {
          parsed = { value };
        },
        etag,
      };
    });
  }

  deleteDoc(kind: string, id: string, options: { ifMatch?: string } = {}): Promise<boolean> {
    return this.run((s) =>
      options.ifMatch === undefined
        ? s.remove.run(kind, id).changes > 0
        : s.deleteConditionally.immediate(kind, id, options.ifMatch),
    );
  }

  listDocs<T = unknown>(kind: string, options: { prefix?: string } = {}): Promise<StoredDoc<T>[]> {
    return this.run((s) => {
      const prefix = options.prefix ?? '';
      const docs: StoredDoc<T>[] = [];
      for (const row of s.listFrom.iterate(kind, prefix)) {
        if (!row.id.startsWith(prefix)) break;
        docs.push(toDoc<T>(row));
      }
      this.countDocs(docs.length);
      return docs;
    });
  }

  listDocEtags(kind: string, options: { prefix?: string } = {}): Promise<DocEtag[]> {
    return this.run((s) => {
      const prefix = options.prefix ?? '';
      const tags: DocEtag[] = [];
      for (const row of s.listEtagsFrom.iterate(kind, prefix)) {
        if (!row.id.startsWith(prefix)) break;
        tags.push({ id: row.id, etag: row.etag });
      }
      this.countDocs(tags.length);
      return tags;
    });
  }
}
