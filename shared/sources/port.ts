import type { Directory } from '../model/directory';
import type { EntityMetadata } from '../model/entity';
import type { Attributes } from '../model/record';

/**
 * The Source port: the tenant's system of record. `sources/dataverse` speaks the Dataverse Web API;
 * `sources/local` is the tenant store itself. Adapters translate transport failures into AppErrors
 * (`SourceUnavailable`, `Throttled`, `PreconditionFailed`, `PrivilegeDenied`, `NotFound`,
 * `ValidationFailed`).
 */

/** One change read from the source. Creates and updates are both `upsert` (Dataverse cannot tell). */
export interface SourceChange {
  entity: string;
  id: string;
  op: 'upsert' | 'delete';
  /** Full row for upserts read by change tracking; empty for deletes. */
  attributes: Attributes;
  /** Source version (digits); deletes read by change tracking may lack one (undefined). */
  version: string | undefined;
}

/** One page of an entity's changes since a delta token. */
export interface SourceChangePage {
  changes: SourceChange[];
  /** Set on the last page only: the token to read the next changes from. */
  deltaToken?: string;
  /**
   * Set on every page but the last: where this read goes on after this page (Dataverse: the
   * `@odata.nextLink`; a generated source: the rows read so far). Opaque to callers: passed back as
   * `readChanges`' `resumeAt`, with the same delta token, it continues the read with the next page,
   * in another process or minutes later, so a long read can be split into bounded runs.
   */
  resumeAt?: string;
  /**
   * True when this read is a full read (no token, or the token expired and the source started
   * over): after the last page, stored rows of the entity not seen in the read are deleted.
   */
  full: boolean;
}

/** A device's change to write to the source, on behalf of the user. */
export interface SourceWrite {
  entity: string;
  id: string;
  op: 'create' | 'update' | 'delete';
  /** Only the columns the device changed (update), or the new row (create). */
  attributes: Attributes;
  /** The version the device based the change on (`If-Match`); omitted: write unconditionally. */
  baseVersion?: string;
  /** Entra object id of the user the write is made for (impersonation). */
  callerObjectId: string;
}

export interface SourceWriteResult {
  /** The row's version after the write (undefined after a delete). */
  version: string | undefined;
  /** The row as the source holds it after the write (empty after a delete). */
  attributes: Attributes;
}

export interface Source {
  readonly kind: 'local' | 'dataverse';
  readMetadata(entities?: readonly string[]): Promise<EntityMetadata[]>;
  readDirectory(): Promise<Directory>;
  /**
   * Pages of changes since `deltaToken` (undefined: a full read), with the columns of `entity`'s
   * attributes (a source that selects columns reads only those; replication passes the metadata
   * without the columns it leaves out). With `resumeAt` (a page's {@link SourceChangePage.resumeAt}
   * of the read from this same `deltaToken`), the read goes on from the page after that one; a source
   * that no longer honours the position starts the read over (its pages are applied again, which
   * changes nothing: writes are upsert-if-newer).
   */
  readChanges(
    entity: EntityMetadata,
    deltaToken: string | undefined,
    resumeAt?: string,
  ): AsyncIterable<SourceChangePage>;
  /**
   * The rows with these ids as the source holds them now, as upserts at their current versions (the
   * columns `readChanges` reads); ids the source does not have are left out. For a webhook change too
   * large to travel in a queue message: the message carries the ids and the handler reads the rows
   * back. Optional: without it, the handler has the entity re-read by change tracking instead.
   */
  readRows?(entity: EntityMetadata, ids: readonly string[]): Promise<SourceChange[]>;
  /** Rows of an entity (for progress and ETA); may be an estimate. */
  countRows(entity: EntityMetadata): Promise<number>;
  writeChange(change: SourceWrite, entity: EntityMetadata): Promise<SourceWriteResult>;
}
