import { z } from 'zod';
import { AppError } from '../../errors';
import type { EntityMetadata } from '../../model/entity';
import { OWNER_TYPE_ATTRIBUTE } from '../../model/record';
import type { SourceChange, SourceChangePage } from '../port';
import type { EntitySetCatalog } from './entity-set-catalog';
import { fromWebApiRow } from './row-mapping';
import type { DataverseHttpClient } from './web-api-client';
import { parseCollectionPage, webApiFailure } from './web-api-client';

/**
 * Reads an entity's changes with Dataverse change tracking (reference §1).
 *
 * - Full read (no token): `GET <set>?$select=<columns>` with
 *   `Prefer: odata.track-changes,odata.maxpagesize=N`, following each `@odata.nextLink` unchanged with
 *   the same Prefer. Every page is `full: true`; the last page carries the `@odata.deltaLink`, which is
 *   the token: the whole link (its `$select` included, so delta reads return the same columns),
 *   stored and later sent as is.
 * - Columns: those of the metadata it is given ({@link selectColumns}), so columns the metadata does
 *   not hold — file and image columns, which the metadata reader leaves out, and the file-content
 *   columns replication leaves out of the metadata it passes — are never read. A `$select` the
 *   service refuses (a column our metadata has and the service does not) is repaired: the property
 *   the error names is dropped and the read starts again; when no property is named, the read goes
 *   without `$select` and keeps only the metadata's columns of each row.
 * - Delta read: `GET <deltaLink>`; upserts then `$deletedEntity` rows, which become deletes.
 * - A delta link the service rejects (the expired version stamp `0x80044352`, or any other 4xx but
 *   401/403/429, since the Web API status for an expired token is not documented) starts a full read,
 *   whose pages say `full: true` so the caller reconciles deletions.
 * - A table without change tracking answers no deltaLink: its last page has no token, and the next
 *   read is a full read again.
 * - No annotations are requested: the deltaLink has been seen to go missing with them.
 * - Every page but the last carries `resumeAt`: its `@odata.nextLink` (with whether the read is a
 *   full read and whether its rows are trimmed to the metadata's columns). A read given it GETs that
 *   link first, so a long read goes on where an earlier run stopped. A link the service refuses
 *   (a 4xx but 401/403/429: its paging cookie is no longer honoured) starts the read over.
 */

export const EXPIRED_VERSION_STAMP = '0x80044352';

export interface ChangeReaderOptions {
  client: DataverseHttpClient;
  catalog: EntitySetCatalog;
  maxPageSize: number;
}

/** Where a read goes on: the next page's link, and how the read that handed it out was made. */
const readPositionSchema = z.object({
  link: z.string().min(1),
  full: z.boolean(),
  /** The service refused every `$select`: rows carry every column and keep the metadata's only. */
  trimmed: z.boolean(),
});
type ReadPosition = z.infer<typeof readPositionSchema>;

function encodePosition(position: ReadPosition): string {
  return JSON.stringify(position);
}

/** A position this reader handed out, or undefined for anything else (the read then starts over). */
function decodePosition(resumeAt: string): ReadPosition | undefined {
  try {
    const parsed = readPositionSchema.safeParse(JSON.parse(resumeAt));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pages of changes of `entity` since `deltaToken` (undefined: a full read); with `resumeAt`, from the
 * page after the one that handed it out.
 */
export async function* readEntityChanges(
  options: ChangeReaderOptions,
  entity: EntityMetadata,
  deltaToken: string | undefined,
  resumeAt?: string,
): AsyncGenerator<SourceChangePage> {
  const { client, maxPageSize } = options;
  const entitySet = await options.catalog.entitySetName(entity.logicalName);
  const trackingPrefer = `odata.track-changes,odata.maxpagesize=${maxPageSize}`;
  const preferOf = (full: boolean): string => (full ? trackingPrefer : `odata.maxpagesize=${maxPageSize}`);

  const position = resumeAt === undefined ? undefined : decodePosition(resumeAt);
  if (position !== undefined) {
    let resumed: unknown;
    try {
      resumed = (await client.send({ path: position.link, headers: { Prefer: preferOf(position.full) } }))
        .body;
    } catch (error) {
      if (!isRejectedDeltaToken(error)) throw error;
    }
    if (resumed !== undefined) {
      yield* readPages(client, entity, preferOf(position.full), {
        path: position.link,
        body: resumed,
        full: position.full,
        keep: position.trimmed ? metadataColumns(entity) : undefined,
      });
      return;
    }
  }

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
  let path: string = entitySet;
  let body: unknown = first;
  // Set when the service refused every `$select`: rows then carry every column, and keep only these.
  let keep: ReadonlySet<string> | undefined;
  if (body === undefined && full) {
    const read = await readWithSelect(client, entitySet, entity, { Prefer: trackingPrefer });
    ({ path, body } = read);
    if (!read.selected) keep = metadataColumns(entity);
  }
  yield* readPages(client, entity, preferOf(full), { path, body, full, keep });
}

/** The pages of a read from its first body on, following each `@odata.nextLink` with `prefer`. */
async function* readPages(
  client: DataverseHttpClient,
  entity: EntityMetadata,
  prefer: string,
  start: { path: string; body: unknown; full: boolean; keep: ReadonlySet<string> | undefined },
): AsyncGenerator<SourceChangePage> {
  const { full, keep } = start;
  let { path, body } = start;
  for (;;) {
    const page = parseCollectionPage(body, path);
    const changes = page.value.map((row) => toSourceChange(entity, row, keep));
    const next = page['@odata.nextLink'];
    if (next === undefined) {
      const deltaLink = page['@odata.deltaLink'];
      yield { changes, full, ...(deltaLink === undefined ? {} : { deltaToken: deltaLink }) };
      return;
    }
    yield { changes, full, resumeAt: encodePosition({ link: next, full, trimmed: keep !== undefined }) };
    path = next;
    body = (await client.send({ path: next, headers: { Prefer: prefer } })).body;
  }
}

/** Most properties a read drops from its `$select` one by one before it does without one. */
const MAX_SELECT_REPAIRS = 10;

/**
 * The `$select` of an entity's reads, in Web API names: every attribute of the metadata (lookups and
 * owners as `_<name>_value`), the primary id, and for an owned table `_owninguser_value` and
 * `_owningteam_value`, which tell the owner's type since no annotations are asked for. A lookup's
 * type column (`owneridtype`, `customeridtype`) is no property of its own and is left out: the row
 * mapping derives it.
 */
export function selectColumns(entity: Pick<EntityMetadata, 'attributes' | 'primaryIdAttribute'>): string[] {
  const lookups = new Set(
    entity.attributes.filter((a) => a.type === 'lookup' || a.type === 'owner').map((a) => a.name),
  );
  const columns = new Set<string>([entity.primaryIdAttribute]);
  for (const attribute of entity.attributes) {
    if (lookups.has(attribute.name)) columns.add(`_${attribute.name}_value`);
    else if (!(attribute.name.endsWith('type') && lookups.has(attribute.name.slice(0, -4))))
      columns.add(attribute.name);
  }
  if (entity.attributes.some((a) => a.type === 'owner')) {
    columns.add('_owninguser_value');
    columns.add('_owningteam_value');
  }
  return [...columns];
}

/** The attribute names of the metadata (what a row keeps when no `$select` could be used). */
export function metadataColumns(entity: EntityMetadata): ReadonlySet<string> {
  return new Set([entity.primaryIdAttribute, OWNER_TYPE_ATTRIBUTE, ...entity.attributes.map((a) => a.name)]);
}

/** The property a refused `$select` names: "Could not find a property named 'x' on type '…'". */
function unknownPropertyOf(error: unknown): string | undefined {
  if (!(error instanceof AppError)) return undefined;
  const details = error.details as { dataverseMessage?: unknown } | undefined;
  const text = typeof details?.dataverseMessage === 'string' ? details.dataverseMessage : error.message;
  return /property named '([^']+)'/i.exec(text)?.[1];
}

/** A 400 (or a URL too long, 414) to a request with `$select`: the select may be why. */
function mayBeRefusedSelect(error: unknown): boolean {
  const status = webApiFailure(error)?.status;
  return status === 400 || status === 414;
}

/**
 * GETs `<base>?$select=<columns>` (base: an entity set, or one row `set(id)`), repairing a `$select`
 * the service refuses (see {@link readEntityChanges}). Answers the path sent, the body, and whether a
 * `$select` was used.
 */
export async function readWithSelect(
  client: DataverseHttpClient,
  base: string,
  entity: EntityMetadata,
  headers: Record<string, string>,
): Promise<{ path: string; body: unknown; selected: boolean }> {
  let columns = selectColumns(entity);
  for (let repairs = 0; ; repairs++) {
    const path = columns.length === 0 ? base : `${base}?$select=${columns.join(',')}`;
    try {
      return { path, body: (await client.send({ path, headers })).body, selected: columns.length > 0 };
    } catch (error) {
      if (columns.length === 0 || !mayBeRefusedSelect(error)) throw error;
      const unknown = unknownPropertyOf(error);
      columns =
        unknown !== undefined && columns.includes(unknown) && repairs < MAX_SELECT_REPAIRS
          ? columns.filter((column) => column !== unknown)
          : [];
    }
  }
}

/** True when a delta read failed because the service will not honour the token. */
export function isRejectedDeltaToken(error: unknown): boolean {
  const failure = webApiFailure(error);
  if (!failure) return false;
  if (failure.dataverseCode.toLowerCase() === EXPIRED_VERSION_STAMP) return true;
  return failure.status >= 400 && failure.status < 500 && ![401, 403, 429].includes(failure.status);
}

/**
 * A tracked row or `$deletedEntity` entry as a SourceChange; with `keep`, only those attributes of
 * the row are kept.
 */
export function toSourceChange(
  entity: EntityMetadata,
  row: Record<string, unknown>,
  keep?: ReadonlySet<string>,
): SourceChange {
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
  const { id, version, attributes: all } = fromWebApiRow(entity, row);
  const attributes =
    keep === undefined ? all : Object.fromEntries(Object.entries(all).filter(([name]) => keep.has(name)));
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
