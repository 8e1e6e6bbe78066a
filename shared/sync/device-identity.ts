import { findProfileForAppUser } from '../admin/app-config';
import { getDirectoryVersionTag, loadDirectory } from '../admin/directory-store';
import type { Principal } from '../auth/principal';
import { AppError } from '../errors';
import type { Directory, DirectoryUser } from '../model/directory';
import type { PublishedProfile } from '../model/profile';
import { canSyncAtAll } from '../security/privileges';
import { buildUserContext, type UserContext } from '../security/user-context';
import type { DocStore } from '../store/port';

/** The syncing user of a device request: who they are, what they may do, and their profile. */
export interface SyncCaller {
  user: DirectoryUser;
  context: UserContext;
  directory: Directory;
  directoryVersion: number;
  profile: PublishedProfile;
}

/** Who a device request is for: the token's principal, or a directory user by id (an admin's retry). */
export type SyncCallerRef = Pick<Principal, 'objectId'> | { userId: string };

/**
 * Resolves the caller of a device route, download and upload alike (SPEC §5, §10): the token's `oid`
 * names a directory user (by Entra object id, case-insensitively), who needs Read on offline
 * profiles, and whose profile is the app's profile that contains them. The directory and each user's
 * context are read once per directory version and process (see {@link currentDirectory}).
 *
 * @throws AppError `Forbidden` (detail code `UserNotInDirectory`) when no directory user has the
 * token's object id; `NotFound` when a user given by id is no longer in the directory;
 * `PrivilegeDenied` without Read on offline profiles; `NotFound` for an unknown app; `NoProfile` when
 * none of the app's profiles contains the user.
 */
export async function resolveSyncCaller(
  store: DocStore,
  caller: SyncCallerRef,
  appId: string,
): Promise<SyncCaller> {
  const cached = await currentDirectory(store);
  const { directory, users } = cached;
  if ('userId' in caller) {
    const wanted = caller.userId.toLowerCase();
    const byId = directory.users.find((u) => u.id.toLowerCase() === wanted);
    if (byId === undefined) {
      throw new AppError('NotFound', `User '${caller.userId}' is no longer in the tenant's directory.`);
    }
    return authorize(store, cached, byId, appId);
  }
  const user = users.get(caller.objectId.toLowerCase());
  if (user === undefined) throw notInDirectory(caller.objectId);
  return authorize(store, cached, user, appId);
}

/**
 * The directory user a token names (by Entra object id, case-insensitively), from the cached
 * directory.
 *
 * @throws AppError `Forbidden` (detail code `UserNotInDirectory`) when no directory user has it.
 */
export async function findDirectoryUser(
  store: DocStore,
  caller: Pick<Principal, 'objectId'>,
): Promise<DirectoryUser> {
  const { users } = await currentDirectory(store);
  const user = users.get(caller.objectId.toLowerCase());
  if (user === undefined) throw notInDirectory(caller.objectId);
  return user;
}

/**
 * The tenant's directory from the cache device requests read (see {@link currentDirectory}): shared,
 * so the caller must not change it.
 */
export async function readCurrentDirectory(store: DocStore): Promise<Directory> {
  return (await currentDirectory(store)).directory;
}

function notInDirectory(objectId: string): AppError {
  return new AppError('Forbidden', `No user of this tenant's directory has the object id ${objectId}.`, {
    details: [
      { path: 'token.oid', code: 'UserNotInDirectory', message: 'the token names no directory user' },
    ],
  });
}

/** The caller's context, their right to sync at all, and their profile in the app. */
async function authorize(
  store: DocStore,
  cached: CachedDirectory,
  user: DirectoryUser,
  appId: string,
): Promise<SyncCaller> {
  const { directory, directoryVersion } = cached;
  const context = userContextOf(cached, user.id);
  if (!canSyncAtAll(context)) {
    throw new AppError(
      'PrivilegeDenied',
      `User '${user.id}' has no security role that grants Read on offline profiles.`,
      {
        details: [
          {
            path: 'mobileofflineprofile',
            code: 'ReadOfflineProfilesRequired',
            message: 'Read on offline profiles is needed to sync',
          },
        ],
      },
    );
  }
  const profile = await findProfileForAppUser(store, appId, user.id);
  return { user, context, directory, directoryVersion, profile };
}

/** A directory as read after its version document, with what requests derive from it. */
interface CachedDirectory {
  etag: string | undefined;
  directory: Directory;
  directoryVersion: number;
  /** Users by lower-cased Entra object id. */
  users: Map<string, DirectoryUser>;
  contexts: Map<string, UserContext>;
}

/**
 * The one cache of the directory (per process and tenant store handle): the directory last read, keyed by the etag of the version document read BEFORE
 * it in the same request: a replace writes the items first and the version document last, so an
 * entry never outlives the directory it was read for (the next request sees a new etag and reads
 * again). Saves every device request from reading and validating the whole directory.
 */
const directories = new WeakMap<DocStore, CachedDirectory>();

async function currentDirectory(store: DocStore): Promise<CachedDirectory> {
  const { version, etag } = await getDirectoryVersionTag(store);
  const cached = directories.get(store);
  if (cached !== undefined && etag !== undefined && cached.etag === etag) return cached;
  const directory = await loadDirectory(store);
  const users = new Map<string, DirectoryUser>();
  // The first user with an object id wins, as a search in directory order would find.
  for (const u of directory.users) {
    const key = u.entraObjectId.toLowerCase();
    if (!users.has(key)) users.set(key, u);
  }
  const entry: CachedDirectory = {
    etag,
    directory,
    directoryVersion: version.version,
    users,
    contexts: new Map(),
  };
  directories.set(store, entry);
  return entry;
}

function userContextOf(entry: CachedDirectory, userId: string): UserContext {
  let context = entry.contexts.get(userId);
  if (context === undefined) {
    context = buildUserContext(entry.directory, userId);
    entry.contexts.set(userId, context);
  }
  return context;
}
