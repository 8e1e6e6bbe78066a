import { parseArgs } from 'node:util';
import { issueLocalToken, loadOrCreateLocalSigningKey } from '../shared/auth/local-signing-key';
import { ADMIN_ROLE, INGEST_ROLE } from '../shared/auth/principal';
import type { Settings } from '../shared/config';
import { loadDirectory } from '../shared/admin/directory-store';
import { AppError } from '../shared/errors';
import { orgSchema } from '../shared/model/tenant';
import type { Store } from '../shared/store/port';
import { getTenant } from '../shared/tenants/tenant-registry';

export const TOKEN_USAGE = `Usage:
  npm run -s token -- --operator                         operator token (register/list tenants)
  npm run -s token -- --org ORG --user USER [--admin]    token for a directory user (id, user name or Entra object id)
  npm run -s token -- --org ORG --admin                  admin token not tied to a directory user
Options:
  --ingest         add the ${INGEST_ROLE} role (ingest routes)
  --hours N        lifetime in hours (default 12)`;

/**
 * Prints a development token signed with the data folder's key: the local host accepts these and
 * only these. Users are looked up in the tenant's directory, so `oid` is the user's Entra object id.
 */
export async function createToken(argv: string[], settings: Settings, store: Store): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      org: { type: 'string' },
      user: { type: 'string' },
      admin: { type: 'boolean', default: false },
      operator: { type: 'boolean', default: false },
      ingest: { type: 'boolean', default: false },
      hours: { type: 'string', default: '12' },
    },
    strict: true,
  });
  const hours = Number(values.hours);
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 30) {
    throw new AppError('BadRequest', '--hours must be a number of hours between 0 and 720.');
  }
  const key = await loadOrCreateLocalSigningKey(settings.DATA_DIR);
  const sign = (claims: { oid: string; tid: string; roles: string[]; name?: string }): Promise<string> =>
    issueLocalToken(key, claims, { expiresInSeconds: Math.round(hours * 3600) });

  if (values.operator) {
    return sign({
      oid: '00000000-0000-4000-8000-00000000a11c',
      tid: settings.OPERATOR_TENANT_ID,
      roles: [ADMIN_ROLE],
      name: 'operator',
    });
  }
  if (!values.org) throw new AppError('BadRequest', `--org or --operator is required.\n${TOKEN_USAGE}`);
  const org = orgSchema.safeParse(values.org);
  const tenant = org.success ? await getTenant(store, org.data) : undefined;
  if (!tenant)
    throw new AppError('TenantNotFound', `No tenant '${values.org}' is registered in ${settings.DATA_DIR}.`);
  const roles = [...(values.admin ? [ADMIN_ROLE] : []), ...(values.ingest ? [INGEST_ROLE] : [])];
  if (!values.user) {
    if (roles.length === 0)
      throw new AppError('BadRequest', `--user is required for a device token.\n${TOKEN_USAGE}`);
    return sign({
      oid: '00000000-0000-4000-8000-0000000ad111',
      tid: tenant.entraTenantId,
      roles,
      name: `${tenant.org} admin`,
    });
  }
  const wanted = values.user.toLowerCase();
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
      `No user '${values.user}' in ${tenant.org}'s directory (users include: ${known}).`,
    );
  }
  return sign({ oid: user.entraObjectId, tid: tenant.entraTenantId, roles, name: user.fullName });
}
