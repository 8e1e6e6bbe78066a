import { useEffect, useState } from 'preact/hooks';
import type { ConsoleConfig } from '../../shared/model/console-config';
import { get, setToken } from './api';
import { entraSignOut, entraToken } from './entra';
import { AppsAndSettings } from './screens/apps-settings';
import { Entities } from './screens/entities';
import { ProfileEditor } from './screens/profile-editor';
import { Profiles } from './screens/profiles';
import { Provisioning } from './screens/provisioning';
import { Replication } from './screens/replication';
import { SyncErrors } from './screens/sync-errors';
import { Tenants } from './screens/tenants';
import { loadSession, saveSession, type Session } from './session';
import { SignIn } from './signin';
import { PickerOrg } from './directory-picker';
import { ErrorText } from './ui';

/** The screens, by the first segment of the location's hash (`#/profiles/sellers`). */
const SCREENS = [
  { path: 'tenants', title: 'Tenants', operator: true },
  { path: 'entities', title: 'Entities', operator: false },
  { path: 'profiles', title: 'Profiles', operator: false },
  { path: 'apps', title: 'Apps and settings', operator: false },
  { path: 'provisioning', title: 'Provisioning', operator: false },
  { path: 'sync-errors', title: 'Sync errors', operator: false },
  { path: 'replication', title: 'Replication health', operator: false },
] as const;

function currentRoute(): string[] {
  return location.hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
}

export function App() {
  const [config, setConfig] = useState<ConsoleConfig | undefined>();
  const [failure, setFailure] = useState<unknown>();
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [route, setRoute] = useState(currentRoute);

  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    get<ConsoleConfig>('console/config').then(async (loaded) => {
      setConfig(loaded);
      // Back from Microsoft's sign-in (or still signed in there): the API token.
      if (loaded.entra !== null && loadSession() === null) {
        const signedIn = await entraToken(loaded.entra);
        if (signedIn !== undefined) {
          signIn({
            token: signedIn.token,
            org: localStorage.getItem('offline-sync-admin-org'),
            label: signedIn.label,
            kind: 'entra',
            operator: false,
          });
        }
      }
    }, setFailure);
  }, []);

  setToken(session?.token);

  function signIn(next: Session) {
    saveSession(next);
    setToken(next.token);
    setSession(next);
    if (currentRoute().length === 0) location.hash = next.operator ? '#/tenants' : '#/profiles';
  }

  function signOut() {
    const was = session;
    saveSession(null);
    setToken(undefined);
    setSession(null);
    if (was?.kind === 'entra' && config?.entra) void entraSignOut(config.entra);
  }

  if (failure !== undefined) return <ErrorText error={failure} />;
  if (config === undefined) return <p>Loading…</p>;
  if (session === null) return <SignIn config={config} onSignIn={signIn} />;

  const [screen = session.operator ? 'tenants' : 'profiles', ...rest] = route;
  const org = session.org;
  const chooseOrg = (next: string) => {
    const updated = { ...session, org: next };
    saveSession(updated);
    setSession(updated);
  };

  return (
    <div class="layout">
      <header>
        <strong>Offline sync admin</strong>
        <span class="who">
          {session.label}
          {org !== null && <> · tenant {org}</>}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Screens">
        <ul>
          {SCREENS.filter((s) => s.operator === session.operator).map((s) => (
            <li key={s.path}>
              <a href={`#/${s.path}`} aria-current={screen === s.path ? 'page' : undefined}>
                {s.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {/* Directory pickers (lookup conditions, profile users) search the tenant being worked on. */}
      <PickerOrg.Provider value={org ?? undefined}>
        <main>
          {screen === 'tenants' && <Tenants onChoose={chooseOrg} />}
          {screen !== 'tenants' && org === null && <p>Choose a tenant first.</p>}
          {org !== null && screen === 'entities' && <Entities org={org} />}
          {org !== null && screen === 'profiles' && rest[0] === undefined && <Profiles org={org} />}
          {org !== null && screen === 'profiles' && rest[0] !== undefined && (
            <ProfileEditor org={org} id={rest[0]} key={rest[0]} />
          )}
          {org !== null && screen === 'apps' && <AppsAndSettings org={org} />}
          {org !== null && screen === 'provisioning' && <Provisioning org={org} />}
          {org !== null && screen === 'sync-errors' && <SyncErrors org={org} />}
          {org !== null && screen === 'replication' && <Replication org={org} />}
        </main>
      </PickerOrg.Provider>
    </div>
  );
}
