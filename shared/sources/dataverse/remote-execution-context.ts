import { z } from 'zod';
import { logicalNameSchema } from '../../model/entity';
import type { Attributes } from '../../model/record';
import { OWNER_ATTRIBUTE, OWNER_TYPE_ATTRIBUTE } from '../../model/record';
import type { SourceChange } from '../port';

/**
 * The RemoteExecutionContext JSON that a Dataverse webhook or Service Bus service endpoint (message
 * format 2, JSON) delivers (reference §4), and its normalization into source changes.
 *
 * The JSON is WCF DataContract style: collections are `[{ key, value }]` arrays, typed values carry
 * `"__type": "<Type>:http://schemas.microsoft.com/xrm/2011/Contracts"`, dates are `"\/Date(ms)\/"`,
 * and .NET primitives in `object` slots come wrapped as `{ "__type": "<Type>:#System", "__value" }`
 * (`Guid:#System`, `DateTime:#System`, `Int64:#System`…). Values become plain JSON as the change
 * tracking path reads them: EntityReference → its id (the owner also sets `owneridtype`),
 * OptionSetValue and Money → their `Value`, dates → ISO 8601, Guid → its lower-case string, other
 * `#System` values → their `__value`.
 */

const guidSchema = z.string().regex(/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/, 'a GUID');

/** One `{ key, value }` entry of a WCF collection. */
export const keyValueSchema = z.object({ key: z.string(), value: z.unknown() });

/** A WCF `Entity`: the Target of Create and Update, and every entity image. */
export const wcfEntitySchema = z
  .object({
    __type: z.string().optional(),
    LogicalName: logicalNameSchema,
    Id: guidSchema,
    Attributes: z.array(keyValueSchema).default([]),
    RowVersion: z.string().nullable().optional(),
  })
  .loose();
export type WcfEntity = z.infer<typeof wcfEntitySchema>;

/** A WCF `EntityReference`: the Target of Delete and Assign, an Assignee, an EntityMoniker. */
export const wcfEntityReferenceSchema = z
  .object({
    __type: z.string().optional(),
    LogicalName: logicalNameSchema,
    Id: guidSchema,
    Name: z.string().nullable().optional(),
    RowVersion: z.string().nullable().optional(),
  })
  .loose();
export type WcfEntityReference = z.infer<typeof wcfEntityReferenceSchema>;

/** The context as posted; fields the normalization does not use are kept but not checked. */
export const remoteExecutionContextSchema = z
  .object({
    MessageName: z.string().min(1),
    PrimaryEntityName: logicalNameSchema,
    PrimaryEntityId: guidSchema,
    CorrelationId: z.string().optional(),
    UserId: z.string().optional(),
    InitiatingUserId: z.string().optional(),
    Depth: z.number().int().optional(),
    Mode: z.number().int().optional(),
    Stage: z.number().int().optional(),
    InputParameters: z.array(keyValueSchema).default([]),
    OutputParameters: z.array(keyValueSchema).default([]),
    PreEntityImages: z.array(keyValueSchema).default([]),
    PostEntityImages: z.array(keyValueSchema).default([]),
  })
  .loose();
export type RemoteExecutionContext = z.infer<typeof remoteExecutionContextSchema>;

/**
 * A SourceChange from a RemoteExecutionContext, with what the replication side must know:
 *
 * - `merge`: the attributes are only some of the row's columns (Update sends only changed columns,
 *   Assign only the owner, SetState only the state): MERGE them into the stored row, never replace it.
 *   Create carries the row as created (`merge: false`).
 * - `reread`: the payload was trimmed (over 256 KB: no InputParameters nor images), so the row must be
 *   read again from the source by id.
 * - `version`: from the Target's or image's `RowVersion`, or a `versionnumber` column; undefined when
 *   the event carries none (the replication side then reads the row to learn it).
 */
export interface RemoteSourceChange extends SourceChange {
  message: string;
  merge: boolean;
  reread: boolean;
  /** Who caused the change (for loop prevention: ignore our own writes). */
  initiatingUserId?: string;
  correlationId?: string;
  depth?: number;
}

const DATE_PATTERN = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/;

/** `EntityReference:http://…` → `EntityReference`. */
function typeName(value: Record<string, unknown>): string | undefined {
  return typeof value.__type === 'string' ? value.__type.split(':')[0] : undefined;
}

/** The namespace of a WCF type hint: `Guid:#System` → `#System`. */
function typeNamespace(value: Record<string, unknown>): string | undefined {
  if (typeof value.__type !== 'string') return undefined;
  const colon = value.__type.indexOf(':');
  return colon < 0 ? undefined : value.__type.slice(colon + 1);
}

/**
 * A .NET primitive boxed in an `object` slot, `{ "__type": "Guid:#System", "__value": … }`, as plain
 * JSON: a Guid as its lower-case string (as ids are everywhere else); anything else (`DateTime`'s
 * `\/Date(ms)\/`, numbers, strings, booleans) converted like an unwrapped value.
 */
function convertSystemValue(type: string | undefined, value: unknown): unknown {
  if (type === 'Guid' && typeof value === 'string') return value.toLowerCase();
  return convertWcfValue(value);
}

/** One WCF value as plain JSON. */
export function convertWcfValue(value: unknown): unknown {
  if (typeof value === 'string') {
    const date = DATE_PATTERN.exec(value);
    // The offset suffix only says which zone the value was shown in: the milliseconds are UTC.
    return date ? new Date(Number(date[1])).toISOString() : value;
  }
  if (Array.isArray(value)) return value.map(convertWcfValue);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if (typeNamespace(record) === '#System' && '__value' in record) {
    return convertSystemValue(typeName(record), record.__value);
  }
  switch (typeName(record)) {
    case 'EntityReference':
      return typeof record.Id === 'string' ? record.Id.toLowerCase() : null;
    case 'OptionSetValue':
    case 'Money':
      return record.Value ?? null;
    case 'OptionSetValueCollection':
      return Array.isArray(record.Value) ? record.Value.map(convertWcfValue) : record.Value;
    default: {
      const { __type: _ignored, ...rest } = record;
      return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, convertWcfValue(v)]));
    }
  }
}

/** A WCF entity's attributes as our attributes. */
export function wcfEntityAttributes(entity: WcfEntity): Attributes {
  const attributes: Attributes = {};
  for (const { key, value } of entity.Attributes) {
    attributes[key] = convertWcfValue(value);
    if (key === OWNER_ATTRIBUTE && typeof value === 'object' && value !== null) {
      const logicalName = (value as Record<string, unknown>).LogicalName;
      if (typeof logicalName === 'string') attributes[OWNER_TYPE_ATTRIBUTE] = logicalName;
    }
  }
  return attributes;
}

function parameter(list: z.infer<typeof keyValueSchema>[], key: string): unknown {
  return list.find((p) => p.key === key)?.value;
}

/**
 * The image Dataverse adds to every asynchronous step (the row's primary name and id, for the system
 * job's name): not a registered image, so never the one chosen.
 */
export const ASYNC_STEP_PRIMARY_NAME_IMAGE = 'AsynchronousStepPrimaryName';

/** How {@link normalizeRemoteExecutionContext} reads a context. */
export interface RemoteExecutionContextOptions {
  /**
   * The name (entity alias) of the post image registered on the step. Absent: the only registered
   * image, if there is exactly one; with several and no name, none is used (the Target is, or the row
   * is read again), since taking one at random could merge another step's columns.
   */
  postImageName?: string;
}

/** The post image registered for this webhook, chosen by name (see {@link RemoteExecutionContextOptions}). */
function registeredPostImage(
  images: z.infer<typeof keyValueSchema>[],
  postImageName: string | undefined,
): WcfEntity | undefined {
  const registered = images.filter((image) => image.key !== ASYNC_STEP_PRIMARY_NAME_IMAGE);
  const chosen =
    postImageName === undefined
      ? registered.length === 1
        ? registered[0]
        : undefined
      : registered.find((image) => image.key === postImageName);
  return chosen?.value === undefined || chosen.value === null
    ? undefined
    : wcfEntitySchema.parse(chosen.value);
}

function versionOf(...candidates: unknown[]): string | undefined {
  for (const candidate of candidates) {
    const text = typeof candidate === 'number' ? String(candidate) : candidate;
    if (typeof text === 'string' && /^\d{1,30}$/.test(text)) return text.replace(/^0+(?=\d)/, '');
  }
  return undefined;
}

/**
 * Normalizes a posted RemoteExecutionContext into source changes: Create and Update (Target entity),
 * Delete (Target entity reference), Assign (new owner), SetState / SetStateDynamicEntity (state and
 * status). The post image is the registered one ({@link RemoteExecutionContextOptions}). Other
 * messages yield no change. Invalid input throws the ZodError; callers answer 400 or dead-letter it.
 */
export function normalizeRemoteExecutionContext(
  body: unknown,
  options: RemoteExecutionContextOptions = {},
): RemoteSourceChange[] {
  const context = remoteExecutionContextSchema.parse(body);
  const entity = context.PrimaryEntityName;
  const id = context.PrimaryEntityId.toLowerCase();
  const message = context.MessageName;
  const postImage = registeredPostImage(context.PostEntityImages, options.postImageName);
  const postAttributes = postImage ? wcfEntityAttributes(postImage) : {};
  const base = {
    entity,
    id,
    message,
    ...(context.InitiatingUserId === undefined ? {} : { initiatingUserId: context.InitiatingUserId }),
    ...(context.CorrelationId === undefined ? {} : { correlationId: context.CorrelationId }),
    ...(context.Depth === undefined ? {} : { depth: context.Depth }),
  };
  const upsert = (
    attributes: Attributes,
    version: string | undefined,
    merge: boolean,
  ): RemoteSourceChange[] => [{ ...base, op: 'upsert', attributes, version, merge, reread: false }];

  switch (message) {
    case 'Create':
    case 'Update': {
      const rawTarget = parameter(context.InputParameters, 'Target');
      if (rawTarget === undefined && !postImage) {
        // Trimmed payload: nothing but the id is left.
        return [{ ...base, op: 'upsert', attributes: {}, version: undefined, merge: true, reread: true }];
      }
      const target = rawTarget === undefined ? undefined : wcfEntitySchema.parse(rawTarget);
      // The post image is the row after the operation; the Target holds what was written.
      const attributes = { ...(target ? wcfEntityAttributes(target) : {}), ...postAttributes };
      const version = versionOf(
        postImage?.RowVersion,
        target?.RowVersion,
        postAttributes.versionnumber,
        attributes.versionnumber,
      );
      return upsert(attributes, version, message === 'Update');
    }
    case 'Delete': {
      const rawTarget = parameter(context.InputParameters, 'Target');
      const target = rawTarget === undefined ? undefined : wcfEntityReferenceSchema.parse(rawTarget);
      return [
        {
          ...base,
          id: target ? target.Id.toLowerCase() : id,
          op: 'delete',
          attributes: {},
          version: versionOf(target?.RowVersion),
          merge: false,
          reread: false,
        },
      ];
    }
    case 'Assign': {
      const rawAssignee = parameter(context.InputParameters, 'Assignee');
      if (rawAssignee === undefined && !postImage) {
        return [{ ...base, op: 'upsert', attributes: {}, version: undefined, merge: true, reread: true }];
      }
      const assignee = rawAssignee === undefined ? undefined : wcfEntityReferenceSchema.parse(rawAssignee);
      const attributes: Attributes = {
        ...postAttributes,
        ...(assignee
          ? { [OWNER_ATTRIBUTE]: assignee.Id.toLowerCase(), [OWNER_TYPE_ATTRIBUTE]: assignee.LogicalName }
          : {}),
      };
      return upsert(attributes, versionOf(postImage?.RowVersion, postAttributes.versionnumber), true);
    }
    case 'SetState':
    case 'SetStateDynamicEntity': {
      const state = parameter(context.InputParameters, 'State');
      const status = parameter(context.InputParameters, 'Status');
      if (state === undefined && !postImage) {
        return [{ ...base, op: 'upsert', attributes: {}, version: undefined, merge: true, reread: true }];
      }
      const attributes: Attributes = {
        ...postAttributes,
        ...(state === undefined ? {} : { statecode: convertWcfValue(state) }),
        ...(status === undefined ? {} : { statuscode: convertWcfValue(status) }),
      };
      return upsert(attributes, versionOf(postImage?.RowVersion, postAttributes.versionnumber), true);
    }
    default:
      return [];
  }
}
