import { z } from 'zod';
import { AppError } from '../errors';
import { unchangedSince, type DocStore } from '../store/port';

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

/**
 * Doc kind of each entity's read in progress (id: the entity's logical name): a read longer than one
 * run's budget is split over several messages, each going on from the page the previous one saved.
 */
export const READ_PROGRESS_KIND = 'replication-read';

/** Doc kind of the ids a full read in progress has returned, one document per page. */
const SEEN_IDS_KIND = 'replication-read-seen';

/** Where a read of an entity stands after its last applied page, and what it did so far. */
export const readProgressSchema = z.object({
  /** This read's id: the continuation messages it sends name it. */
  readId: z.string().min(1),
  /** The delta token the read started from (null: a full read). */
  from: z.string().min(1).nullable(),
  /** Fingerprint of the columns the read selects; a read of other columns is not resumed. */
  columns: z.string().min(1),
  /** The source's position after the last applied page (`SourceChangePage.resumeAt`). */
  resumeAt: z.string().min(1),
  /** When the read's first run started: rows written since came from elsewhere and stay. */
  startedAt: z.iso.datetime(),
  /** Pages applied so far. */
  pages: z.number().int().nonnegative(),
  /** Changes read so far. */
  changes: z.number().int().nonnegative(),
  /** Whether a page so far was a full read's (rows it did not return are removed at the end). */
  full: z.boolean(),
  applied: z.number().int().nonnegative(),
  stale: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  tooLarge: z.number().int().nonnegative(),
});
export type ReadProgress = z.infer<typeof readProgressSchema>;

/** A saved read and the etag to replace it with (compare-and-set). */
export interface SavedRead {
  progress: ReadProgress;
  etag: string;
}

/**
 * The entity's read in progress, if one was saved for these columns. One saved for other columns is
 * dropped: its position would go on returning the old columns.
 */
export async function readSavedRead(
  store: DocStore,
  entity: string,
  columns: string,
): Promise<SavedRead | undefined> {
  const doc = await store.getDoc(READ_PROGRESS_KIND, entity);
  if (doc === undefined) return undefined;
  const progress = readProgressSchema.parse(doc.value);
  if (progress.columns === columns) return { progress, etag: doc.etag };
  await clearSavedRead(store, entity, progress.readId);
  return undefined;
}

/**
 * Saves a read's progress after a page is applied; for a page of a full read, the ids it returned
 * first (one document per page, under a deterministic id, so a page saved again replaces itself).
 * Compare-and-set on `etag` (undefined: only if none is saved): answers the new etag, or undefined
 * when another run saved meanwhile (this one lost its lease and must stop).
 */
export async function saveReadProgress(
  store: DocStore,
  entity: string,
  progress: ReadProgress,
  etag: string | undefined,
  seenIds?: readonly string[],
): Promise<string | undefined> {
  if (seenIds !== undefined && seenIds.length > 0) {
    await store.putDoc(SEEN_IDS_KIND, seenIdsDocId(entity, progress.readId, progress.pages), {
      ids: seenIds,
    });
  }
  try {
    const value = readProgressSchema.parse(progress);
    return (await store.putDoc(READ_PROGRESS_KIND, entity, value, unchangedSince(etag))).etag;
  } catch (error) {
    if (error instanceof AppError && (error.code === 'PreconditionFailed' || error.code === 'Conflict')) {
      return undefined;
    }
    throw error;
  }
}

/** Every id the saved pages of a full read returned. */
export async function readSeenIds(store: DocStore, entity: string, readId: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const docs = await store.listDocs(SEEN_IDS_KIND, { prefix: seenIdsPrefix(entity, readId) });
  for (const doc of docs) for (const id of seenIdsSchema.parse(doc.value).ids) seen.add(id);
  return seen;
}

/** Forgets a read in progress and the ids it saved (once it finished, or was dropped). */
export async function clearSavedRead(store: DocStore, entity: string, readId: string): Promise<void> {
  const docs = await store.listDocEtags(SEEN_IDS_KIND, { prefix: seenIdsPrefix(entity, readId) });
  for (const doc of docs) await store.deleteDoc(SEEN_IDS_KIND, doc.id);
  await store.deleteDoc(READ_PROGRESS_KIND, entity);
}

const seenIdsSchema = z.object({ ids: z.array(z.string()) });

const seenIdsPrefix = (entity: string, readId: string): string => `${entity}/${readId}/`;

/** Padded, so the documents list in page order. */
const seenIdsDocId = (entity: string, readId: string, page: number): string =>
  `${seenIdsPrefix(entity, readId)}${String(page).padStart(8, '0')}`;
