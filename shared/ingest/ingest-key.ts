import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock';
import type { DocStore } from '../store/port';

/** Header a source system (e.g. a Dataverse webhook, which cannot fetch Entra tokens) sends instead of a token. */
export const INGEST_KEY_HEADER = 'x-ingest-key';
const KIND = 'ingest-key';
const ID = 'current';

interface StoredIngestKey {
  sha256: string;
  createdAt: string;
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/**
 * Creates (or replaces) the tenant's ingest key and returns it once; only its SHA-256 is stored, in
 * the tenant's own database. Replacing it revokes the previous key at once.
 */
export async function rotateIngestKey(
  store: DocStore,
  clock: Clock,
): Promise<{ key: string; createdAt: string }> {
  const key = `isk_${randomBytes(32).toString('base64url')}`;
  const createdAt = clock.now().toISOString();
  await store.putDoc<StoredIngestKey>(KIND, ID, { sha256: digest(key).toString('hex'), createdAt });
  return { key, createdAt };
}

/** Whether `presented` is the tenant's ingest key (compared in constant time). */
export async function verifyIngestKey(store: DocStore, presented: string): Promise<boolean> {
  const doc = await store.getDoc<StoredIngestKey>(KIND, ID);
  if (!doc) return false;
  const expected = Buffer.from(doc.value.sha256, 'hex');
  const actual = digest(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
