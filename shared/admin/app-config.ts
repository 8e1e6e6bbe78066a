import type { Clock } from '../clock';
import { AppError } from '../errors';
import { appConfigSchema, type AppConfig, type AppConfigInput } from '../model/app';
import type { PublishedProfile, Violation } from '../model/profile';
import { ParsedDocCache } from '../store/parsed-doc-cache';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';
import { findProfileForUser, loadPublishedProfile } from './profile-service';
import { rejectViolations } from './reject-violations';

/** Doc kind of app modules. */
const APP_KIND = 'app';

/** Every device request reads its app: each stored version is validated once per store handle. */
const storedApps = new ParsedDocCache(APP_KIND, (value) => appConfigSchema.parse(value));

/** An app module; 404 `NotFound` when it was never configured. Shared and frozen: do not change it. */
export async function getApp(store: DocStore, appId: string): Promise<AppConfig> {
  const doc = await storedApps.get(store, appId);
  if (doc === undefined) throw new AppError('NotFound', `App '${appId}' is not configured.`);
  return doc.value;
}

/** Every configured app module, ordered by id. */
export async function listApps(store: DocStore): Promise<AppConfig[]> {
  return (await store.listDocs(APP_KIND)).map((doc) => appConfigSchema.parse(doc.value));
}

/** Ids of the apps whose profiles include `profileId`. */
export async function appsUsingProfile(store: DocStore, profileId: string): Promise<string[]> {
  return (await listApps(store)).filter((app) => app.profiles.includes(profileId)).map((app) => app.id);
}

/**
 * Creates or replaces an app module (`PUT admin/{org}/apps/{appId}`). Every profile it names must
 * exist and be published, each once, and an offline-enabled app needs at least one (422
 * `Unprocessable` with every violation). A user cannot be in two of its profiles: the one-profile rule
 * already forbids it.
 */
export async function putApp(
  store: DocStore,
  clock: Clock,
  appId: string,
  input: AppConfigInput,
): Promise<{ app: AppConfig; created: boolean }> {
  const violations: Violation[] = [];
  if (input.offlineEnabled && input.profiles.length === 0) {
    violations.push({
      path: 'profiles',
      code: 'ProfileRequired',
      message: 'An app enabled for offline needs at least one published profile.',
    });
  }
  const seen = new Set<string>();
  for (const [k, profileId] of input.profiles.entries()) {
    if (seen.has(profileId)) {
      violations.push({
        path: `profiles[${k}]`,
        code: 'DuplicateProfile',
        message: `Profile '${profileId}' is listed twice.`,
      });
      continue;
    }
    seen.add(profileId);
    if ((await loadPublishedProfile(store, profileId)) === undefined) {
      violations.push({
        path: `profiles[${k}]`,
        code: 'ProfileNotPublished',
        message: `Profile '${profileId}' does not exist or was never published.`,
      });
    }
  }
  rejectViolations(violations, 'Unprocessable', `App '${appId}' breaks a rule.`);
  const existing = await store.getDoc(APP_KIND, appId);
  const app: AppConfig = { ...input, id: appId, updatedAt: clock.now().toISOString() };
  await store.putDoc(APP_KIND, appId, app, unchangedSince(existing?.etag));
  return { app, created: existing === undefined };
}

/**
 * The published profile a user syncs with for an app (SPEC §4: the app's profile that contains the
 * user): 404 when the app is not configured, 403 `NoProfile` when it is not offline-enabled or none of
 * its profiles contains the user.
 */
export async function findProfileForAppUser(
  store: DocStore,
  appId: string,
  userId: string,
): Promise<PublishedProfile> {
  const app = await getApp(store, appId);
  if (!app.offlineEnabled) throw new AppError('NoProfile', `App '${appId}' is not enabled for offline.`);
  const profile = await findProfileForUser(store, userId, app.profiles);
  if (profile === undefined) {
    throw new AppError('NoProfile', `User '${userId}' is in none of the offline profiles of app '${appId}'.`);
  }
  return profile;
}
