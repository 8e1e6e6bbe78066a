import type { ConsoleConfig } from '../../shared/model/console-config';

/**
 * Microsoft Entra sign-in for the page in Azure: MSAL.js (authorization code with PKCE, redirect
 * flow) against the API's app registration, configured by `GET api/console/config`. Loaded only when
 * used, so the local host's page never fetches it.
 */

type EntraConfig = NonNullable<ConsoleConfig['entra']>;

async function client(config: EntraConfig) {
  const { createStandardPublicClientApplication } = await import('@azure/msal-browser');
  return createStandardPublicClientApplication({
    auth: {
      clientId: config.clientId,
      authority: config.authority,
      redirectUri: `${location.origin}/api/console`,
    },
    cache: { cacheLocation: 'sessionStorage' },
  });
}

/** Sends the browser to Microsoft's sign-in; it comes back to /api/console. */
export async function startEntraSignIn(config: EntraConfig): Promise<void> {
  const app = await client(config);
  await app.loginRedirect({ scopes: config.scopes });
}

/**
 * On the page's load: the access token for the API when coming back from sign-in, or silently for an
 * account already signed in; undefined when neither.
 */
export async function entraToken(config: EntraConfig): Promise<{ token: string; label: string } | undefined> {
  const app = await client(config);
  const redirected = await app.handleRedirectPromise();
  const account = redirected?.account ?? app.getAllAccounts()[0];
  if (account === undefined || account === null) return undefined;
  const result =
    redirected !== null && redirected.accessToken !== ''
      ? redirected
      : await app.acquireTokenSilent({ scopes: config.scopes, account });
  return { token: result.accessToken, label: account.username };
}

export async function entraSignOut(config: EntraConfig): Promise<void> {
  const app = await client(config);
  await app.logoutRedirect({ postLogoutRedirectUri: `${location.origin}/api/console` });
}
