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

/**
 * Resolves the caller of a device route (SPEC §5, §10): the token's `oid` names a directory user
 * (by Entra object id, case-insensitively), who needs Read on offline profiles, and whose profile is
 * the app's profile that contains them.
 *
 * @throws AppError `Forbidden` (detail code `UserNotInDirectory`) when no directory user has the
 * token's object id; `PrivilegeDenied` without Read on offline profiles; `NotFound` for an unknown
 * app; `NoProfile` when none of the app's profiles contains the user.
 */
export async function resolveSyncCaller(
  store: DocStore,
  principal: Principal,
  appId: string,
): Promise<SyncCaller> {
  const cached = await currentDirectory(store);
  const { directory, directoryVersion, users } = cached;
  const objectId = principal.objectId.toLowerCase();
  const user = users.get(objectId);
  if (user === undefined) {
    throw new AppError(
      'Forbidden',
      `No user of this tenant's directory has the object id ${principal.objectId}.`,
      {
        details: [
          { path: 'token.oid', code: 'UserNotInDirectory', message: 'the token names no directory user' },
        ],
      },
    );
  }
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
 * Per tenant handle, the directory last read, keyed by the etag of the version document read BEFORE
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
