import { z } from 'zod';
import type { DocStore } from '../store/port';

/** Doc kind of each entity's delta token in the tenant store (id: the entity's logical name). */
export const DELTA_TOKEN_KIND = 'delta-token';

const deltaTokenDocSchema = z.object({
  deltaToken: z.string().min(1),
  /**
   * Fingerprint of the columns the read that produced the token selected (`columnsFingerprint`);
   * absent on tokens stored before reads selected columns (those read every column).
   */
  columns: z.string().min(1).optional(),
});

/**
 * Where the next change read of an entity starts; undefined: a full read. With `columns` (the
 * fingerprint of the columns the next read selects), a token stored for other columns is not used:
 * its delta link would go on returning the old columns, so a full read selects the new ones. A token
 * stored without a fingerprint is used as it is (it came from a read of every column).
 */
export async function readDeltaToken(
  store: DocStore,
  entity: string,
  columns?: string,
): Promise<string | undefined> {
  const doc = await store.getDoc(DELTA_TOKEN_KIND, entity);
  if (doc === undefined) return undefined;
  const stored = deltaTokenDocSchema.parse(doc.value);
  if (columns !== undefined && stored.columns !== undefined && stored.columns !== columns) return undefined;
  return stored.deltaToken;
}

/** Stores an entity's delta token: only once the changes read up to it are applied. */
export async function saveDeltaToken(
  store: DocStore,
  entity: string,
  deltaToken: string,
  columns?: string,
): Promise<void> {
  await store.putDoc(
    DELTA_TOKEN_KIND,
    entity,
    deltaTokenDocSchema.parse({ deltaToken, ...(columns === undefined ? {} : { columns }) }),
  );
}
