import { z } from 'zod';
import { AppError } from '../errors';
import type { DocStore } from '../store/port';

/**
 * The ids a full read returned, kept so that its removal pass can tell which stored rows the source
 * no longer has. A read of a million rows returns a million ids: no message and no document could
 * hold them (Service Bus: 256 KB a message; Cosmos DB: 2 MB an item), and no one removal step should
 * read them all. So each page of the read keeps its own ids, sorted, in documents of at most
 * {@link IDS_PER_PART} ids (an id is at most 200 characters: a part stays far below 2 MB), and the
 * removal pass, which walks the stored rows in id order, merges the pages' sorted runs alongside: each
 * step reads from each page only the part its position has reached, and no step holds more than one
 * part per page.
 *
 * Documents (kind {@link SEEN_IDS_KIND}), under `{entity}/{readId}/{page}`:
 * - a page of at most {@link IDS_PER_PART} ids: `{ ids }` (sorted);
 * - a larger page: `{ firsts }` (the first id of each part) and each part at `…/{page}/{part}`: `{ ids }`.
 *
 * Order: ids compare as JavaScript strings (UTF-16 code units). The removal pass checks that the
 * store scans rows in that order and stops, tombstoning nothing, where it does not.
 */

/** Doc kind of the ids a full read in progress has returned. */
export const SEEN_IDS_KIND = 'replication-read-seen';

/** Most ids one document holds: 500 ids of at most 200 characters are far below Cosmos DB's 2 MB. */
export const IDS_PER_PART = 500;

const idsDocSchema = z.object({ ids: z.array(z.string().min(1)) });
const pageDocSchema = z.union([idsDocSchema, z.object({ firsts: z.array(z.string().min(1)).min(2) })]);

const seenPrefix = (entity: string, readId: string): string => `${entity}/${readId}/`;

/** Padded, so the documents list in page (and part) order. */
const pageDocId = (entity: string, readId: string, page: number): string =>
  `${seenPrefix(entity, readId)}${String(page).padStart(8, '0')}`;
const partDocId = (entity: string, readId: string, page: number, part: number): string =>
  `${pageDocId(entity, readId, page)}/${String(part).padStart(4, '0')}`;

/**
 * Keeps the ids page `page` of a full read returned (an empty page too: every page of the read has its
 * document, so a missing one is a loss, never "nothing seen"). Deterministic ids: a page saved again
 * replaces itself. Parts go first, the page document last, so a page document always has its parts.
 */
export async function saveSeenPage(
  store: DocStore,
  entity: string,
  readId: string,
  page: number,
  ids: readonly string[],
): Promise<void> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length <= IDS_PER_PART) {
    await store.putDoc(SEEN_IDS_KIND, pageDocId(entity, readId, page), idsDocSchema.parse({ ids: sorted }));
    return;
  }
  const firsts: string[] = [];
  for (let start = 0, part = 0; start < sorted.length; start += IDS_PER_PART, part++) {
    const ids = sorted.slice(start, start + IDS_PER_PART);
    firsts.push(ids[0]!);
    await store.putDoc(SEEN_IDS_KIND, partDocId(entity, readId, page, part), { ids });
  }
  await store.putDoc(SEEN_IDS_KIND, pageDocId(entity, readId, page), { firsts });
}

/** Forgets every id kept for the entity's full reads (the one that finished and any left behind). */
export async function clearSeenIds(store: DocStore, entity: string, readId?: string): Promise<void> {
  const prefix = readId === undefined ? `${entity}/` : seenPrefix(entity, readId);
  const docs = await store.listDocEtags(SEEN_IDS_KIND, { prefix });
  for (const doc of docs) await store.deleteDoc(SEEN_IDS_KIND, doc.id);
}

/** The first index of `ids` (sorted) whose id is greater than `after`. */
function firstAfter(ids: readonly string[], after: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One page's sorted run, read a part at a time. */
interface Run {
  page: number;
  /** First id of each part; undefined for a page kept in one document. */
  firsts: readonly string[] | undefined;
  part: number;
  ids: readonly string[];
  at: number;
}

/** The seen ids of a full read, merged in id order (see the module comment). */
export interface SeenIdsMerge {
  /**
   * The seen ids greater than the previous call's `upTo` (or the position it was opened at) and at
   * most `upTo`. Calls must come with increasing `upTo`.
   */
  through(upTo: string): Promise<Set<string>>;
}

/**
 * Opens the seen ids of the read `readId` (pages 1 to `pages`), positioned after `afterId` (null: from
 * the start). A page whose document is missing fails with `Internal`: without it, rows the read did
 * return would look gone.
 */
export async function openSeenIds(
  store: DocStore,
  entity: string,
  readId: string,
  pages: number,
  afterId: string | null,
): Promise<SeenIdsMerge> {
  const loadPart = async (page: number, part: number): Promise<string[]> => {
    const doc = await store.getDoc(SEEN_IDS_KIND, partDocId(entity, readId, page, part));
    if (doc === undefined) throw missing(entity, readId, `page ${page}, part ${part}`);
    return idsDocSchema.parse(doc.value).ids;
  };
  const openRun = async (page: number): Promise<Run> => {
    const doc = await store.getDoc(SEEN_IDS_KIND, pageDocId(entity, readId, page));
    if (doc === undefined) throw missing(entity, readId, `page ${page}`);
    const value = pageDocSchema.parse(doc.value);
    if ('ids' in value) {
      // Sorted again: pages saved before ids were kept sorted hold them in the source's order.
      const ids = [...value.ids].sort();
      return { page, firsts: undefined, part: 0, ids, at: afterId === null ? 0 : firstAfter(ids, afterId) };
    }
    // The last part whose first id is at most the position holds the ids just after it.
    const part = afterId === null ? 0 : Math.max(0, firstAfter(value.firsts, afterId) - 1);
    const ids = await loadPart(page, part);
    return { page, firsts: value.firsts, part, ids, at: afterId === null ? 0 : firstAfter(ids, afterId) };
  };
  const runs: Run[] = [];
  // A few at a time: a million-row read has some 200 pages of 5,000.
  for (let first = 1; first <= pages; first += 16) {
    const batch = [];
    for (let page = first; page < first + 16 && page <= pages; page++) batch.push(openRun(page));
    runs.push(...(await Promise.all(batch)));
  }
  return {
    async through(upTo) {
      const seen = new Set<string>();
      for (const run of runs) {
        for (;;) {
          while (run.at < run.ids.length && run.ids[run.at]! <= upTo) seen.add(run.ids[run.at++]!);
          if (run.at < run.ids.length || run.firsts === undefined || run.part + 1 >= run.firsts.length) break;
          run.part += 1;
          run.ids = await loadPart(run.page, run.part);
          run.at = 0;
        }
      }
      return seen;
    },
  };
}

/** `details.reason` of the error a removal pass fails with when ids it needs are gone. */
const SEEN_IDS_MISSING = 'seenIdsMissing';

function missing(entity: string, readId: string, what: string): AppError {
  return new AppError(
    'Internal',
    `The ids the full read '${readId}' of '${entity}' returned are missing (${what}): its removal pass cannot tell which rows are gone.`,
    { details: { reason: SEEN_IDS_MISSING, entity, readId } },
  );
}

/** Whether `error` says a removal pass lacks the ids it needs (the read must start again). */
export function isSeenIdsMissing(error: unknown): boolean {
  return (
    error instanceof AppError &&
    (error.details as { reason?: unknown } | undefined)?.reason === SEEN_IDS_MISSING
  );
}
