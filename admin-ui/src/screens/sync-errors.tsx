import { useState } from 'preact/hooks';
import type { SyncErrorEntry } from '../../../shared/sync/upload/upload-protocol';
import { get, send, seg } from '../api';
import { ErrorText, Notice, Section, useAction, useLoad } from '../ui';

/** The tenant's sync error log, filtered by user and entity; retry an entry as its user. */
export function SyncErrors({ org }: { org: string }) {
  const [user, setUser] = useState('');
  const [entity, setEntity] = useState('');
  const [filter, setFilter] = useState({ user: '', entity: '' });
  const list = useLoad(() => {
    const query = new URLSearchParams();
    if (filter.user !== '') query.set('user', filter.user);
    if (filter.entity !== '') query.set('entity', filter.entity);
    const q = query.toString();
    return get<{ errors: SyncErrorEntry[] }>(`admin/${seg(org)}/sync-errors${q === '' ? '' : `?${q}`}`);
  }, [org, filter.user, filter.entity]);
  const retry = useAction();
  return (
    <Section title="Sync errors">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ user: user.trim(), entity: entity.trim() });
        }}
      >
        <label>
          User id
          <input value={user} onInput={(e) => setUser(e.currentTarget.value)} name="filter-user" />
        </label>
        <label>
          Entity
          <input value={entity} onInput={(e) => setEntity(e.currentTarget.value)} name="filter-entity" />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorText error={list.error} />
      <ErrorText error={retry.error} />
      <Notice text={retry.done} />
      <table>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">User</th>
            <th scope="col">Entity</th>
            <th scope="col">Record</th>
            <th scope="col">Operation</th>
            <th scope="col">Error</th>
            <th scope="col">State</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {(list.value?.errors ?? []).map((entry) => (
            <tr key={entry.id} data-error-id={entry.id}>
              <td>{entry.time}</td>
              <td>{entry.userId}</td>
              <td>{entry.entity}</td>
              <td>{entry.recordId}</td>
              <td>{entry.operation}</td>
              <td>
                {entry.errorCode}: {entry.message}
              </td>
              <td>{entry.state}</td>
              <td>
                {entry.state !== 'resolved' && (
                  <button
                    type="button"
                    disabled={retry.busy}
                    aria-label={`Retry ${entry.operation} of ${entry.entity} ${entry.recordId}`}
                    onClick={() =>
                      retry.run(async () => {
                        const { result } = await send<{ result: { status: string } }>(
                          'POST',
                          `admin/${seg(org)}/sync-errors/${seg(entry.id)}/retry`,
                        );
                        list.reload();
                        return `Retried: ${result.status}.`;
                      })
                    }
                  >
                    Retry
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.value?.errors.length === 0 && <p>No sync errors.</p>}
    </Section>
  );
}
