import type { Clock } from '../clock';
import type { PublishedProfile } from '../model/profile';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import type { UserContext } from '../security/user-context';
import type { DocStore } from '../store/port';
import { compileDeviceProfile, type CompiledDeviceProfile } from './compile-device-profile';

/** Compiled profiles kept per store handle (one per user): the least recently used go first. */
const CAPACITY = 10_000;

/** What a compiled profile was compiled from: the very objects, shared by the caches that read them. */
interface CompiledEntry {
  profile: PublishedProfile;
  entities: readonly ConfiguredEntity[];
  context: UserContext;
  /** The UTC day it was compiled on (date windows bind whole days). */
  day: string;
  compiled: CompiledDeviceProfile;
}

const compiledByStore = new WeakMap<DocStore, Map<string, CompiledEntry>>();

/**
 * The caller's profile compiled against the published entities for their user context on the
 * clock's UTC day. A cache per process and store handle, keyed by user: an entry is reused while the
 * very same profile version, entity list and user context objects come back (the caches that read
 * them key by etag and return new objects after any change, in any instance) and, for a profile with
 * a date window, on the same UTC day (`last-x-days` binds whole days). So a reused compile is never
 * stale, and instances need not agree on anything.
 */
export function compiledProfileFor(
  store: DocStore,
  userId: string,
  profile: PublishedProfile,
  entities: readonly ConfiguredEntity[],
  context: UserContext,
  clock: Clock,
): CompiledDeviceProfile {
  let byUser = compiledByStore.get(store);
  if (byUser === undefined) {
    byUser = new Map();
    compiledByStore.set(store, byUser);
  }
  const day = clock.now().toISOString().slice(0, 10);
  let entry = byUser.get(userId);
  byUser.delete(userId);
  if (
    entry === undefined ||
    entry.profile !== profile ||
    entry.entities !== entities ||
    entry.context !== context ||
    (entry.compiled.clockDependent && entry.day !== day)
  ) {
    entry = {
      profile,
      entities,
      context,
      day,
      compiled: compileDeviceProfile(profile, entities, context, clock),
    };
  }
  while (byUser.size >= CAPACITY) {
    const oldest = byUser.keys().next();
    if (oldest.done === true) break;
    byUser.delete(oldest.value);
  }
  byUser.set(userId, entry);
  return entry.compiled;
}
