import { z } from 'zod';
import type { Directory } from '../model/directory';
import { safeTextRefinement } from '../model/safe-text';

/**
 * What `GET admin/{org}/directory` answers: the tenant's users, teams and business units, by id and
 * display name, for the admin page's pickers (lookup conditions, profile users). Capped, not paged:
 * each kind answers at most `limit` entries and says whether more matched, so a picker narrows its
 * search instead of scrolling through a large directory.
 */

/** Most entries one kind answers (the default is {@link DEFAULT_DIRECTORY_LIMIT}). */
export const MAX_DIRECTORY_LIMIT = 200;
export const DEFAULT_DIRECTORY_LIMIT = 50;

/** The kinds of directory items the listing names. */
export const directoryKindSchema = z.enum(['users', 'teams', 'businessUnits']);
export type DirectoryKind = z.infer<typeof directoryKindSchema>;

/** Query of the listing: an optional search, the kinds wanted (comma-separated; default all) and the cap. */
export const directoryListQuerySchema = z
  .object({
    /** Case-insensitive search in display names (users: full and user name) and ids. */
    q: z
      .string()
      .trim()
      .max(100)
      .refine(...safeTextRefinement)
      .optional(),
    /** `users`, `teams`, `businessUnits`, or several of them separated by commas. */
    kind: z
      .string()
      .max(100)
      .transform((text) => text.split(',').map((part) => part.trim()))
      .pipe(z.array(directoryKindSchema).min(1))
      .optional(),
    limit: z.coerce.number().int().min(1).max(MAX_DIRECTORY_LIMIT).default(DEFAULT_DIRECTORY_LIMIT),
  })
  .strict();
export type DirectoryListQuery = z.infer<typeof directoryListQuerySchema>;

/** One directory item as the listing names it. */
export const directoryEntrySchema = z.object({
  id: z.string(),
  /** The display name: a user's full name, a team's or business unit's name. */
  name: z.string(),
  /** Users only: their user name (sign-in name). */
  userName: z.string().optional(),
});
export type DirectoryEntry = z.infer<typeof directoryEntrySchema>;

/** The entries of one kind: at most `limit`, ordered; `more` when further items matched. */
export const directoryPageSchema = z.object({ items: z.array(directoryEntrySchema), more: z.boolean() });
export type DirectoryPage = z.infer<typeof directoryPageSchema>;

/** Response of the listing: the kinds asked for (all three when none was named) and the cap applied. */
export const directoryListSchema = z.object({
  limit: z.number().int(),
  users: directoryPageSchema.optional(),
  teams: directoryPageSchema.optional(),
  businessUnits: directoryPageSchema.optional(),
});
export type DirectoryList = z.infer<typeof directoryListSchema>;

function entriesOf(directory: Directory, kind: DirectoryKind): DirectoryEntry[] {
  switch (kind) {
    case 'users':
      return directory.users.map((u) => ({ id: u.id, name: u.fullName, userName: u.userName }));
    case 'teams':
      return directory.teams.map((t) => ({ id: t.id, name: t.name }));
    case 'businessUnits':
      return directory.businessUnits.map((b) => ({ id: b.id, name: b.name }));
  }
}

/** How well an entry matches the search: 0 an exact id, 1 a name starting with it, 2 elsewhere; undefined none. */
function rankOf(entry: DirectoryEntry, q: string): number | undefined {
  if (entry.id.toLowerCase() === q) return 0;
  const texts = [entry.name, entry.userName ?? '', entry.id].map((t) => t.toLowerCase());
  if (texts.some((t) => t.startsWith(q))) return 1;
  if (texts.some((t) => t.includes(q))) return 2;
  return undefined;
}

function compareEntries(a: DirectoryEntry, b: DirectoryEntry): number {
  const byName = a.name.localeCompare(b.name, 'en', { sensitivity: 'base' });
  if (byName !== 0) return byName;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The directory listing of `query` (pure: the route reads the directory). Entries of each kind are
 * ordered by how well they match (an exact id first, then names starting with the search), then by
 * name and id; at most `limit` of each.
 */
export function listDirectory(directory: Directory, query: DirectoryListQuery): DirectoryList {
  const kinds = query.kind ?? directoryKindSchema.options;
  const q = query.q?.toLowerCase() ?? '';
  const answer: DirectoryList = { limit: query.limit };
  for (const kind of new Set(kinds)) {
    const ranked: { entry: DirectoryEntry; rank: number }[] = [];
    for (const entry of entriesOf(directory, kind)) {
      const rank = q === '' ? 2 : rankOf(entry, q);
      if (rank !== undefined) ranked.push({ entry, rank });
    }
    ranked.sort((a, b) => a.rank - b.rank || compareEntries(a.entry, b.entry));
    answer[kind] = {
      items: ranked.slice(0, query.limit).map((r) => r.entry),
      more: ranked.length > query.limit,
    };
  }
  return answer;
}
