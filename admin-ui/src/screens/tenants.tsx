import { useState } from 'preact/hooks';
import type { Tenant } from '../../../shared/model/tenant';
import type { TenantUsage } from '../../../shared/sync/sync-usage';
import { get, send, seg } from '../api';
import { ErrorText, Notice, Section, useAction, useLoad } from '../ui';

type TenantRow = Tenant;

/** Operator: the registered tenants with their state; register one (local source or Dataverse). */
export function Tenants({ onChoose }: { onChoose: (org: string) => void }) {
  const list = useLoad(() => get<{ tenants: TenantRow[] }>('admin/tenants'), []);
  const [org, setOrg] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [entraTenantId, setEntraTenantId] = useState('');
  const [kind, setKind] = useState<'local' | 'dataverse'>('local');
  const [url, setUrl] = useState('');
  const [usageOrg, setUsageOrg] = useState<string | null>(null);
  const action = useAction();

  return (
    <>
      <Section title="Tenants">
        <ErrorText error={list.error} />
        <table>
          <thead>
            <tr>
              <th scope="col">Org</th>
              <th scope="col">Name</th>
              <th scope="col">Source</th>
              <th scope="col">State</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {(list.value?.tenants ?? []).map((t) => (
              <tr key={t.org}>
                <td>{t.org}</td>
                <td>{t.displayName}</td>
                <td>{t.source.kind}</td>
                <td>{t.state}</td>
                <td>
                  <button type="button" onClick={() => onChoose(t.org)} aria-label={`Work on ${t.org}`}>
                    Work on it
                  </button>{' '}
                  <button type="button" onClick={() => setUsageOrg(t.org)} aria-label={`Usage of ${t.org}`}>
                    Usage
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {usageOrg !== null && <UsageOf org={usageOrg} />}
      <Section title="Register a tenant">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            action.run(async () => {
              await send('PUT', `admin/tenants/${seg(org)}`, {
                displayName,
                entraTenantId,
                source: kind === 'local' ? { kind: 'local' } : { kind: 'dataverse', url },
              });
              list.reload();
              return `Tenant ${org} registered.`;
            });
          }}
        >
          <label>
            Org
            <input value={org} onInput={(e) => setOrg(e.currentTarget.value)} required name="new-org" />
          </label>
          <label>
            Display name
            <input value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} required />
          </label>
          <label>
            Entra tenant id
            <input value={entraTenantId} onInput={(e) => setEntraTenantId(e.currentTarget.value)} required />
          </label>
          <label>
            Source
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value as 'local' | 'dataverse')}>
              <option value="local">local (this product's own store)</option>
              <option value="dataverse">Dataverse</option>
            </select>
          </label>
          {kind === 'dataverse' && (
            <label>
              Dataverse URL
              <input value={url} onInput={(e) => setUrl(e.currentTarget.value)} type="url" required />
            </label>
          )}
          <button type="submit" disabled={action.busy}>
            Register
          </button>
        </form>
        <ErrorText error={action.error} />
        <Notice text={action.done} />
      </Section>
    </>
  );
}

/** Operator: a tenant's sync usage over the last 7 days (`GET admin/tenants/{org}/usage`). */
function UsageOf({ org }: { org: string }) {
  const usage = useLoad(() => get<TenantUsage>(`admin/tenants/${seg(org)}/usage?days=7`), [org]);
  const u = usage.value;
  return (
    <Section title={`Usage of ${org}`}>
      <ErrorText error={usage.error} />
      {u !== undefined && (
        <>
          <dl aria-label={`Usage figures of ${org}`}>
            <dt>Active devices (last day / 30 days / 90 days)</dt>
            <dd data-figure="active">
              {u.activeDevices.lastDay} / {u.activeDevices.last30Days} / {u.activeDevices.last90Days}
            </dd>
            <dt>Rows held (all devices / most on one)</dt>
            <dd data-figure="rows">
              {u.rowsHeld.total.toLocaleString('en')} / {u.rowsHeld.maxPerDevice.toLocaleString('en')}
            </dd>
          </dl>
          <table aria-label={`Syncs per day of ${org}`}>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                <th scope="col">Syncs completed</th>
              </tr>
            </thead>
            <tbody>
              {u.syncsPerDay.map((d) => (
                <tr key={d.day}>
                  <td>{d.day}</td>
                  <td>{d.syncs}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" onClick={() => usage.reload()}>
            Refresh usage
          </button>
        </>
      )}
    </Section>
  );
}
