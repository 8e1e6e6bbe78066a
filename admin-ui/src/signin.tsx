import { useState } from 'preact/hooks';
import type { ConsoleConfig } from '../../shared/model/console-config';
import { send } from './api';
import { startEntraSignIn } from './entra';
import { tokenClaims, type Session } from './session';
import { ErrorText, useAction } from './ui';

const OPERATOR_ROLE = 'OfflineSync.Admin';

/** A session for a token: labelled by its name claim; an operator when it carries no tenant. */
function sessionFor(token: string, org: string | null, kind: Session['kind'], operator: boolean): Session {
  const claims = tokenClaims(token);
  const name =
    typeof claims.name === 'string' ? claims.name : typeof claims.oid === 'string' ? claims.oid : 'signed in';
  return { token, org: org === '' ? null : org, label: name, kind, operator };
}

/**
 * Sign-in: on the local host, a development token as the operator or a tenant's admin (a directory
 * user or none); anywhere, a pasted token; in Azure, Microsoft Entra (MSAL) when configured.
 */
export function SignIn({ config, onSignIn }: { config: ConsoleConfig; onSignIn: (s: Session) => void }) {
  const [org, setOrg] = useState(localStorage.getItem('offline-sync-admin-org') ?? 'contoso');
  const [user, setUser] = useState('alice');
  const [pasted, setPasted] = useState('');
  const action = useAction();

  const rememberOrg = () => localStorage.setItem('offline-sync-admin-org', org);

  return (
    <main class="signin">
      <h1>Offline sync admin</h1>
      <label>
        Tenant (org)
        <input value={org} onInput={(e) => setOrg(e.currentTarget.value)} name="org" autoComplete="off" />
      </label>
      {config.developmentSignIn && (
        <fieldset>
          <legend>Development sign-in (this local host)</legend>
          <label>
            Directory user (empty: an admin tied to no user)
            <input
              value={user}
              onInput={(e) => setUser(e.currentTarget.value)}
              name="user"
              autoComplete="off"
            />
          </label>
          <div class="buttons">
            <button
              type="button"
              disabled={action.busy}
              onClick={() =>
                action.run(async () => {
                  rememberOrg();
                  const { token } = await send<{ token: string }>('POST', 'console/development-token', {
                    org,
                    ...(user.trim() === '' ? {} : { user: user.trim() }),
                    admin: true,
                  });
                  onSignIn(sessionFor(token, org, 'development', false));
                })
              }
            >
              Sign in as tenant admin
            </button>
            <button
              type="button"
              disabled={action.busy}
              onClick={() =>
                action.run(async () => {
                  const { token } = await send<{ token: string }>('POST', 'console/development-token', {
                    operator: true,
                  });
                  onSignIn(sessionFor(token, null, 'development', true));
                })
              }
            >
              Sign in as operator
            </button>
          </div>
        </fieldset>
      )}
      {config.entra !== null && (
        <fieldset>
          <legend>Microsoft Entra ID</legend>
          <button
            type="button"
            onClick={() =>
              action.run(async () => {
                rememberOrg();
                await startEntraSignIn(config.entra!);
              })
            }
          >
            Sign in with Microsoft
          </button>
        </fieldset>
      )}
      <fieldset>
        <legend>Paste a token</legend>
        <label>
          Bearer token
          <textarea value={pasted} onInput={(e) => setPasted(e.currentTarget.value)} name="token" rows={3} />
        </label>
        <button
          type="button"
          disabled={pasted.trim() === ''}
          onClick={() => {
            rememberOrg();
            const token = pasted.trim();
            const roles = tokenClaims(token).roles;
            const admin = Array.isArray(roles) && roles.includes(OPERATOR_ROLE);
            onSignIn(sessionFor(token, org, 'pasted', admin && org.trim() === ''));
          }}
        >
          Use this token
        </button>
      </fieldset>
      <ErrorText error={action.error} />
    </main>
  );
}
