import { AppError } from '../errors';
import { tenantSettingsSchema, type TenantSettings, type TenantSettingsUpdate } from '../model/settings';
import { ParsedDocCache } from '../store/parsed-doc-cache';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';

/** Doc kind and id of a tenant's settings. */
const SETTINGS_KIND = 'settings';
const SETTINGS_ID = 'tenant';

/** Settings are read by every device request: each stored version is validated once per store handle. */
const storedSettings = new ParsedDocCache(SETTINGS_KIND, (value) => tenantSettingsSchema.parse(value));
const defaultSettings: TenantSettings = Object.freeze(tenantSettingsSchema.parse({}));

/** The tenant's settings; defaults for any the tenant never set. Shared and frozen: do not change them. */
export async function getTenantSettings(store: DocStore): Promise<TenantSettings> {
  const doc = await storedSettings.get(store, SETTINGS_ID);
  return doc?.value ?? defaultSettings;
}

/**
 * Applies a partial update to the tenant's settings. The merged settings must keep the cross-field
 * rules (soft row limit ≤ hard row limit, one-to-many limit ≤ association limit), else 422
 * `Unprocessable` with each violation. A concurrent update in between is `PreconditionFailed`.
 */
export async function updateTenantSettings(
  store: DocStore,
  update: TenantSettingsUpdate,
): Promise<TenantSettings> {
  const doc = await store.getDoc(SETTINGS_KIND, SETTINGS_ID);
  const current = tenantSettingsSchema.parse(doc?.value ?? {});
  const merged = tenantSettingsSchema.safeParse({ ...current, ...update });
  if (!merged.success) {
    throw new AppError('Unprocessable', 'The settings break a rule.', {
      details: merged.error.issues.map((issue) => ({
        path: issue.path.join('.'),
        code: 'SettingsInvalid',
        message: issue.message,
      })),
    });
  }
  await store.putDoc(SETTINGS_KIND, SETTINGS_ID, merged.data, unchangedSince(doc?.etag));
  return merged.data;
}
