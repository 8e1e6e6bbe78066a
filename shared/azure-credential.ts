import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type { Settings } from './config';

let credential: TokenCredential | undefined;

/** The one credential per process: the user-assigned managed identity in Azure, developer sign-in locally. */
export function azureCredential(settings: Pick<Settings, 'AZURE_CLIENT_ID'>): TokenCredential {
  credential ??= new DefaultAzureCredential(
    settings.AZURE_CLIENT_ID ? { managedIdentityClientId: settings.AZURE_CLIENT_ID } : {},
  );
  return credential;
}
