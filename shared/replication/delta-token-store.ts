import { z } from 'zod';
import type { DocStore } from '../store/port';

/** Doc kind of each entity's delta token in the tenant store (id: the entity's logical name). */
export const DELTA_TOKEN_KIND = 'delta-token';

const deltaTokenDocSchema = z.object({ deltaToken: z.string().min(1) });

/** Where the next change read of an entity starts; undefined: a full read. */
export async function readDeltaToken(store: DocStore, entity: string): Promise<string | undefined> {
  const doc = await store.getDoc(DELTA_TOKEN_KIND, entity);
  return doc === undefined ? undefined : deltaTokenDocSchema.parse(doc.value).deltaToken;
}

/** Stores an entity's delta token: only once the changes read up to it are applied. */
export async function saveDeltaToken(store: DocStore, entity: string, deltaToken: string): Promise<void> {
  await store.putDoc(DELTA_TOKEN_KIND, entity, deltaTokenDocSchema.parse({ deltaToken }));
}
