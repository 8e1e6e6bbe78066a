/** App roles carried in the `roles` claim. */
export const ADMIN_ROLE = 'OfflineSync.Admin';
export const INGEST_ROLE = 'OfflineSync.Ingest';

/** The authenticated caller of a request, from a verified bearer token. */
export interface Principal {
  /** Entra object id (`oid`): maps to the tenant's directory user. */
  objectId: string;
  /** Entra tenant id (`tid`). */
  tenantId: string;
  roles: readonly string[];
  /** Which issuer signed the token (`ingest-key`: the tenant's ingest key, no token). */
  issuer: 'entra' | 'local' | 'ingest-key';
}

export function hasRole(principal: Principal, role: string): boolean {
  return principal.roles.includes(role);
}
