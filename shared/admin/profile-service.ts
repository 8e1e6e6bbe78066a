import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock';
import { AppError } from '../errors';
import {
  MAX_PROFILE_USERS,
  profileDraftSchema,
  publishedProfileSchema,
  type ProfileContent,
  type ProfileCreate,
  type ProfileDraft,
  type PublishedProfile,
  type Violation,
} from '../model/profile';
import { validateProfile, type ProfileValidationContext } from '../profiles/validate-profile';
import { ParsedDocCache } from '../store/parsed-doc-cache';
import { retryOnWriteRace, type DocStore } from '../store/port';
import { loadDirectory } from './directory-store';
import { loadEntities } from './entity-config';
import { rejectViolations } from './reject-violations';
import { getTenantSettings } from './settings-store';

/** Doc kinds: the editable draft, and immutable published versions (`{id}@{version, 8 digits}`). */
export const PROFILE_DRAFT_KIND = 'profile';
const DRAFT_KIND = PROFILE_DRAFT_KIND;
const VERSION_KIND = 'profileVersion';
/** Read-modify-write attempts before a concurrent editor's change is reported as 412. */
const MAX_ATTEMPTS = 3;

const versionDocId = (id: string, version: number): string => `${id}@${String(version).padStart(8, '0')}`;

/** A profile draft with the etag to send back as `If-Match`. */
export interface ProfileDraftWithEtag {
  profile: ProfileDraft;
  etag: string;
}

/** Every profile draft, ordered by id. */
export async function listProfiles(store: DocStore): Promise<ProfileDraft[]> {
  const docs = await store.listDocs(DRAFT_KIND);
  return docs.map((doc) => profileDraftSchema.parse(doc.value));
}

/** A profile draft and its etag; 404 `NotFound` when there is none. */
export async function getProfile(store: DocStore, id: string): Promise<ProfileDraftWithEtag> {
  const doc = await store.getDoc(DRAFT_KIND, id);
  if (doc === undefined) throw new AppError('NotFound', `Profile '${id}' does not exist.`);
  return { profile: profileDraftSchema.parse(doc.value), etag: doc.etag };
}

/** The latest published version of a profile, or undefined when it was never published (or is gone). */
export async function loadPublishedProfile(
  store: DocStore,
  id: string,
): Promise<PublishedProfile | undefined> {
  const versions = await store.listDocs(VERSION_KIND, { prefix: `${id}@` });
  const latest = versions.at(-1);
  return latest ? publishedProfileSchema.parse(latest.value) : undefined;
}

/**
 * Published versions, read by every device request: each is validated once per store handle, and
 * the latest of each profile is worked out once per listing (the cache returns the same array while
 * no version document changed).
 */
const publishedVersions = new ParsedDocCache(VERSION_KIND, (value) => publishedProfileSchema.parse(value));
const latestByListing = new WeakMap<readonly PublishedProfile[], readonly PublishedProfile[]>();

/** The latest published version of every published profile. The profiles are shared and frozen. */
export async function listPublishedProfiles(store: DocStore): Promise<PublishedProfile[]> {
  const versions = await publishedVersions.list(store);
  let latest = latestByListing.get(versions);
  if (latest === undefined) {
    const byId = new Map<string, PublishedProfile>();
    // Ordered by id, so the last version of each profile wins.
    for (const profile of versions) byId.set(profile.id, profile);
    latest = Object.freeze([...byId.values()]);
    latestByListing.set(versions, latest);
  }
  return [...latest];
}

/**
 * The published profile that contains the user (SPEC §4: a user is in at most one profile), among
 * `profileIds` when given (an app's profiles). Undefined when none does.
 */
export async function findProfileForUser(
  store: DocStore,
  userId: string,
  profileIds?: readonly string[],
): Promise<PublishedProfile | undefined> {
  const candidates = await listPublishedProfiles(store);
  return candidates.find(
    (profile) =>
      (profileIds === undefined || profileIds.includes(profile.id)) && profile.users.includes(userId),
  );
}

/**
 * Enforces the one-profile rule: a user of `users` that another profile holds, in its draft or in its
 * published version, is 409 `UserInAnotherProfile` naming that profile (and the user).
 */
export async function assertUsersInNoOtherProfile(
  store: DocStore,
  profileId: string,
  users: readonly string[],
): Promise<void> {
  if (users.length === 0) return;
  const wanted = new Set(users);
  const holders = [
    ...(await listProfiles(store)).map((p) => ({ id: p.id, name: p.name, users: p.users })),
    ...(await listPublishedProfiles(store)).map((p) => ({ id: p.id, name: p.name, users: p.users })),
  ];
  for (const holder of holders) {
    if (holder.id === profileId) continue;
    const userId = holder.users.find((u) => wanted.has(u));
    if (userId !== undefined) {
      throw new AppError(
        'UserInAnotherProfile',
        `User '${userId}' is already in profile '${holder.name}' (${holder.id}); remove them there first.`,
        { details: { userId, profileId: holder.id, profileName: holder.name } },
      );
    }
  }
}

async function assertNameFree(store: DocStore, profileId: string, name: string): Promise<void> {
  const clash = (await listProfiles(store)).find(
    (p) => p.id !== profileId && p.name.toLowerCase() === name.toLowerCase(),
  );
  if (clash) throw new AppError('Conflict', `Profile '${clash.id}' already has the name '${name}'.`);
}

/** Creates an empty, unpublished profile (`POST admin/{org}/profiles`); 409 when the id or name is taken. */
export async function createProfile(
  store: DocStore,
  clock: Clock,
  input: ProfileCreate,
): Promise<ProfileDraftWithEtag> {
  const id = input.id ?? randomUUID();
  await assertNameFree(store, id, input.name);
  const now = clock.now().toISOString();
  const profile: ProfileDraft = {
    id,
    name: input.name,
    description: input.description,
    items: [],
    users: [],
    publishedVersion: 0,
    changedSincePublish: true,
    createdAt: now,
    updatedAt: now,
  };
  try {
    const doc = await store.putDoc(DRAFT_KIND, id, profile, { ifNoneMatch: '*' });
    return { profile, etag: doc.etag };
  } catch (error) {
    if (error instanceof AppError && error.code === 'Conflict') {
      throw new AppError('Conflict', `Profile '${id}' already exists.`, { cause: error });
    }
    throw error;
  }
}

/**
 * Replaces a profile's draft content (`PUT admin/{org}/profiles/{id}`). Drafts may break profile rules
 * (publish reports them); two rules are enforced at once: a name no other profile has (409), and the
 * one-profile rule for users (409 `UserInAnotherProfile`). With `ifMatch`, a draft changed since is
 * 412 `PreconditionFailed`. The published version is untouched.
 */
export async function updateProfile(
  store: DocStore,
  clock: Clock,
  id: string,
  content: ProfileContent,
  options: { ifMatch?: string } = {},
): Promise<ProfileDraftWithEtag> {
  const current = await getProfile(store, id);
  if (options.ifMatch !== undefined && options.ifMatch !== current.etag) {
    throw new AppError('PreconditionFailed', `Profile '${id}' was changed by someone else; reload it.`);
  }
  await assertNameFree(store, id, content.name);
  await assertUsersInNoOtherProfile(store, id, content.users);
  const profile: ProfileDraft = {
    ...current.profile,
    ...content,
    changedSincePublish: true,
    updatedAt: clock.now().toISOString(),
  };
  const doc = await store.putDoc(DRAFT_KIND, id, profile, { ifMatch: current.etag });
  return { profile, etag: doc.etag };
}

/**
 * Adds and removes users of a profile's draft (`POST admin/{org}/profiles/{id}/users`). Added users
 * must exist in the directory and fit in 1,000 (422 `Unprocessable`), and be in no other profile
 * (409 `UserInAnotherProfile`). Retries when a concurrent editor changed the draft in between.
 */
export async function changeProfileUsers(
  store: DocStore,
  clock: Clock,
  id: string,
  change: { add: readonly string[]; remove: readonly string[] },
): Promise<ProfileDraftWithEtag> {
  const directoryUsers = new Set((await loadDirectory(store)).users.map((u) => u.id));
  await assertUsersInNoOtherProfile(store, id, change.add);
  return retryOnWriteRace(MAX_ATTEMPTS, async () => {
    const current = await getProfile(store, id);
    const removed = new Set(change.remove);
    const users = [...new Set([...current.profile.users.filter((u) => !removed.has(u)), ...change.add])];
    const violations: Violation[] = change.add.flatMap((userId, k) =>
      directoryUsers.has(userId)
        ? []
        : [{ path: `add[${k}]`, code: 'UserNotFound', message: `User '${userId}' is not in the directory.` }],
    );
    if (users.length > MAX_PROFILE_USERS) {
      violations.push({
        path: 'add',
        code: 'TooManyUsers',
        message: `A profile has at most ${MAX_PROFILE_USERS} users; this change makes ${users.length}.`,
      });
    }
    rejectViolations(violations, 'Unprocessable', `The users of profile '${id}' break a rule.`);
    const profile: ProfileDraft = {
      ...current.profile,
      users,
      changedSincePublish: true,
      updatedAt: clock.now().toISOString(),
    };
    const doc = await store.putDoc(DRAFT_KIND, id, profile, { ifMatch: current.etag });
    return { profile, etag: doc.etag };
  });
}

/** What a profile is validated against at publish: published entities, the directory, the settings. */
export async function loadProfileValidationContext(store: DocStore): Promise<ProfileValidationContext> {
  const [entities, directory, settings] = await Promise.all([
    loadEntities(store),
    loadDirectory(store),
    getTenantSettings(store),
  ]);
  return {
    entities: new Map(entities.map((e) => [e.metadata.logicalName, e])),
    userIds: new Set(directory.users.map((u) => u.id)),
    settings,
  };
}

/** The violations a publish of the draft would answer now (for the admin page; nothing is stored). */
export async function checkProfile(store: DocStore, profile: ProfileContent): Promise<Violation[]> {
  return validateProfile(profile, await loadProfileValidationContext(store));
}

/**
 * Publishes a profile's draft (`POST admin/{org}/profiles/{id}/publish`): validates every rule
 * (422 `ProfileInvalid` with every violation in `details`; nothing is published), re-checks the
 * one-profile rule, then stores an immutable published version (the next number) and records it on
 * the draft. Later edits stay in the draft until the next publish.
 */
export async function publishProfile(store: DocStore, clock: Clock, id: string): Promise<PublishedProfile> {
  const { profile, etag: publishedEtag } = await getProfile(store, id);
  rejectViolations(
    validateProfile(profile, await loadProfileValidationContext(store)),
    'ProfileInvalid',
    `Profile '${profile.name}' cannot be published.`,
  );
  await assertUsersInNoOtherProfile(store, id, profile.users);
  const latest = await loadPublishedProfile(store, id);
  const published: PublishedProfile = {
    id,
    name: profile.name,
    description: profile.description,
    items: profile.items,
    users: profile.users,
    version: Math.max(latest?.version ?? 0, profile.publishedVersion) + 1,
    publishedAt: clock.now().toISOString(),
  };
  // ifNoneMatch: a concurrent publish of the same version fails here (409) instead of overwriting.
  await store.putDoc(VERSION_KIND, versionDocId(id, published.version), published, { ifNoneMatch: '*' });
  await retryOnWriteRace(MAX_ATTEMPTS, async () => {
    const current = await getProfile(store, id);
    if (current.profile.publishedVersion >= published.version) return;
    const draft: ProfileDraft = {
      ...current.profile,
      publishedVersion: published.version,
      // An edit made while publishing is not in this version: the draft still differs.
      changedSincePublish: current.etag !== publishedEtag,
    };
    await store.putDoc(DRAFT_KIND, id, draft, { ifMatch: current.etag });
  });
  return published;
}

/** Deletes a profile with its published versions; 409 while an app still uses it. */
export async function deleteProfile(
  store: DocStore,
  id: string,
  usedByApps: readonly string[],
): Promise<void> {
  await getProfile(store, id);
  if (usedByApps.length > 0) {
    throw new AppError(
      'Conflict',
      `Profile '${id}' is used by app(s) ${usedByApps.join(', ')}; remove it there first.`,
    );
  }
  for (const doc of await store.listDocs(VERSION_KIND, { prefix: `${id}@` })) {
    await store.deleteDoc(VERSION_KIND, doc.id);
  }
  await store.deleteDoc(DRAFT_KIND, id);
}
