import { azureCredential } from '../azure-credential';
import type { Clock } from '../clock';
import type { Settings } from '../config';
import { AppError } from '../errors';
import type { Tenant } from '../model/tenant';
import type { Store } from '../store/port';
import { createDataverseSource, dataverseTokenProvider } from './dataverse';
import { createLocalSource } from './local';
import type { Source } from './port';

/** What a Source factory gets besides the tenant. */
export interface SourceFactoryDeps {
  settings: Settings;
  store: Store;
  clock: Clock;
}

/** Builds the Source adapter of a tenant (the composition root's default is {@link createSourceFor}). */
export type SourceFactory = (tenant: Tenant, deps: SourceFactoryDeps) => Source;

const dataverseSources = new Map<string, { url: string; source: Source }>();

/**
 * The Source adapter for a tenant: its own store for `local` sources; the Dataverse Web API for
 * `dataverse` ones, authenticated with the app registration's secret from Key Vault (when the
 * registration names one) or with the process's managed identity. Dataverse sources are kept per
 * tenant so their token and entity-set caches survive between calls.
 */
export const createSourceFor: SourceFactory = (tenant, deps) => {
  if (tenant.source.kind === 'local') return createLocalSource(deps.store.tenant(tenant.org));
  const { url, clientId, clientSecretName } = tenant.source;
  const cached = dataverseSources.get(tenant.org);
  if (cached && cached.url === url) return cached.source;

  let getSecret: (() => Promise<string>) | undefined;
  if (clientId && clientSecretName) {
    const vault = deps.settings.KEY_VAULT_URI;
    if (!vault) {
      throw new AppError(
        'SourceUnavailable',
        `Tenant '${tenant.org}' names a client secret but KEY_VAULT_URI is not set.`,
      );
    }
    getSecret = async () => {
      const { SecretClient } = await import('@azure/keyvault-secrets');
      const secret = await new SecretClient(vault, azureCredential(deps.settings)).getSecret(
        clientSecretName,
      );
      if (!secret.value)
        throw new AppError('SourceUnavailable', `Key Vault secret '${clientSecretName}' is empty.`);
      return secret.value;
    };
  }
  const source = createDataverseSource({
    url,
    clock: deps.clock,
    getToken: dataverseTokenProvider({
      url,
      tenantId: tenant.entraTenantId,
      ...(clientId && getSecret ? { clientId, getSecret } : { credential: azureCredential(deps.settings) }),
      clock: deps.clock,
    }),
  });
  dataverseSources.set(tenant.org, { url, source });
  return source;
};
