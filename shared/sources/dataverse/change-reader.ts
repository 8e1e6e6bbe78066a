import { AppError } from '../../errors';
import type { EntityMetadata } from '../../model/entity';
import type { SourceChange, SourceChangePage } from '../port';
import type { EntitySetCatalog } from './entity-set-catalog';
import { fromWebApiRow } from './row-mapping';
import type { DataverseHttpClient } from './web-api-client';
import { parseCollectionPage, webApiFailure } from './web-api-client';

/**
 * Reads an entity's changes with Dataverse change tracking (reference §1).
 *
 * - Full read (no token): `GET <set>` with `Prefer: odata.track-changes,odata.maxpagesize=N`, following
 *   each `@odata.nextLink` unchanged with the same Prefer. Every page is `full: true`; the last page
 *   carries the `@odata.deltaLink`, which is the token: the whole link, stored and later sent as is.
 * - Delta read: `GET <deltaLink>`; upserts then `$deletedEntity` rows, which become deletes.
 * - A delta link the service rejects (the expired version stamp `0x80044352`, or any other 4xx but
 *   401/403/429, since the Web API status for an expired token is not documented) starts a full read,
 *   whose pages say `full: true` so the caller reconciles deletions.
 * - A table without change tracking answers no deltaLink: its last page has no token, and the next
 *   read is a full read again.
 * - No annotations are requested: the deltaLink has been seen to go missing with them.
 */

export const EXPIRED_VERSION_STAMP = '0x80044352';

export interface ChangeReaderOptions {
  client: DataverseHttpClient;
  catalog: EntitySetCatalog;
  maxPageSize: number;
}

/** Pages of changes of `entity` since `deltaToken` (undefined: a full read). */
export async function* readEntityChanges(
  options: ChangeReaderOptions,
  entity: EntityMetadata,
  deltaToken: string | undefined,
): AsyncGenerator<SourceChangePage> {
  const { client, maxPageSize } = options;
  const entitySet = await options.catalog.entitySetName(entity.logicalName);

  let full = deltaToken === undefined;
  let first: Record<string, unknown> | undefined;
  if (deltaToken !== undefined) {
    try {
      first = (
        await client.send({ path: deltaToken, headers: { Prefer: `odata.maxpagesize=${maxPageSize}` } })
      ).body as Record<string, unknown>;
    } catch (error) {
      if (!isRejectedDeltaToken(error)) throw error;
      full = true;
    }
  }
  const trackingPrefer = `odata.track-changes,odata.maxpagesize=${maxPageSize}`;
  let path: string | undefined = entitySet;
  let body: unknown = first;
  if (body === undefined && full)
    body = (await client.send({ path, headers: { Prefer: trackingPrefer } })).body;

  for (;;) {
    const page = parseCollectionPage(body, path ?? entitySet);
    const changes = page.value.map((row) => toSourceChange(entity, row));
    const next = page['@odata.nextLink'];
    if (next === undefined) {
      const deltaLink = page['@odata.deltaLink'];
      yield { changes, full, ...(deltaLink === undefined ? {} : { deltaToken: deltaLink }) };
      return;
    }
    yield { changes, full };
    path = next;
    body = (
      await client.send({
        path: next,
        headers: { Prefer: full ? trackingPrefer : `odata.maxpagesize=${maxPageSize}` },
      })
    ).body;
  }
}

/** True when a delta read failed because the service will not honour the token. */
export function isRejectedDeltaToken(error: unknown): boolean {
  const failure = webApiFailure(error);
  if (!failure) return false;
  if (failure.dataverseCode.toLowerCase() === EXPIRED_VERSION_STAMP) return true;
  return failure.status >= 400 && failure.status < 500 && ![401, 403, 429].includes(failure.status);
}

/** A tracked row or `$deletedEntity` entry as a SourceChange. */
export function toSourceChange(entity: EntityMetadata, row: Record<string, unknown>): SourceChange {
  const context = row['@odata.context'];
  const removed = row['@removed'];
  if ((typeof context === 'string' && context.endsWith('/$deletedEntity')) || removed !== undefined) {
    return {
      entity: entity.logicalName,
      id: deletedId(row),
      op: 'delete',
      attributes: {},
      version: undefined,
    };
  }
  const { id, version, attributes } = fromWebApiRow(entity, row);
  if (version === undefined) {
    // Without a version the store cannot order this row against others: refuse rather than guess.
    throw new AppError('SourceUnavailable', `A ${entity.logicalName} row from Dataverse has no version.`, {
      details: { id },
    });
  }
  return { entity: entity.logicalName, id, op: 'upsert', attributes, version };
}

/** The id of a deleted row: `id`, or the key in an OData 4.01 `@odata.id` (`accounts(<guid>)`). */
function deletedId(row: Record<string, unknown>): string {
  if (typeof row.id === 'string') return row.id.toLowerCase();
  const odataId = row['@odata.id'];
  const key = typeof odataId === 'string' ? /\(([^)]+)\)$/.exec(odataId)?.[1] : undefined;
  if (key === undefined) throw new AppError('SourceUnavailable', 'A deleted row from Dataverse has no id.');
  return key.toLowerCase();
}
