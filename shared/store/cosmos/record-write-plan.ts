import { AppError } from '../../errors';
import { compareVersions, versionSchema } from '../../model/record';
import type { StoredRecord } from '../../model/record';
import type { RecordWrite, RecordWriteResult } from '../port';

/** The writes of one batch that target one row, with their positions in the batch. */
export interface RowWrites {
  entity: string;
  id: string;
  writes: { index: number; write: RecordWrite }[];
}

/** What to store for a row after its writes were decided against its current state. */
export interface RowPlan {
  row: RowWrites;
  /** The row's final state, when at least one write applied; undefined when nothing changes. */
  next: StoredRecord | undefined;
  results: { index: number; result: RecordWriteResult }[];
}

/** Groups a batch's writes by row, keeping each row's writes in batch order. */
export function groupWritesByRow(
  writes: readonly RecordWrite[],
  keyOf: (entity: string, id: string) => string,
): RowWrites[] {
  const rows = new Map<string, RowWrites>();
  writes.forEach((write, index) => {
    const key = keyOf(write.entity, write.id);
    let row = rows.get(key);
    if (row === undefined) {
      row = { entity: write.entity, id: write.id, writes: [] };
      rows.set(key, row);
    }
    row.writes.push({ index, write });
  });
  return [...rows.values()];
}

/**
 * Decides each write of a row in order against the row's state: compare-and-set first
 * (`expectedVersion`), then upsert-if-newer by source version; `merge` overlays attributes.
 */
export function planRowWrites(row: RowWrites, current: StoredRecord | undefined, now: Date): RowPlan {
  let state = current;
  let next: StoredRecord | undefined;
  const results: RowPlan['results'] = [];
  for (const { index, write } of row.writes) {
    const version = normalizeVersion(write.version);
    if (write.expectedVersion !== undefined) {
      const matches =
        write.expectedVersion === null
          ? state === undefined
          : state !== undefined && state.version === normalizeVersion(write.expectedVersion);
      if (!matches) {
        results.push({
          index,
          result: { entity: row.entity, id: row.id, outcome: 'conflict', record: state },
        });
        continue;
      }
    }
    if (state !== undefined && compareVersions(version, state.version) <= 0) {
      results.push({ index, result: { entity: row.entity, id: row.id, outcome: 'stale', record: state } });
      continue;
    }
    const attributes =
      write.mode === 'merge' && state !== undefined
        ? { ...state.attributes, ...write.attributes }
        : { ...write.attributes };
    state = {
      entity: row.entity,
      id: row.id,
      version,
      deleted: write.deleted,
      attributes,
      updatedAt: now.toISOString(),
    };
    next = state;
    results.push({ index, result: { entity: row.entity, id: row.id, outcome: 'applied', record: state } });
  }
  return { row, next, results };
}

function normalizeVersion(version: string): string {
  const parsed = versionSchema.safeParse(version);
  if (!parsed.success) {
    throw new AppError('ValidationFailed', `Invalid record version: ${JSON.stringify(version)}`, {
      details: [{ path: 'version', message: 'a non-negative whole number' }],
    });
  }
  return parsed.data;
}
