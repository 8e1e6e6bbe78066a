import { z } from 'zod';
import type { ErrorDetail } from '../../errors';
import type { Attribute, EntityMetadata } from '../../model/entity';
import type { Attributes } from '../../model/record';
import { OWNER_ATTRIBUTE } from '../../model/record';
import type { UserContext } from '../../security/user-context';

/** Longest `string` value when the metadata sets no maximum (Dataverse's largest string column). */
export const DEFAULT_STRING_MAX_LENGTH = 4000;
/** Longest `memo` value when the metadata sets no maximum (Dataverse's memo ceiling). */
export const DEFAULT_MEMO_MAX_LENGTH = 1_048_576;

/**
 * Columns only the server sets. `ownerid` is not among them: a device may name a permitted owner
 * (the privilege check decides), and the owner type and owning business unit follow from it.
 */
export const SYSTEM_ATTRIBUTES: ReadonlySet<string> = new Set([
  'owneridtype',
  'owningbusinessunit',
  'owninguser',
  'owningteam',
  'createdon',
  'createdby',
  'modifiedon',
  'modifiedby',
  'createdonbehalfby',
  'modifiedonbehalfby',
  'versionnumber',
  'version',
]);

/** How id-like values (lookups, unique identifiers, new row ids) must look. */
export type IdFormat = 'guid' | 'identifier';

const GUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;
// Local tenants choose their own ids (ingest accepts any); still refuse blanks and control characters.
const IDENTIFIER = /^[A-Za-z0-9{][A-Za-z0-9_.:{}-]{0,199}$/;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
const isoDateTime = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);

/** What validation needs besides the row. */
export interface UploadRowValidationInput {
  entity: EntityMetadata;
  op: 'create' | 'update';
  /** The operation's row id. */
  id: string;
  row: Attributes;
  user: UserContext;
  /** `guid` for Dataverse tenants; `identifier` for local ones. */
  idFormat: IdFormat;
}

/** True when `value` is an id in the given format. */
export function isIdLike(value: unknown, format: IdFormat): value is string {
  return typeof value === 'string' && (format === 'guid' ? GUID : IDENTIFIER).test(value);
}

/**
 * Checks a device's row against the entity's metadata (SPEC §6 upload): unknown and system columns
 * refused, secured columns the user may not read refused, each value of its column's type and length,
 * the primary id equal to the operation's id, required columns present on create and never cleared.
 * Returns every problem with its path (`row.<column>`); empty when the row is acceptable.
 */
export function validateUploadRow(input: UploadRowValidationInput): ErrorDetail[] {
  const { entity, op, id, row, user, idFormat } = input;
  const problems: ErrorDetail[] = [];
  const byName = new Map(entity.attributes.map((a) => [a.name, a]));
  const entityName = entity.logicalName.toLowerCase();

  for (const [name, value] of Object.entries(row)) {
    const path = `row.${name}`;
    if (SYSTEM_ATTRIBUTES.has(name)) {
      problems.push({ path, code: 'SystemAttribute', message: `'${name}' is set by the server only.` });
      continue;
    }
    const attribute = byName.get(name);
    if (attribute === undefined) {
      problems.push({
        path,
        code: 'UnknownAttribute',
        message: `'${name}' is not an attribute of ${entity.logicalName}.`,
      });
      continue;
    }
    if (attribute.secured && !user.securedColumns.has(`${entityName}.${name.toLowerCase()}`)) {
      problems.push({
        path,
        code: 'SecuredAttribute',
        message: `'${name}' is a secured column the user may not access.`,
      });
      continue;
    }
    if (name === entity.primaryIdAttribute) {
      if (typeof value !== 'string' || value.toLowerCase() !== id.toLowerCase()) {
        problems.push({ path, code: 'IdMismatch', message: `'${name}' must equal the operation's id.` });
      }
      continue;
    }
    if (value === null) {
      if (attribute.required) {
        problems.push({ path, code: 'Required', message: `'${name}' is required and cannot be cleared.` });
      }
      continue;
    }
    const typeProblem = checkValue(attribute, value, idFormat);
    if (typeProblem !== undefined) problems.push({ path, code: 'InvalidValue', message: typeProblem });
  }

  if (op === 'create') {
    if (!isIdLike(id, idFormat)) {
      problems.push({
        path: 'id',
        code: 'InvalidValue',
        message: idFormat === 'guid' ? 'A new row id must be a GUID.' : 'The row id is not a valid id.',
      });
    }
    for (const attribute of entity.attributes) {
      // The primary id comes from the operation; owner columns are defaulted by the server.
      if (!attribute.required || attribute.name === entity.primaryIdAttribute) continue;
      if (attribute.name === OWNER_ATTRIBUTE || SYSTEM_ATTRIBUTES.has(attribute.name)) continue;
      if (row[attribute.name] === undefined || row[attribute.name] === null) {
        problems.push({
          path: `row.${attribute.name}`,
          code: 'Required',
          message: `'${attribute.name}' is required.`,
        });
      }
    }
  }
  return problems;
}

/** Why `value` does not fit the attribute, or undefined when it does. */
function checkValue(attribute: Attribute, value: unknown, idFormat: IdFormat): string | undefined {
  switch (attribute.type) {
    case 'string':
    case 'memo': {
      if (typeof value !== 'string') return 'must be a string';
      const max =
        attribute.maxLength ??
        (attribute.type === 'memo' ? DEFAULT_MEMO_MAX_LENGTH : DEFAULT_STRING_MAX_LENGTH);
      return value.length > max ? `is longer than ${max} characters` : undefined;
    }
    case 'integer':
      return Number.isInteger(value) && (value as number) >= INT32_MIN && (value as number) <= INT32_MAX
        ? undefined
        : 'must be a whole number between -2147483648 and 2147483647';
    case 'bigint':
      return Number.isSafeInteger(value) || (typeof value === 'string' && /^-?\d{1,19}$/.test(value))
        ? undefined
        : 'must be a whole number';
    case 'decimal':
    case 'double':
    case 'money':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'datetime':
      return isoDateTime.safeParse(value).success ? undefined : 'must be an ISO 8601 date or date-time';
    case 'uniqueidentifier':
    case 'lookup':
      return isIdLike(value, idFormat) ? undefined : idFormat === 'guid' ? 'must be a GUID' : 'must be an id';
    case 'owner':
      // Whether the owner exists, and may be given, is the upload's to decide against the directory.
      return typeof value === 'string' && value.length > 0 ? undefined : 'must be a user or team id';
    case 'picklist':
    case 'language':
      return Number.isInteger(value) ? undefined : 'must be a whole number (an option value)';
  }
}
