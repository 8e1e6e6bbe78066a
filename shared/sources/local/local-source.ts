import { loadEntityDrafts } from '../../admin/entity-config';
import { loadDirectory } from '../../admin/directory-store';
import { AppError } from '../../errors';
import type { Directory } from '../../model/directory';
import type { EntityMetadata } from '../../model/entity';
import type { TenantStore } from '../../store/port';
import type { Source, SourceChange, SourceChangePage, SourceWrite, SourceWriteResult } from '../port';

/** The next version of a row: one above the stored one (1 for a new row). */
function versionAfter(stored: string | undefined): string {
  return stored === undefined ? '1' : (BigInt(stored) + 1n).toString();
}

/**
 * The Source of a `local` tenant: the tenant store itself is the system of record. Metadata and the
 * directory are what admins declared (entity drafts, the stored directory); rows change through the
 * ingest API and device uploads, so there is nothing to read as changes; a device's write goes
 * straight into the store with the next version, compare-and-set on the version it read, so two
 * writers of one row never both win.
 */
export function createLocalSource(store: TenantStore): Source {
  return {
    kind: 'local',

    async readMetadata(entities?: readonly string[]): Promise<EntityMetadata[]> {
      const declared = (await loadEntityDrafts(store)).map((e) => e.metadata);
      if (entities === undefined) return declared;
      const wanted = new Set(entities);
      return declared.filter((m) => wanted.has(m.logicalName));
    },

    async readDirectory(): Promise<Directory> {
      return loadDirectory(store);
    },

    // eslint-disable-next-line require-yield -- changes reach a local tenant through ingest and uploads
    async *readChanges(): AsyncIterable<SourceChangePage> {
      return;
    },

    async readRows(entity: EntityMetadata, ids: readonly string[]): Promise<SourceChange[]> {
      // The store is the source: its live rows are what the source holds.
      const rows = await store.getRecords(entity.logicalName, ids);
      return rows
        .filter((row) => !row.deleted)
        .map((row) => ({
          entity: row.entity,
          id: row.id,
          op: 'upsert' as const,
          attributes: row.attributes,
          version: row.version,
        }));
    },

    async countRows(entity: EntityMetadata): Promise<number> {
      return store.countRecords(entity.logicalName);
    },

    async writeChange(change: SourceWrite, entity: EntityMetadata): Promise<SourceWriteResult> {
      if (change.entity !== entity.logicalName) {
        throw new AppError(
          'ValidationFailed',
          `The change is for '${change.entity}', not '${entity.logicalName}'.`,
        );
      }
      const stored = await store.getRecord(change.entity, change.id);
      const live = stored !== undefined && !stored.deleted;
      if (change.op === 'create') {
        if (live) throw new AppError('Conflict', `${change.entity} '${change.id}' already exists.`);
      } else {
        if (!live) throw new AppError('NotFound', `${change.entity} '${change.id}' does not exist.`);
        if (change.baseVersion !== undefined && change.baseVersion !== stored.version) {
          throw new AppError(
            'PreconditionFailed',
            `${change.entity} '${change.id}' changed since version ${change.baseVersion}.`,
            {
              details: { currentVersion: stored.version },
            },
          );
        }
      }
      // A create over a tombstone continues its versions, so the tombstone's older writes stay stale.
      const version = versionAfter(stored?.version);
      const [result] = await store.applyRecordWrites([
        {
          entity: change.entity,
          id: change.id,
          version,
          deleted: change.op === 'delete',
          attributes: change.op === 'delete' ? {} : change.attributes,
          mode: change.op === 'update' ? 'merge' : 'replace',
          expectedVersion: stored?.version ?? null,
        },
      ]);
      if (result?.outcome !== 'applied') {
        throw new AppError(
          'PreconditionFailed',
          `${change.entity} '${change.id}' was changed by another writer.`,
          {
            details: { currentVersion: result?.record?.version ?? null },
          },
        );
      }
      return {
        version: change.op === 'delete' ? undefined : version,
        attributes: result.record?.attributes ?? {},
      };
    },
  };
}
