import type { LocalRow, LocalStoreTransaction, OutboxEntry, RowData } from './local-store';

/** A server image of a row: its columns (`null`: the server holds no such row for the device) and version. */
export interface ServerImage {
  row: RowData | null;
  version?: string;
}

/** Lays pending operations, in order, over a server image: the row the app sees. */
export function applyPendingOperations(
  serverRow: RowData | null,
  pending: readonly OutboxEntry[],
): RowData | null {
  let row = serverRow === null ? null : { ...serverRow };
  for (const entry of pending) {
    if (entry.op === 'create') row = { ...entry.row };
    else if (entry.op === 'update') row = row === null ? null : { ...row, ...entry.row };
    else row = null;
  }
  return row;
}

/** The server image a local row was built on. */
export function serverImageOf(local: LocalRow | undefined): ServerImage {
  if (local === undefined) return { row: null };
  const row = local.pending ? (local.serverRow ?? null) : local.row;
  return { row, ...(local.version === undefined ? {} : { version: local.version }) };
}

/**
 * Rewrites one row from its server image and the outbox entries still pending on it: with none, the
 * row is the server image (or gone); with some, the app sees them laid over the image, and the image
 * is kept to revert or rebase later. `image` undefined keeps the current server image.
 */
export async function settleRow(
  tx: LocalStoreTransaction,
  entity: string,
  id: string,
  image?: ServerImage,
): Promise<void> {
  const server = image ?? serverImageOf(await tx.getRow(entity, id));
  const pending = await tx.outboxOf(entity, id);
  const version = server.version === undefined ? {} : { version: server.version };
  if (pending.length === 0) {
    if (server.row === null) await tx.deleteRow(entity, id);
    else await tx.putRow({ entity, id, row: server.row, ...version, pending: false });
    return;
  }
  await tx.putRow({
    entity,
    id,
    row: applyPendingOperations(server.row, pending),
    ...version,
    serverRow: server.row,
    pending: true,
  });
}
