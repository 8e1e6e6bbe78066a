import type { LocalStore, RowData } from './local-store';
import { evaluateQuery, rowQuerySchema, type OrderBy, type RowQuery, type Where } from './query';
import { SyncClientError } from './sync-transport';

/** Row types per entity: what `generate-types` writes, or `Record<string, RowData>` untyped. */
export type TableSchema = object;
export type RowOf<Schema extends TableSchema, E extends string> = E extends keyof Schema
  ? Schema[E]
  : RowData;

/** Which entities' rows changed: told after each local write and each applied download page. */
export interface ChangeFeed {
  notify(entities: Iterable<string>): void;
  subscribe(listener: (entities: ReadonlySet<string>) => void): () => void;
}

export function createChangeFeed(): ChangeFeed {
  const listeners = new Set<(entities: ReadonlySet<string>) => void>();
  return {
    notify(entities) {
      const changed = new Set(entities);
      if (changed.size === 0) return;
      for (const listener of [...listeners]) listener(changed);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Runs a query on the store: its own `queryRows` when it has one, else over `listRows`. */
export async function runQuery<Row>(store: LocalStore, query: RowQuery<Row>): Promise<Row[]> {
  const parsed = rowQuerySchema.safeParse(query);
  if (!parsed.success)
    throw new SyncClientError('ValidationFailed', `Invalid query: ${parsed.error.message}`);
  const checked = parsed.data;
  const rows = await store.transaction(async (tx) =>
    tx.queryRows ? tx.queryRows(checked) : evaluateQuery(await tx.listRows(checked.entity), checked),
  );
  return rows as Row[];
}

/**
 * Calls `callback` with the query's rows now and again after every change of its entity (a local
 * write, an applied download page), when the rows differ from the last ones it was given. Runs of
 * one query never overlap: changes during a run are answered by one more run. Returns the function
 * that stops it.
 */
export function watchQuery<Row>(
  store: LocalStore,
  feed: ChangeFeed,
  query: RowQuery<Row>,
  callback: (rows: Row[]) => void,
  onError?: (error: unknown) => void,
): () => void {
  let stopped = false;
  let running = false;
  let again = false;
  let last: string | undefined;
  const run = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const rows = await runQuery(store, query);
        const key = JSON.stringify(rows);
        if (!stopped && key !== last) {
          last = key;
          callback(rows);
        }
      } while (again && !stopped);
    } catch (error) {
      if (!stopped) {
        if (onError) onError(error);
        else throw error;
      }
    } finally {
      running = false;
    }
  };
  // Without onError a failed run is an unhandled rejection: reported by the platform, never hidden.
  const start = (): void => void run();
  const unsubscribe = feed.subscribe((entities) => {
    if (!stopped && entities.has(query.entity)) start();
  });
  start();
  return () => {
    stopped = true;
    unsubscribe();
  };
}

/** A query being built on one entity; each call returns a new query. */
export interface Table<Row> {
  readonly query: RowQuery<Row>;
  /** Rows meeting every condition (`where` calls add up; a column named again is replaced). */
  where(conditions: Where<Row>): Table<Row>;
  /** Adds an order column (the row id always ends the order). */
  orderBy(column: keyof Row & string, direction?: 'asc' | 'desc'): Table<Row>;
  limit(n: number): Table<Row>;
  offset(n: number): Table<Row>;
  get(): Promise<Row[]>;
  first(): Promise<Row | undefined>;
  /** Live query: see `watchQuery`. Returns the function that stops it. */
  watch(callback: (rows: Row[]) => void, onError?: (error: unknown) => void): () => void;
}

export function createTable<Row>(store: LocalStore, feed: ChangeFeed, query: RowQuery<Row>): Table<Row> {
  const next = (changes: Partial<RowQuery<Row>>): Table<Row> =>
    createTable(store, feed, { ...query, ...changes });
  return {
    query,
    where: (conditions) => next({ where: { ...query.where, ...conditions } }),
    orderBy: (column, direction = 'asc') => {
      const order: OrderBy<Row> = { column, direction };
      return next({ orderBy: [...(query.orderBy ?? []), order] });
    },
    limit: (limit) => next({ limit }),
    offset: (offset) => next({ offset }),
    get: () => runQuery(store, query),
    first: async () => (await runQuery(store, { ...query, limit: 1 }))[0],
    watch: (callback, onError) => watchQuery(store, feed, query, callback, onError),
  };
}
