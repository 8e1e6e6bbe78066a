import { useState } from 'preact/hooks';
import type { AppConfig } from '../../../shared/model/app';
import type { ProfileDraft } from '../../../shared/model/profile';
import type { TenantSettings } from '../../../shared/model/settings';
import type { ApiError } from '../api';
import { get, send, seg } from '../api';
import {
  ErrorText,
  Field,
  FieldViolations,
  keepViolations,
  Notice,
  Section,
  useAction,
  useLoad,
} from '../ui';

/** The tenant's app modules (chosen from their list, or a new one by id), and the tenant settings. */
export function AppsAndSettings({ org }: { org: string }) {
  return (
    <>
      <AppEditor org={org} />
      <SettingsEditor org={org} />
    </>
  );
}

type AppDraft = Pick<AppConfig, 'name' | 'offlineEnabled' | 'profiles'>;

/** The value of the app list's "new app" choice (an app id cannot be empty). */
const NEW_APP = '';

function AppEditor({ org }: { org: string }) {
  const apps = useLoad(() => get<{ apps: AppConfig[] }>(`admin/${seg(org)}/apps`), [org]);
  const profiles = useLoad(() => get<{ profiles: ProfileDraft[] }>(`admin/${seg(org)}/profiles`), [org]);
  const [chosen, setChosen] = useState<string | undefined>();
  const [newId, setNewId] = useState('');
  const [app, setApp] = useState<AppDraft | undefined>();
  const save = useAction();
  const [violations, setViolations] = useState<ApiError['violations']>([]);
  const list = apps.value?.apps ?? [];
  // The first app is open until another is chosen.
  const selected = chosen ?? list[0]?.id ?? NEW_APP;
  const existing = list.find((a) => a.id === selected);
  const appId = selected === NEW_APP ? newId.trim() : selected;
  const current: AppDraft | undefined =
    app ??
    (existing && {
      name: existing.name,
      offlineEnabled: existing.offlineEnabled,
      profiles: existing.profiles,
    }) ??
    (appId === '' ? undefined : { name: appId, offlineEnabled: false, profiles: [] });
  return (
    <Section title="Apps">
      <ErrorText error={apps.error} />
      <label>
        App
        <select
          name="app"
          value={selected}
          onChange={(e) => {
            setChosen(e.currentTarget.value);
            setApp(undefined);
            setViolations([]);
          }}
        >
          {list.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name} ({a.id}){a.offlineEnabled ? '' : ', offline off'}
            </option>
          ))}
          <option value={NEW_APP}>New app…</option>
        </select>
      </label>
      {selected === NEW_APP && (
        <Field label="New app id" name="app-id" value={newId} onInput={setNewId} violations={violations} />
      )}
      {current && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.run(async () => {
              await keepViolations(setViolations, () =>
                send('PUT', `admin/${seg(org)}/apps/${seg(appId)}`, current),
              );
              setApp(undefined);
              setChosen(appId);
              setNewId('');
              apps.reload();
              return `App ${appId} saved.`;
            });
          }}
        >
          <Field
            label="Name"
            name="app-name"
            path="name"
            value={current.name}
            onInput={(name) => setApp({ ...current, name })}
            violations={violations}
          />
          <label class="inline">
            <input
              type="checkbox"
              checked={current.offlineEnabled}
              onChange={(e) => setApp({ ...current, offlineEnabled: e.currentTarget.checked })}
            />
            Offline enabled
          </label>
          <fieldset>
            <legend>Profiles (published ones serve devices)</legend>
            {(profiles.value?.profiles ?? []).map((p) => (
              <label class="inline" key={p.id}>
                <input
                  type="checkbox"
                  checked={current.profiles.includes(p.id)}
                  onChange={(e) =>
                    setApp({
                      ...current,
                      profiles: e.currentTarget.checked
                        ? [...current.profiles, p.id]
                        : current.profiles.filter((id) => id !== p.id),
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
              setDraft(
                await keepViolations(setViolations, () =>
                  send<TenantSettings>('PUT', `admin/${seg(org)}/settings`, value),
                ),
              );
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
            <Field
              key={field}
              type="number"
              label={label}
              name={field}
              value={value[field]}
              onInput={(text) => setDraft({ ...value, [field]: Number(text) })}
              violations={violations}
            />
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
