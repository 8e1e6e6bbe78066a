import type { TokenCredential } from '@azure/identity';
import { AppError } from '../../errors';
import type { Clock } from '../../clock';
import { systemClock } from '../../clock';

/**
 * Access tokens for a Dataverse environment, for the scope `<environment URL>/.default`.
 *
 * - Client credentials: `tenantId` + `clientId` + `getSecret`. The secret lives in Key Vault;
 *   `@azure/keyvault-secrets` is not a dependency of this project, so the caller supplies the read
 *   (`getSecret`), which is called once, when the first token is needed.
 * - Managed identity: `managedIdentityClientId` (a user-assigned identity), or `credential` to reuse
 *   the process's one credential; with neither, `DefaultAzureCredential`.
 *
 * Tokens are reused until five minutes before they expire (the credentials cache too; this spares the
 * call per request).
 */
export interface DataverseTokenProviderOptions {
  /** The environment URL (`https://org.crm.dynamics.com`), with or without the API path. */
  url: string;
  tenantId?: string;
  clientId?: string;
  /** Reads the client secret (from Key Vault by name, in Azure). */
  getSecret?: () => Promise<string>;
  managedIdentityClientId?: string;
  credential?: TokenCredential;
  clock?: Clock;
}

const REFRESH_MARGIN_MS = 5 * 60 * 1000;

/** The `.default` scope of an environment: its origin. */
export function dataverseScope(url: string): string {
  return `${new URL(url).origin}/.default`;
}

/** A `getToken` for createDataverseSource. */
export function dataverseTokenProvider(options: DataverseTokenProviderOptions): () => Promise<string> {
  const scope = dataverseScope(options.url);
  const clock = options.clock ?? systemClock;
  let credential: Promise<TokenCredential> | undefined;
  let cached: { token: string; expiresOn: number } | undefined;

  async function createCredential(): Promise<TokenCredential> {
    if (options.credential) return options.credential;
    // Loaded here, not with the module: a host without a Dataverse tenant never needs it.
    const { ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential } =
      await import('@azure/identity');
    if (options.clientId !== undefined && options.getSecret !== undefined) {
      if (options.tenantId === undefined) {
        throw new AppError('SourceUnavailable', 'A Dataverse client secret needs the Entra tenant id.');
      }
      return new ClientSecretCredential(options.tenantId, options.clientId, await options.getSecret());
    }
    if (options.managedIdentityClientId !== undefined) {
      return new ManagedIdentityCredential({ clientId: options.managedIdentityClientId });
    }
    return new DefaultAzureCredential();
  }

  return async () => {
    if (cached && cached.expiresOn - REFRESH_MARGIN_MS > clock.now().getTime()) return cached.token;
    credential ??= createCredential();
    let token;
    try {
      token = await (await credential).getToken(scope);
    } catch (cause) {
      // Build the credential again next time: the secret may have been rotated or Key Vault was down.
      credential = undefined;
      throw new AppError('SourceUnavailable', 'No access token for Dataverse could be obtained.', {
        details: { scope },
        cause,
      });
    }
    if (!token)
      throw new AppError('SourceUnavailable', 'No access token for Dataverse could be obtained.', {
        details: { scope },
      });
    cached = { token: token.token, expiresOn: token.expiresOnTimestamp };
    return token.token;
  };
}
