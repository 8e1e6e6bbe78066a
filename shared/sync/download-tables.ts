import type {
  DownloadChange,
  DownloadRemoval,
  DownloadResponse,
  DownloadTable,
  DownloadTablesResponse,
} from './sync-protocol';

/**
 * A download answer in the `tables` format: the same page, its upserts grouped by entity and by the
 * attributes each row carries (rows with the same attributes share a table, in the order they came),
 * its removals listed apart. Nothing is added or dropped: decoding gives back each row as it was.
 */
export function toTablesResponse(page: DownloadResponse): DownloadTablesResponse {
  const { changes, ...envelope } = page;
  const tables: DownloadTable[] = [];
  /** Per entity: its tables by their columns joined, and the one the last row went to. */
  const byEntity = new Map<string, { byColumns: Map<string, DownloadTable>; last: DownloadTable }>();
  const removals: DownloadRemoval[] = [];
  for (const change of changes) {
    if (change.op === 'remove') {
      removals.push({ entity: change.entity, id: change.id, version: change.version });
      continue;
    }
    const row = change.row ?? {};
    const entity = byEntity.get(change.entity);
    let table: DownloadTable | undefined;
    // Rows of an entity nearly always carry the same attributes: compare with the last table first
    // (without listing the row's keys: thousands of arrays a page).
    if (entity !== undefined && hasColumns(row, entity.last.columns)) table = entity.last;
    else {
      const names = Object.keys(row);
      const key = names.join('\u0000');
      table = entity?.byColumns.get(key);
      if (table === undefined) {
        table = { entity: change.entity, columns: names, ids: [], versions: [], values: names.map(() => []) };
        tables.push(table);
        if (entity === undefined)
          byEntity.set(change.entity, { byColumns: new Map([[key, table]]), last: table });
        else entity.byColumns.set(key, table);
      }
      if (entity !== undefined) entity.last = table;
    }
    table.ids.push(change.id);
    table.versions.push(change.version);
    const { columns, values } = table;
    for (let c = 0; c < columns.length; c++) values[c]!.push(row[columns[c]!]);
  }
  return { format: 'tables', ...envelope, removals, tables };
}

/** Whether a row's own keys are `columns`, in that order (as `Object.keys` would list them). */
function hasColumns(row: Record<string, unknown>, columns: readonly string[]): boolean {
  let i = 0;
  for (const name in row) {
    // Own keys only, as Object.keys: an inherited enumerable key makes the row take the slow path.
    if (columns[i] !== name || !Object.hasOwn(row, name)) return false;
    i++;
  }
  return i === columns.length;
}

/** Why a `tables` page cannot be read: the message names the table and the field. */
export class DownloadTablesError extends Error {}

/**
 * The changes of a `tables` page, as the `changes` format would list them (removals first, then each
 * table's rows in order). Checks that every table's ids, versions and columns line up.
 *
 * @throws DownloadTablesError when a table's arrays do not have one entry per row and column.
 */
export function fromTablesResponse(
  page: Pick<DownloadTablesResponse, 'removals' | 'tables'>,
): DownloadChange[] {
  const changes: DownloadChange[] = [];
  for (const removal of page.removals) {
    changes.push({ entity: removal.entity, id: removal.id, op: 'remove', version: removal.version });
  }
  for (const [t, table] of page.tables.entries()) {
    const rows = table.ids.length;
    const where = `tables[${t}] (${table.entity})`;
    if (table.versions.length !== rows) {
      throw new DownloadTablesError(`${where}: ${table.versions.length} versions for ${rows} ids.`);
    }
    if (table.values.length !== table.columns.length) {
      throw new DownloadTablesError(
        `${where}: ${table.values.length} value columns for ${table.columns.length} column names.`,
      );
    }
    for (const [c, values] of table.values.entries()) {
      if (values.length !== rows) {
        throw new DownloadTablesError(
          `${where}: column '${table.columns[c]}' has ${values.length} values for ${rows} rows.`,
        );
      }
    }
    // An assignment to `__proto__` would set the row's prototype: such a column is defined instead,
    // as JSON.parse does for the changes format.
    const plain = !table.columns.includes('__proto__');
    for (let r = 0; r < rows; r++) {
      const row: Record<string, unknown> = {};
      for (let c = 0; c < table.columns.length; c++) {
        if (plain) row[table.columns[c]!] = table.values[c]![r];
        else {
          Object.defineProperty(row, table.columns[c]!, {
            value: table.values[c]![r],
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
      changes.push({
        entity: table.entity,
        id: table.ids[r]!,
        op: 'upsert',
        version: table.versions[r]!,
        row,
      });
    }
  }
  return changes;
}
