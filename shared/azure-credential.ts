import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type { Settings } from './config';

let credential: TokenCredential | undefined;

/** The one credential per process: the user-assigned managed identity in Azure, developer sign-in locally. */
export function azureCredential(settings: Pick<Settings, 'AZURE_CLIENT_ID'>): TokenCredential {
  credential ??= lazyCredential(async () => {
    const { DefaultAzureCredential } = await import('@azure/identity');
    return new DefaultAzureCredential(
      settings.AZURE_CLIENT_ID ? { managedIdentityClientId: settings.AZURE_CLIENT_ID } : {},
    );
  });
  return credential;
}

/**
 * A credential whose SDK is loaded at its first token, not with the module: a local host on SQLite
 * and the embedded queue asks no token and so never loads `@azure/identity` (about 5 MB of heap and
 * a few hundred modules).
 */
export function lazyCredential(create: () => Promise<TokenCredential>): TokenCredential {
  let made: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      made ??= create();
      return (await made).getToken(scopes, options);
    },
  };
}
