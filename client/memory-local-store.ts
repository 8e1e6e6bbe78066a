import type {
  LocalRow,
  LocalStore,
  LocalStoreTransaction,
  LocalSyncError,
  LocalSyncState,
  OutboxEntry,
} from './local-store';

/** A JSON value's deep copy: what the store hands out can never alias what it keeps. */
const copy = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/**
 * A `LocalStore` in memory (`@offline-sync/client/memory`): for tests, for a short-lived tab or process,
 * and as the reference a new store is compared with. Nothing survives `close()`. Transactions run one
 * at a time and are atomic: every write logs how to undo itself, and a transaction that rejects runs
 * its log backwards.
 */
export function createMemoryLocalStore(): LocalStore {
  const state: LocalSyncState = {};
  const rows = new Map<string, Map<string, LocalRow>>();
  const outbox = new Map<string, OutboxEntry>();
  const errors = new Map<string, LocalSyncError>();
  let nextSeq = 1;
  let undo: (() => void)[] = [];

  const tableOf = (entity: string): Map<string, LocalRow> => {
    let table = rows.get(entity);
    if (!table) {
      table = new Map();
      rows.set(entity, table);
      undo.push(() => rows.delete(entity));
    }
    return table;
  };
  /** Sets or deletes `key` in `map`, logging the previous value. */
  const write = <V>(map: Map<string, V>, key: string, value: V | undefined): void => {
    const had = map.has(key);
    const before = map.get(key);
    undo.push(() => (had ? map.set(key, before as V) : map.delete(key)));
    if (value === undefined) map.delete(key);
    else map.set(key, value);
  };
  const setState = <K extends keyof LocalSyncState>(key: K, value: LocalSyncState[K]): void => {
    const had = key in state;
    const before = state[key];
    undo.push(() => {
      if (had) state[key] = before;
      else delete state[key];
    });
    if (value === undefined) delete state[key];
    else state[key] = value;
  };
  const bySeq = (a: OutboxEntry, b: OutboxEntry): number => a.seq - b.seq;

  const tx: LocalStoreTransaction = {
    async readState() {
      return copy({ ...state });
    },
    async saveCheckpoint(checkpoint) {
      setState('checkpoint', checkpoint);
    },
    async saveMetadata(metadata) {
      for (const entity of metadata.entities) tableOf(entity.logicalName);
      setState('metadata', copy(metadata));
    },
    async getRow(entity, id) {
      return copy(rows.get(entity)?.get(id));
    },
    async putRow(row) {
      const { serverRow, ...rest } = row;
      write(
        tableOf(row.entity),
        row.id,
        copy(row.pending ? { ...rest, serverRow: serverRow ?? null } : rest),
      );
    },
    async deleteRow(entity, id) {
      write(tableOf(entity), id, undefined);
    },
    async listRows(entity) {
      const table = rows.get(entity);
      if (!table) return [];
      // Ordered by id as SQLite's BINARY collation orders text (UTF-16 code units for these ids).
      return [...table.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((id) => copy(table.get(id)!));
    },
    async listOutbox(limit) {
      const all = [...outbox.values()].sort(bySeq);
      return copy(limit === undefined ? all : all.slice(0, limit));
    },
    async outboxOf(entity, id) {
      return copy([...outbox.values()].filter((e) => e.entity === entity && e.id === id).sort(bySeq));
    },
    async addOutbox(entry) {
      const seq = nextSeq++;
      undo.push(() => (nextSeq = seq));
      const added: OutboxEntry = { ...copy(entry), seq };
      write(outbox, entry.opId, added);
      return copy(added);
    },
    async updateOutbox(entry) {
      const held = outbox.get(entry.opId);
      if (!held) return;
      const { row: _row, baseVersion: _base, afterOpId: _after, ...fixed } = held;
      write(outbox, entry.opId, {
        ...fixed,
        ...(entry.row === undefined ? {} : { row: copy(entry.row) }),
        ...(entry.baseVersion === undefined ? {} : { baseVersion: entry.baseVersion }),
        ...(entry.afterOpId === undefined ? {} : { afterOpId: entry.afterOpId }),
      });
    },
    async deleteOutbox(opId) {
      write(outbox, opId, undefined);
    },
    async putSyncError(error) {
      write(errors, error.id, copy(error));
    },
    async listSyncErrors() {
      // Newest first, then by id, as the SQLite store orders them.
      return copy(
        [...errors.values()].sort((a, b) =>
          a.time !== b.time ? (a.time < b.time ? 1 : -1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
        ),
      );
    },
    async deleteSyncError(id) {
      write(errors, id, undefined);
    },
  };

  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  return {
    transaction<T>(work: (t: LocalStoreTransaction) => Promise<T>): Promise<T> {
      const run = async (): Promise<T> => {
        if (closed) throw new Error('The memory store is closed.');
        undo = [];
        try {
          return await work(tx);
        } catch (error) {
          for (const step of undo.reverse()) step();
          throw error;
        } finally {
          undo = [];
        }
      };
      const next = queue.then(run, run);
      queue = next.catch(() => undefined);
      return next;
    },
    async close() {
      await queue;
      closed = true;
    },
  };
}
