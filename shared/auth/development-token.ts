import { loadDirectory } from '../admin/directory-store';
import type { Settings } from '../config';
import { AppError } from '../errors';
import { orgSchema } from '../model/tenant';
import type { Store } from '../store/port';
import { getTenant } from '../tenants/tenant-registry';
import { issueLocalToken, loadOrCreateLocalSigningKey } from './local-signing-key';
import { ADMIN_ROLE, INGEST_ROLE } from './principal';

/** Who a development token is for: the operator, or a tenant's admin, ingest client or directory user. */
export type DevelopmentTokenRequest =
  | { operator: true; hours?: number }
  | { operator?: false; org: string; user?: string; admin?: boolean; ingest?: boolean; hours?: number };

/** Object id of the operator's development tokens. */
const OPERATOR_OBJECT_ID = '00000000-0000-4000-8000-00000000a11c';
/** Object id of an admin token tied to no directory user. */
const TENANT_ADMIN_OBJECT_ID = '00000000-0000-4000-8000-0000000ad111';

/**
 * A development token signed with the data folder's key: the local host accepts these and only these
 * (`npm run token`, and the admin page's "sign in as" on the local host). Users are looked up in the
 * tenant's directory (by id, user name or Entra object id), so `oid` is the user's Entra object id.
 *
 * @throws AppError `BadRequest` for a lifetime outside 0–720 hours, or a device token without a user;
 * `TenantNotFound`; `NotFound` for a user not in the directory (the message names some who are).
 */
export async function issueDevelopmentToken(
  settings: Settings,
  store: Store,
  request: DevelopmentTokenRequest,
): Promise<string> {
  const hours = request.hours ?? 12;
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 30) {
    throw new AppError('BadRequest', 'The lifetime must be a number of hours between 0 and 720.');
  }
  const key = await loadOrCreateLocalSigningKey(settings.DATA_DIR);
  const sign = (claims: { oid: string; tid: string; roles: string[]; name?: string }): Promise<string> =>
    issueLocalToken(key, claims, { expiresInSeconds: Math.round(hours * 3600) });

  if (request.operator === true) {
    return sign({
      oid: OPERATOR_OBJECT_ID,
      tid: settings.OPERATOR_TENANT_ID,
      roles: [ADMIN_ROLE],
      name: 'operator',
    });
  }
  const org = orgSchema.safeParse(request.org);
  const tenant = org.success ? await getTenant(store, org.data) : undefined;
  if (!tenant) throw new AppError('TenantNotFound', `No tenant '${request.org}' is registered.`);
  const roles = [...(request.admin ? [ADMIN_ROLE] : []), ...(request.ingest ? [INGEST_ROLE] : [])];
  if (request.user === undefined) {
    if (roles.length === 0) throw new AppError('BadRequest', 'A device token needs a user.');
    return sign({
      oid: TENANT_ADMIN_OBJECT_ID,
      tid: tenant.entraTenantId,
      roles,
      name: `${tenant.org} admin`,
    });
  }
  const wanted = request.user.toLowerCase();
  const directory = await loadDirectory(store.tenant(tenant.org));
  const user = directory.users.find(
    (u) => u.id.toLowerCase() === wanted || u.userName.toLowerCase() === wanted || u.entraObjectId === wanted,
  );
  if (!user) {
    const known = directory.users
      .slice(0, 8)
      .map((u) => u.userName)
      .join(', ');
    throw new AppError(
      'NotFound',
      `No user '${request.user}' in ${tenant.org}'s directory (users include: ${known}).`,
    );
  }
  return sign({ oid: user.entraObjectId, tid: tenant.entraTenantId, roles, name: user.fullName });
}
