import type { LocalStore, LocalStoreTransaction } from './local-store';
import {
  webStoreOpenedSchema,
  webStoreResponseSchema,
  type WebStoreCall,
  type WebStoreMethod,
  type WebStorePersistence,
  type WebStoreRequest,
} from './web-store-protocol';

/** What the store needs of a `Worker` (the DOM's type is not assumed: the SDK builds without it). */
export interface WebStoreWorker {
  postMessage(message: WebStoreRequest): void;
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (event: unknown) => void): void;
  terminate(): void;
}

/** Options of {@link openWebLocalStore}. */
export interface WebLocalStoreOptions {
  /** The database's file name in the pool, e.g. `device.db` (letters, digits, `.`, `_`, `-`). */
  name: string;
  /**
   * Starts the store's worker, e.g. `() => new Worker(new URL('./store-worker.js', import.meta.url),
   * { type: 'module' })` over a script that imports `@offline-sync/client/web-worker`.
   */
  worker: () => WebStoreWorker;
  /** Columns to index per entity, as `createSqliteLocalStore`'s `indexes`. */
  indexes?: Record<string, string[]>;
  /** Fail to open where OPFS is missing instead of keeping the data in memory. */
  requirePersistence?: boolean;
}

/** The browser store: a `LocalStore` whose SQLite database lives in a worker. */
export interface WebLocalStore extends LocalStore {
  /** `opfs-sahpool`: kept across reloads; `memory`: lost when the page goes (OPFS was missing). */
  readonly persistence: WebStorePersistence;
  /** Why the store is only in memory, when it is. */
  readonly persistenceReason?: string;
}

/** An error the worker answered with, or a failure of the worker itself. */
export class WebStoreError extends Error {
  override readonly name = 'WebStoreError';
}

type Method<M extends WebStoreMethod> = Extract<WebStoreCall, { method: M }>;

/**
 * Opens the browser store: starts its worker, which opens `name` on OPFS (`opfs-sahpool`: no
 * SharedArrayBuffer, no COOP/COEP headers needed) or, where OPFS is missing, in memory (see
 * `persistence`). Every transaction call is one message to the worker and its answer; a download
 * page is one message (`applyServerChanges`). Transactions are queued: one at a time.
 *
 * One store per file at a time: the pool's OPFS handles are exclusive, so a second tab opening
 * the same pool fails once the first keeps them (after a short wait for a reloading page's worker).
 */
export async function openWebLocalStore(options: WebLocalStoreOptions): Promise<WebLocalStore> {
  const worker = options.worker();
  let nextId = 1;
  let broken: Error | undefined;
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const fail = (error: Error): void => {
    broken ??= error;
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  worker.addEventListener('message', (event) => {
    const parsed = webStoreResponseSchema.safeParse((event as { data?: unknown }).data);
    if (!parsed.success) {
      fail(new WebStoreError(`The store's worker sent an unreadable answer: ${parsed.error.message}`));
      return;
    }
    const answer = parsed.data;
    const w = waiting.get(answer.id);
    if (!w) {
      fail(new WebStoreError(`The store's worker answered request ${answer.id}, which is not waiting.`));
      return;
    }
    waiting.delete(answer.id);
    if (answer.ok) w.resolve(answer.value);
    else w.reject(new WebStoreError(`${answer.error.name}: ${answer.error.message}`));
  });
  worker.addEventListener('error', (event) => {
    const message = (event as { message?: unknown }).message;
    fail(
      new WebStoreError(`The store's worker failed: ${typeof message === 'string' ? message : 'no message'}`),
    );
  });
  worker.addEventListener('messageerror', () =>
    fail(new WebStoreError('A message to the worker could not be read.')),
  );

  // `Omit` of a union member keeps the request's own fields, `id` added here.
  const request = (message: DistributiveOmit<WebStoreRequest, 'id'>): Promise<unknown> => {
    if (broken) return Promise.reject(broken);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });
  };

  let opened;
  try {
    opened = webStoreOpenedSchema.parse(
      await request({
        op: 'open',
        name: options.name,
        ...(options.indexes ? { indexes: options.indexes } : {}),
        ...(options.requirePersistence ? { requirePersistence: true } : {}),
      }),
    );
  } catch (error) {
    worker.terminate();
    throw error;
  }

  const call = async <M extends WebStoreMethod>(method: M, ...args: Method<M>['args']): Promise<unknown> =>
    request({ op: 'call', method, args } as DistributiveOmit<WebStoreRequest, 'id'>);

  // The values are the worker's own answers to the calls below, read by the SQL of sqlite-schema.ts.
  const tx: LocalStoreTransaction = {
    readState: async () =>
      (await call('readState')) as Awaited<ReturnType<LocalStoreTransaction['readState']>>,
    saveCheckpoint: async (checkpoint) => void (await call('saveCheckpoint', checkpoint)),
    saveMetadata: async (metadata) => void (await call('saveMetadata', metadata)),
    getRow: async (entity, id) =>
      (await call('getRow', entity, id)) as Awaited<ReturnType<LocalStoreTransaction['getRow']>>,
    putRow: async (row) => void (await call('putRow', row)),
    deleteRow: async (entity, id) => void (await call('deleteRow', entity, id)),
    applyServerChanges: async (changes) => void (await call('applyServerChanges', [...changes])),
    queryRows: async (query) =>
      (await call('queryRows', query)) as Awaited<
        ReturnType<NonNullable<LocalStoreTransaction['queryRows']>>
      >,
    listRows: async (entity) =>
      (await call('listRows', entity)) as Awaited<ReturnType<LocalStoreTransaction['listRows']>>,
    listOutbox: async (limit) =>
      (await call('listOutbox', limit)) as Awaited<ReturnType<LocalStoreTransaction['listOutbox']>>,
    outboxOf: async (entity, id) =>
      (await call('outboxOf', entity, id)) as Awaited<ReturnType<LocalStoreTransaction['outboxOf']>>,
    addOutbox: async (entry) =>
      (await call('addOutbox', entry)) as Awaited<ReturnType<LocalStoreTransaction['addOutbox']>>,
    updateOutbox: async (entry) => void (await call('updateOutbox', entry)),
    deleteOutbox: async (opId) => void (await call('deleteOutbox', opId)),
    putSyncError: async (error) => void (await call('putSyncError', error)),
    listSyncErrors: async () =>
      (await call('listSyncErrors')) as Awaited<ReturnType<LocalStoreTransaction['listSyncErrors']>>,
    deleteSyncError: async (id) => void (await call('deleteSyncError', id)),
  };

  // One connection in the worker: transactions are queued so two never interleave their calls.
  let queue: Promise<unknown> = Promise.resolve();
  const transaction = <T>(work: (t: LocalStoreTransaction) => Promise<T>): Promise<T> => {
    const run = async (): Promise<T> => {
      await request({ op: 'begin' });
      try {
        const result = await work(tx);
        await request({ op: 'commit' });
        return result;
      } catch (error) {
        // The worker rolls back only a transaction still open (a failed COMMIT may have ended it).
        try {
          await request({ op: 'rollback' });
        } catch (rollbackError) {
          throw new AggregateError(
            [error, rollbackError],
            'The transaction failed, and so did its rollback.',
          );
        }
        throw error;
      }
    };
    const next = queue.then(run, run);
    queue = next.catch(() => undefined);
    return next;
  };

  return {
    persistence: opened.persistence,
    ...(opened.reason === undefined ? {} : { persistenceReason: opened.reason }),
    transaction,
    async close() {
      await queue;
      try {
        await request({ op: 'close' });
      } finally {
        worker.terminate();
      }
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
