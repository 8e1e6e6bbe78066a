/**
 * `@offline-sync/client/react`: hooks over a sync client (React 18+, an optional peer). Works the
 * same in React Native.
 *
 * ```tsx
 * const status = useSyncStatus(client);
 * const { rows, error } = useQuery(client, client.table('task').where({ statecode: 0 }).orderBy('scheduledend'));
 * ```
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { Table } from './live-query';
import type { RowQuery } from './query';
import type { SyncClient } from './sync-client';
import type { SyncStatus } from './sync-status';

/** The client's sync status, re-rendering on each change. */
export function useSyncStatus(client: Pick<SyncClient, 'status' | 'subscribeStatus'>): SyncStatus {
  return useSyncExternalStore(client.subscribeStatus, client.status, client.status);
}

/** A live query's state: `rows` undefined until the first answer. */
export interface QueryState<Row> {
  rows: Row[] | undefined;
  error: unknown;
  loading: boolean;
}

/**
 * The rows of a live query (`client.watch`), re-rendering when they change. The query may be built
 * anew on each render: it is compared by value.
 */
export function useQuery<Row>(
  client: Pick<SyncClient, 'watch'>,
  query: Table<Row> | RowQuery<Row>,
): QueryState<Row> {
  const plain: RowQuery<Row> = 'query' in query ? query.query : query;
  const key = JSON.stringify(plain);
  const [state, setState] = useState<QueryState<Row>>({ rows: undefined, error: undefined, loading: true });
  useEffect(() => {
    setState((s) => (s.loading ? s : { ...s, loading: true }));
    const parsed = JSON.parse(key) as RowQuery<Row>;
    return client.watch<Row>(
      parsed,
      (rows) => setState({ rows, error: undefined, loading: false }),
      (error) => setState((s) => ({ ...s, error, loading: false })),
    );
  }, [client, key]);
  return state;
}
