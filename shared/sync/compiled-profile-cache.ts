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
  clock: Clock;
  compiled: CompiledDeviceProfile;
}

/** A user's compiled profile for one request. */
export interface DeviceProfileForRequest {
  /**
   * The compiled profile, possibly compiled by an earlier request: its entities, items, associations,
   * stripping and hidden columns are exact; its filters may have read the clock earlier (`last-x-days`),
   * so membership must come from {@link DeviceProfileForRequest.withCurrentClock}.
   */
  shape: CompiledDeviceProfile;
  /** The profile compiled with the clock read in this request (compiled once per request, on demand). */
  withCurrentClock(): CompiledDeviceProfile;
}

const compiledByStore = new WeakMap<DocStore, Map<string, CompiledEntry>>();

/**
 * The caller's profile compiled against the published entities for their user context, reused while
 * the very same profile version, entity list and user context objects come back: the caches that read
 * them (by etag) return new objects after any change, so a reused compile is never stale. A profile
 * whose filters read the clock is compiled again, once per request, when membership is needed.
 */
export function compiledProfileFor(
  store: DocStore,
  userId: string,
  profile: PublishedProfile,
  entities: readonly ConfiguredEntity[],
  context: UserContext,
  clock: Clock,
): DeviceProfileForRequest {
  let byUser = compiledByStore.get(store);
  if (byUser === undefined) {
    byUser = new Map();
    compiledByStore.set(store, byUser);
  }
  let entry = byUser.get(userId);
  byUser.delete(userId);
  let fresh: CompiledDeviceProfile | undefined;
  if (
    entry === undefined ||
    entry.profile !== profile ||
    entry.entities !== entities ||
    entry.context !== context ||
    entry.clock !== clock
  ) {
    fresh = compileDeviceProfile(profile, entities, context, clock);
    entry = { profile, entities, context, clock, compiled: fresh };
  }
  while (byUser.size >= CAPACITY) {
    const oldest = byUser.keys().next();
    if (oldest.done === true) break;
    byUser.delete(oldest.value);
  }
  byUser.set(userId, entry);
  const shape = entry.compiled;
  return {
    shape,
    withCurrentClock() {
      if (fresh === undefined) {
        fresh = shape.clockDependent ? compileDeviceProfile(profile, entities, context, clock) : shape;
      }
      return fresh;
    },
  };
}
