import { z } from 'zod';
import { AppError } from '../errors';
import { unchangedSince, type DocStore } from '../store/port';
import { clearSeenIds, saveSeenPage } from './full-read-seen-ids';

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

/**
 * Where a full read's removal pass stands: the read's pages are all applied, and the stored rows it
 * did not return are being tombstoned in id order, a page of stored rows at a time.
 */
export const removalProgressSchema = z.object({
  /** The token the read ended with (null: the source gave none): stored once the pass is done. */
  deltaToken: z.string().min(1).nullable(),
  /** The last stored row id the pass has judged (null: none yet); the pass goes on after it. */
  afterId: z.string().min(1).max(200).nullable(),
  /** Stored rows judged so far. */
  scanned: z.number().int().nonnegative(),
  /** Rows tombstoned so far. */
  removed: z.number().int().nonnegative(),
});
export type RemovalProgress = z.infer<typeof removalProgressSchema>;

/** Where a read of an entity stands after its last applied page, and what it did so far. */
export const readProgressSchema = z
  .object({
    /** This read's id: the continuation messages it sends name it. */
    readId: z.string().min(1),
    /** The delta token the read started from (null: a full read). */
    from: z.string().min(1).nullable(),
    /** Fingerprint of the columns the read selects; a read of other columns is not resumed. */
    columns: z.string().min(1),
    /**
     * The source's position after the last applied page (`SourceChangePage.resumeAt`); absent once the
     * last page is applied (a full read's removal pass then runs).
     */
    resumeAt: z.string().min(1).optional(),
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
    /** A full read's removal pass, once its last page is applied. */
    removal: removalProgressSchema.optional(),
  })
  .refine((p) => p.resumeAt !== undefined || p.removal !== undefined, {
    path: ['resumeAt'],
    message: 'a saved read has a source position or a removal pass',
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
 * Saves a read's progress after a page is applied (or a step of its removal pass); for a page of a
 * full read, the ids it returned first (`saveSeenPage`: deterministic ids, a page saved again replaces
 * itself).
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
  if (seenIds !== undefined) await saveSeenPage(store, entity, progress.readId, progress.pages, seenIds);
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

/**
 * Forgets a finished read: its progress first, then every id kept for the entity's full reads (this
 * one's and any a crashed read left behind). In that order, a crash in between leaves only ids that
 * nothing reads, never a removal pass whose ids are gone.
 */
export async function finishSavedRead(store: DocStore, entity: string): Promise<void> {
  await store.deleteDoc(READ_PROGRESS_KIND, entity);
  await clearSeenIds(store, entity);
}

/** Forgets a read in progress and the ids it saved (once it finished, or was dropped). */
export async function clearSavedRead(store: DocStore, entity: string, readId: string): Promise<void> {
  // The progress first: a crash in between leaves ids nothing reads, not a read without its ids.
  await store.deleteDoc(READ_PROGRESS_KIND, entity);
  await clearSeenIds(store, entity, readId);
}
