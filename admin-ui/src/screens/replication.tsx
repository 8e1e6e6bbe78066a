import type { ReplicationHealth as Health } from '../../../functions/http/routes/replication-routes';
import { get, seg } from '../api';
import { ErrorText, formatSeconds, Section, useLoad } from '../ui';

/** Replication health per entity (`GET admin/{org}/replication`). */
export function Replication({ org }: { org: string }) {
  const health = useLoad(() => get<Health>(`admin/${seg(org)}/replication`), [org]);
  const h = health.value;
  return (
    <Section title="Replication health">
      <ErrorText error={health.error} />
      <button type="button" onClick={health.reload}>
        Refresh
      </button>
      {h && (
        <>
          <p>
            Checked {h.checkedAt} · dead-lettered {h.deadLettered} · failed deliveries {h.failedDeliveries} ·
            rows too large {h.oversizeRows}
          </p>
          {h.lastError && (
            <p class="error">
              Last error ({h.lastError.entity}): {h.lastError.message}
            </p>
          )}
          <table>
            <thead>
              <tr>
                <th scope="col">Entity</th>
                <th scope="col">Last run finished</th>
                <th scope="col">Lag</th>
                <th scope="col">Next run</th>
                <th scope="col">Overdue</th>
              </tr>
            </thead>
            <tbody>
              {h.entities.map((e) => (
                <tr key={e.entity}>
                  <td>{e.entity}</td>
                  <td>{e.lastRunFinishedAt ?? '—'}</td>
                  <td>{formatSeconds(e.lagSeconds)}</td>
                  <td>{e.nextRunAt ?? '—'}</td>
                  <td>{e.overdue ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
}
