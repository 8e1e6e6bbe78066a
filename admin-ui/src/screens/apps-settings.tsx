import { useState } from 'preact/hooks';
import type { AppConfig } from '../../../shared/model/app';
import type { ProfileDraft } from '../../../shared/model/profile';
import type { TenantSettings } from '../../../shared/model/settings';
import { ApiError, get, send, seg } from '../api';
import { ErrorText, FieldViolations, Notice, Section, useAction, useLoad } from '../ui';

/** An app module's offline settings (by id: the API lists no apps), and the tenant settings. */
export function AppsAndSettings({ org }: { org: string }) {
  return (
    <>
      <AppEditor org={org} />
      <SettingsEditor org={org} />
    </>
  );
}

function AppEditor({ org }: { org: string }) {
  const [appId, setAppId] = useState('field-sales');
  const [app, setApp] = useState<Pick<AppConfig, 'name' | 'offlineEnabled' | 'profiles'> | undefined>();
  const profiles = useLoad(() => get<{ profiles: ProfileDraft[] }>(`admin/${seg(org)}/profiles`), [org]);
  const load = useAction();
  const save = useAction();
  const [violations, setViolations] = useState<ApiError['violations']>([]);
  return (
    <Section title="App">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          load.run(async () => {
            try {
              setApp(await get<AppConfig>(`admin/${seg(org)}/apps/${seg(appId)}`));
            } catch (error) {
              if (error instanceof ApiError && error.status === 404) {
                setApp({ name: appId, offlineEnabled: false, profiles: [] });
                return `No app '${appId}' yet: save to create it.`;
              }
              throw error;
            }
          });
        }}
      >
        <label>
          App id
          <input value={appId} onInput={(e) => setAppId(e.currentTarget.value)} name="app-id" />
        </label>
        <button type="submit">Open</button>
      </form>
      <ErrorText error={load.error} />
      <Notice text={load.done} />
      {app && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.run(async () => {
              setViolations([]);
              try {
                await send('PUT', `admin/${seg(org)}/apps/${seg(appId)}`, app);
              } catch (error) {
                if (error instanceof ApiError) setViolations(error.violations);
                throw error;
              }
              return `App ${appId} saved.`;
            });
          }}
        >
          <label>
            Name
            <input
              value={app.name}
              onInput={(e) => setApp({ ...app, name: e.currentTarget.value })}
              name="app-name"
            />
          </label>
          <label class="inline">
            <input
              type="checkbox"
              checked={app.offlineEnabled}
              onChange={(e) => setApp({ ...app, offlineEnabled: e.currentTarget.checked })}
            />
            Offline enabled
          </label>
          <fieldset>
            <legend>Profiles (published ones serve devices)</legend>
            {(profiles.value?.profiles ?? []).map((p) => (
              <label class="inline" key={p.id}>
                <input
                  type="checkbox"
                  checked={app.profiles.includes(p.id)}
                  onChange={(e) =>
                    setApp({
                      ...app,
                      profiles: e.currentTarget.checked
                        ? [...app.profiles, p.id]
                        : app.profiles.filter((id) => id !== p.id),
                    })
                  }
                />
                {p.name} ({p.id}
                {p.publishedVersion === 0 ? ', never published' : `, v${p.publishedVersion}`})
              </label>
            ))}
          </fieldset>
          <FieldViolations violations={violations} path="profiles" />
          <button type="submit" disabled={save.busy}>
            Save app
          </button>
          <ErrorText error={save.error} />
          <Notice text={save.done} />
        </form>
      )}
    </Section>
  );
}

const NUMBER_FIELDS = [
  ['syncIntervalSeconds', 'Sync interval (seconds, 300 to 86,400)'],
  ['softRowLimit', 'Soft row limit (warned past it)'],
  ['hardRowLimit', 'Hard row limit (refused past it)'],
  ['maxRelationshipsPerItem', 'Most associations per profile item'],
  ['maxOneToManyPerItem', 'Most one-to-many or many-to-many of them'],
] as const;

function SettingsEditor({ org }: { org: string }) {
  const loaded = useLoad(() => get<TenantSettings>(`admin/${seg(org)}/settings`), [org]);
  const [draft, setDraft] = useState<TenantSettings | undefined>();
  const save = useAction();
  const [violations, setViolations] = useState<ApiError['violations']>([]);
  const value = draft ?? loaded.value;
  return (
    <Section title="Tenant settings">
      <ErrorText error={loaded.error} />
      {value && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.run(async () => {
              setViolations([]);
              try {
                setDraft(await send<TenantSettings>('PUT', `admin/${seg(org)}/settings`, value));
              } catch (error) {
                if (error instanceof ApiError) setViolations(error.violations);
                throw error;
              }
              return 'Settings saved.';
            });
          }}
        >
          <label class="inline">
            <input
              type="checkbox"
              checked={value.conflictDetection}
              onChange={(e) => setDraft({ ...value, conflictDetection: e.currentTarget.checked })}
            />
            Conflict detection (on: the server's row wins)
          </label>
          {NUMBER_FIELDS.map(([field, label]) => (
            <div key={field}>
              <label>
                {label}
                <input
                  type="number"
                  name={field}
                  value={value[field]}
                  onInput={(e) => setDraft({ ...value, [field]: Number(e.currentTarget.value) })}
                />
              </label>
              <FieldViolations violations={violations} path={field} />
            </div>
          ))}
          <button type="submit" disabled={save.busy}>
            Save settings
          </button>
          <ErrorText error={save.error} />
          <Notice text={save.done} />
        </form>
      )}
    </Section>
  );
}
