import { validateDirectory } from '../directory/validate-directory';
import type { Clock } from '../clock';
import {
  businessUnitSchema,
  directorySchema,
  directoryUserSchema,
  roleSchema,
  teamSchema,
  type Directory,
} from '../model/directory';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';
import { rejectViolations } from './reject-violations';

/** Doc kinds of the directory: one document per business unit, user, team and role. */
export const DIRECTORY_KINDS = {
  businessUnits: 'businessUnit',
  users: 'user',
  teams: 'team',
  roles: 'role',
} as const;
const VERSION_KIND = 'directoryVersion';
const VERSION_ID = 'current';
/** Writes in flight at once while replacing a directory (keeps Cosmos below its throttling). */
const WRITE_CONCURRENCY = 16;

/** The directory's version: bumped on every replace, so the sync engine can tell a change. */
export interface DirectoryVersion {
  version: number;
  updatedAt: string;
}

/** The tenant's directory as stored (empty lists when none was declared or replicated yet). */
export async function loadDirectory(store: DocStore): Promise<Directory> {
  const [businessUnits, users, teams, roles] = await Promise.all([
    store.listDocs(DIRECTORY_KINDS.businessUnits),
    store.listDocs(DIRECTORY_KINDS.users),
    store.listDocs(DIRECTORY_KINDS.teams),
    store.listDocs(DIRECTORY_KINDS.roles),
  ]);
  // Not `directorySchema`: it needs a business unit, and a tenant may have no directory yet.
  return {
    businessUnits: businessUnits.map((d) => businessUnitSchema.parse(d.value)),
    users: users.map((d) => directoryUserSchema.parse(d.value)),
    teams: teams.map((d) => teamSchema.parse(d.value)),
    roles: roles.map((d) => roleSchema.parse(d.value)),
  };
}

/** The directory's version (0 when it was never written). */
export async function getDirectoryVersion(store: DocStore): Promise<DirectoryVersion> {
  const doc = await store.getDoc<DirectoryVersion>(VERSION_KIND, VERSION_ID);
  return doc?.value ?? { version: 0, updatedAt: new Date(0).toISOString() };
}

/**
 * The directory's version with the etag of its document (undefined when never written). The etag
 * changes on every replace (the version document is written after the items), so it keys caches of
 * the directory read after it.
 */
export async function getDirectoryVersionTag(
  store: DocStore,
): Promise<{ version: DirectoryVersion; etag: string | undefined }> {
  const doc = await store.getDoc<DirectoryVersion>(VERSION_KIND, VERSION_ID);
  return {
    version: doc?.value ?? { version: 0, updatedAt: new Date(0).toISOString() },
    etag: doc?.etag,
  };
}

async function runLimited(tasks: (() => Promise<unknown>)[]): Promise<void> {
  for (let i = 0; i < tasks.length; i += WRITE_CONCURRENCY) {
    await Promise.all(tasks.slice(i, i + WRITE_CONCURRENCY).map((task) => task()));
  }
}

/**
 * Replaces the tenant's directory (SPEC §10 `PUT admin/{org}/directory`). It is validated first
 * (`validateDirectory`; 422 `Unprocessable` with every violation, nothing written); then changed items
 * are written, items no longer present deleted, and the directory version bumped. Unchanged items are
 * not rewritten. Returns the new version.
 */
export async function replaceDirectory(
  store: DocStore,
  input: Directory,
  clock: Clock = { now: () => new Date() },
): Promise<DirectoryVersion> {
  const directory = directorySchema.parse(input);
  rejectViolations(validateDirectory(directory), 'Unprocessable', 'The directory breaks a rule.');

  const tasks: (() => Promise<unknown>)[] = [];
  for (const key of Object.keys(DIRECTORY_KINDS) as (keyof typeof DIRECTORY_KINDS)[]) {
    const kind = DIRECTORY_KINDS[key];
    const existing = new Map((await store.listDocs(kind)).map((d) => [d.id, JSON.stringify(d.value)]));
    const wanted = new Set<string>();
    for (const item of directory[key]) {
      wanted.add(item.id);
      if (existing.get(item.id) !== JSON.stringify(item)) tasks.push(() => store.putDoc(kind, item.id, item));
    }
    for (const id of existing.keys()) if (!wanted.has(id)) tasks.push(() => store.deleteDoc(kind, id));
  }
  await runLimited(tasks);

  const current = await store.getDoc<DirectoryVersion>(VERSION_KIND, VERSION_ID);
  const next: DirectoryVersion = {
    version: (current?.value.version ?? 0) + 1,
    updatedAt: clock.now().toISOString(),
  };
  await store.putDoc(VERSION_KIND, VERSION_ID, next, unchangedSince(current?.etag));
  return next;
}
