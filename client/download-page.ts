import * as z from 'zod';
import { DownloadTablesError, fromTablesResponse } from '../shared/sync/download-tables';
import {
  downloadChangeSchema,
  downloadResponseSchema,
  downloadTablesResponseSchema,
  type DownloadChange,
  type DownloadResponse,
} from '../shared/sync/sync-protocol';
import { SyncClientError } from './sync-transport';

/**
 * A download answer as the transport validates it. In the `tables` format the SDK asks for, the whole
 * page with zod (a few arrays per entity); in the `changes` format, the envelope with zod and the
 * changes left for {@link readDownloadChanges}, which checks thousands of them far faster than a zod
 * parse per row.
 */
export const downloadPageEnvelopeSchema = z.union([
  downloadTablesResponseSchema,
  downloadResponseSchema.extend({ changes: z.array(z.unknown()) }),
]);
export type DownloadPageEnvelope = z.infer<typeof downloadPageEnvelopeSchema>;

const LOGICAL_NAME = /^[a-z][a-z0-9_]{0,99}$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The changes of a download answer, each checked against `downloadChangeSchema` (the server's own
 * schema): a plain check of the fields the protocol defines, and for a change it does not accept, the
 * schema itself, whose message names what is wrong. Rows are kept as parsed, not copied.
 */
export function readDownloadChanges(changes: readonly unknown[]): DownloadChange[] {
  const result: DownloadChange[] = new Array<DownloadChange>(changes.length);
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i];
    if (
      isPlainObject(c) &&
      typeof c.entity === 'string' &&
      LOGICAL_NAME.test(c.entity) &&
      typeof c.id === 'string' &&
      (c.op === 'upsert' || c.op === 'remove') &&
      typeof c.version === 'string' &&
      (c.row === undefined || isPlainObject(c.row))
    ) {
      // Only the protocol's fields, as the schema's parse would keep them.
      result[i] =
        c.row === undefined
          ? { entity: c.entity, id: c.id, op: c.op, version: c.version }
          : { entity: c.entity, id: c.id, op: c.op, version: c.version, row: c.row };
      continue;
    }
    const parsed = downloadChangeSchema.safeParse(c);
    if (!parsed.success) {
      throw new SyncClientError(
        'BadResponse',
        `POST download: unexpected response: changes[${i}]: ${parsed.error.message}`,
      );
    }
    result[i] = parsed.data;
  }
  return result;
}

/** The envelope with its changes read: the page as the SDK applies it. */
export function readDownloadPage(envelope: DownloadPageEnvelope): DownloadResponse {
  if (!('tables' in envelope)) return { ...envelope, changes: readDownloadChanges(envelope.changes) };
  const { tables, removals, format: _format, ...rest } = envelope;
  try {
    return { ...rest, changes: fromTablesResponse({ tables, removals }) };
  } catch (error) {
    if (!(error instanceof DownloadTablesError)) throw error;
    throw new SyncClientError('BadResponse', `POST download: unexpected response: ${error.message}`);
  }
}
