import { AppError } from '../../errors';
import type { EntityMetadata } from '../../model/entity';
import type { SourceWrite, SourceWriteResult } from '../port';
import type { EntitySetCatalog } from './entity-set-catalog';
import { etagFromVersion, fromWebApiRow, toWebApiBody } from './row-mapping';
import type { DataverseHttpClient } from './web-api-client';

/**
 * Writes a device's change to Dataverse on behalf of its user (reference §3):
 * - create: `POST <set>` with the row's id in the body and `Prefer: return=representation` (201 with
 *   the row; a 204 without it is followed by a GET);
 * - update: `PATCH <set>(<id>)` with only the changed columns and `If-Match: W/"<baseVersion>"`, or
 *   `If-Match: *` without a base version so a PATCH never turns into a create;
 * - delete: `DELETE <set>(<id>)`, with `If-Match` when a base version is given.
 * Every request carries `CallerObjectId` (the user's Entra object id), so the service checks the
 * user's own privileges. Failures arrive as AppErrors from the client: 412 PreconditionFailed,
 * 403 PrivilegeDenied, 404 NotFound, 400 ValidationFailed.
 */
export async function writeRecordChange(
  client: DataverseHttpClient,
  catalog: EntitySetCatalog,
  change: SourceWrite,
  entity: EntityMetadata,
): Promise<SourceWriteResult> {
  const entitySet = await catalog.entitySetName(entity.logicalName);
  const id = change.id.toLowerCase();
  const rowPath = `${entitySet}(${id})`;
  const caller = { CallerObjectId: change.callerObjectId };

  if (change.op === 'delete') {
    await client.send({
      method: 'DELETE',
      path: rowPath,
      headers: {
        ...caller,
        ...(change.baseVersion === undefined ? {} : { 'If-Match': etagFromVersion(change.baseVersion) }),
      },
    });
    return { version: undefined, attributes: {} };
  }

  const body = await toWebApiBody(entity, change.attributes, async (attribute, target) => ({
    navigationProperty: await catalog.navigationProperty(entity.logicalName, attribute, target),
    targetEntitySet: await catalog.entitySetName(target),
  }));
  const response =
    change.op === 'create'
      ? await client.send({
          method: 'POST',
          path: entitySet,
          headers: { ...caller, Prefer: 'return=representation' },
          body: { ...body, [entity.primaryIdAttribute]: id },
        })
      : await client.send({
          method: 'PATCH',
          path: rowPath,
          headers: {
            ...caller,
            Prefer: 'return=representation',
            'If-Match': change.baseVersion === undefined ? '*' : etagFromVersion(change.baseVersion),
          },
          body,
        });
  const row = isRow(response.body)
    ? response.body
    : (await client.send({ path: rowPath, headers: caller })).body;
  if (!isRow(row))
    throw new AppError(
      'SourceUnavailable',
      `Dataverse returned no ${entity.logicalName} row after the write.`,
    );
  const mapped = fromWebApiRow(entity, row);
  return { version: mapped.version, attributes: mapped.attributes };
}

function isRow(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body);
}
