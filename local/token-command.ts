import { parseArgs } from 'node:util';
import { issueDevelopmentToken } from '../shared/auth/development-token';
import { INGEST_ROLE } from '../shared/auth/principal';
import type { Settings } from '../shared/config';
import { AppError } from '../shared/errors';
import type { Store } from '../shared/store/port';

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
  if (values.operator)
    return issueDevelopmentToken(settings, store, { operator: true, hours: Number(values.hours) });
  if (!values.org) throw new AppError('BadRequest', `--org or --operator is required.\n${TOKEN_USAGE}`);
  if (!values.user && !values.admin && !values.ingest)
    throw new AppError('BadRequest', `--user is required for a device token.\n${TOKEN_USAGE}`);
  try {
    return await issueDevelopmentToken(settings, store, {
      org: values.org,
      ...(values.user === undefined ? {} : { user: values.user }),
      admin: values.admin,
      ingest: values.ingest,
      hours: Number(values.hours),
    });
  } catch (error) {
    // The CLI names the data folder it looked in.
    if (error instanceof AppError && error.code === 'TenantNotFound')
      throw new AppError(
        'TenantNotFound',
        `No tenant '${values.org}' is registered in ${settings.DATA_DIR}.`,
      );
    throw error;
  }
}
