/**
 * Settings the local host and the CLI (`npm run token`, `npm run device`) use unless the environment
 * says otherwise: the same store and tokens, so a token the CLI mints is one the host accepts, and
 * neither needs the Entra settings a deployment must give.
 */
export const LOCAL_DEFAULTS: Readonly<Record<string, string>> = {
  STORE_KIND: 'sqlite',
  QUEUE_KIND: 'embedded',
  AUTH_LOCAL_ENABLED: 'true',
  AUTH_ENTRA_ENABLED: 'false',
  METRICS_OPEN: 'true',
};
