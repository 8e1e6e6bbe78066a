import { AppError } from '../../errors';
import type { EntityMetadata } from '../../model/entity';
import type { Attributes } from '../../model/record';
import { OWNER_ATTRIBUTE, OWNER_TYPE_ATTRIBUTE } from '../../model/record';

/**
 * Translation between Web API rows and our records:
 * - `@odata.etag` `W/"470867"` → version `470867` (falling back to the `versionnumber` column);
 * - lookups read as `_x_value` → `x`; `_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname` →
 *   `owneridtype`. Tracking queries ask for no annotations (reference §1: the deltaLink can go
 *   missing with them), so the owner's type usually comes from which of `_owninguser_value` /
 *   `_owningteam_value` is set;
 * - other annotations (`@odata.*`, `…@OData.Community.Display.V1.FormattedValue`) are dropped.
 */

const LOOKUP_PATTERN = /^_(\w+)_value$/;
const LOOKUP_TYPE_ANNOTATION = '@Microsoft.Dynamics.CRM.lookuplogicalname';

/** The digits of a Dataverse weak ETag, or undefined when it is not one. */
export function versionFromEtag(etag: unknown): string | undefined {
  if (typeof etag !== 'string') return undefined;
  const digits = /^(?:W\/)?"?(\d{1,30})"?$/.exec(etag.trim())?.[1];
  return digits?.replace(/^0+(?=\d)/, '');
}

/** The weak ETag of a version, for `If-Match`. */
export function etagFromVersion(version: string): string {
  return `W/"${version}"`;
}

/** A Web API row as our attributes, with its id and version. */
export function fromWebApiRow(
  entity: Pick<EntityMetadata, 'logicalName' | 'primaryIdAttribute'>,
  row: Record<string, unknown>,
): { id: string; version: string | undefined; attributes: Attributes } {
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.includes('@')) continue;
    const lookup = LOOKUP_PATTERN.exec(key);
    attributes[lookup ? lookup[1]! : key] = value;
  }
  const ownerType = row[`_${OWNER_ATTRIBUTE}_value${LOOKUP_TYPE_ANNOTATION}`];
  if (typeof ownerType === 'string') attributes[OWNER_TYPE_ATTRIBUTE] = ownerType;
  else if (attributes[OWNER_ATTRIBUTE] != null && attributes[OWNER_TYPE_ATTRIBUTE] === undefined) {
    if (row._owningteam_value != null) attributes[OWNER_TYPE_ATTRIBUTE] = 'team';
    else if (row._owninguser_value != null) attributes[OWNER_TYPE_ATTRIBUTE] = 'systemuser';
  }
  const id = row[entity.primaryIdAttribute];
  if (typeof id !== 'string' || id === '') {
    throw new AppError(
      'SourceUnavailable',
      `A ${entity.logicalName} row from Dataverse has no ${entity.primaryIdAttribute}.`,
    );
  }
  const versionNumber = row.versionnumber;
  const version =
    versionFromEtag(row['@odata.etag']) ??
    (typeof versionNumber === 'number' || typeof versionNumber === 'string'
      ? versionFromEtag(String(versionNumber))
      : undefined);
  return { id: id.toLowerCase(), version, attributes };
}

/** Columns the service sets itself; a device's copy of them is not written back. */
const SYSTEM_COLUMNS = new Set([
  'createdon',
  'createdby',
  'createdonbehalfby',
  'modifiedon',
  'modifiedby',
  'modifiedonbehalfby',
  'versionnumber',
  'owningbusinessunit',
  'owninguser',
  'owningteam',
  OWNER_TYPE_ATTRIBUTE,
]);

/** Resolves how a lookup binds: the navigation property and the target's entity set. */
export type LookupBinder = (
  attribute: string,
  target: string,
) => Promise<{ navigationProperty: string; targetEntitySet: string }>;

/**
 * Our attributes as a Web API request body. Lookups become `nav@odata.bind: "/set(id)"` (or `null`
 * to clear); the target comes from the attribute's only target, or from `<attribute>type` (e.g.
 * `owneridtype`, `customeridtype`) for polymorphic lookups, owners defaulting to `systemuser`.
 */
export async function toWebApiBody(
  entity: EntityMetadata,
  attributes: Attributes,
  bind: LookupBinder,
): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  const byName = new Map(entity.attributes.map((a) => [a.name, a]));
  for (const [name, value] of Object.entries(attributes)) {
    if (SYSTEM_COLUMNS.has(name) || name === entity.primaryIdAttribute) continue;
    const attribute = byName.get(name);
    if (attribute?.type !== 'lookup' && attribute?.type !== 'owner') {
      // A type column of a polymorphic lookup only steers the binding.
      if (name.endsWith('type') && byName.get(name.slice(0, -4))?.type === 'lookup') continue;
      body[name] = value;
      continue;
    }
    const declaredType = attributes[`${name}type`];
    const targets = attribute.targets ?? [];
    const target =
      typeof declaredType === 'string'
        ? declaredType
        : targets.length === 1
          ? targets[0]!
          : attribute.type === 'owner'
            ? 'systemuser'
            : undefined;
    if (target === undefined) {
      throw new AppError(
        'ValidationFailed',
        `${entity.logicalName}.${name} needs ${name}type to say what it points at.`,
        {
          details: [{ path: name, message: `polymorphic lookup without ${name}type` }],
        },
      );
    }
    if (value !== null && typeof value !== 'string') {
      throw new AppError('ValidationFailed', `${entity.logicalName}.${name} must be an id or null.`, {
        details: [{ path: name, message: 'lookup value must be a GUID string or null' }],
      });
    }
    const { navigationProperty, targetEntitySet } = await bind(name, target);
    body[`${navigationProperty}@odata.bind`] = value === null ? null : `/${targetEntitySet}(${value})`;
  }
  return body;
}
