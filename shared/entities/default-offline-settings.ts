import { defaultOfflineEntities, type EntityMetadata, type EntityOfflineSettings } from '../model/entity';
import { MODIFIED_ON_ATTRIBUTE } from '../model/record';

/** Days of the org data download filter that default-enabled entities start with (SPEC §3). */
export const DEFAULT_ORG_FILTER_DAYS = 10;

/**
 * The offline settings an entity starts with when it first appears: enabled when it is one of the
 * SPEC §3 default entities, and then filtered to rows modified in the last 10 days when it has a
 * `modifiedon` attribute; any other entity starts disabled with no filter.
 */
export function defaultOfflineSettings(entity: EntityMetadata): EntityOfflineSettings {
  const enabled = defaultOfflineEntities.includes(entity.logicalName);
  const hasModifiedOn = entity.attributes.some(
    (a) => a.name === MODIFIED_ON_ATTRIBUTE && a.type === 'datetime',
  );
  return {
    enabled,
    orgFilter:
      enabled && hasModifiedOn
        ? [{ attribute: MODIFIED_ON_ATTRIBUTE, operator: 'last-x-days', value: DEFAULT_ORG_FILTER_DAYS }]
        : [],
    required: false,
  };
}
