import { findProfileForAppUser } from '../admin/app-config';
import { getDirectoryVersion, loadDirectory } from '../admin/directory-store';
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
  const [directory, directoryVersion] = await Promise.all([loadDirectory(store), getDirectoryVersion(store)]);
  const objectId = principal.objectId.toLowerCase();
  const user = directory.users.find((u) => u.entraObjectId.toLowerCase() === objectId);
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
  const context = buildUserContext(directory, user.id);
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
  return { user, context, directory, directoryVersion: directoryVersion.version, profile };
}
