import { AppError, isAppError, type ErrorDetail } from '../../errors';
import type { EntityMetadata } from '../../model/entity';
import {
  compareVersions,
  MODIFIED_ON_ATTRIBUTE,
  OWNER_ATTRIBUTE,
  OWNER_TYPE_ATTRIBUTE,
  OWNING_BUSINESS_UNIT_ATTRIBUTE,
  type Attributes,
  type StoredRecord,
} from '../../model/record';
import { canAccessRow, canCreate, canDelete, canWrite } from '../../security/privileges';
import { stripSecuredColumns } from '../../security/secured-columns';
import type { UploadOperation, UploadOutcome } from './upload-protocol';
import type { UploadSession } from './upload-session';
import { validateUploadRow } from './validate-upload-row';

/** Compare-and-set attempts against concurrent writers of one row before giving up for now. */
const MAX_WRITE_ATTEMPTS = 5;
const CREATED_ON_ATTRIBUTE = 'createdon';

/** A refused operation's outcome. */
export function rejected(code: string, message: string, details?: ErrorDetail[]): UploadOutcome {
  return {
    status: 'rejected',
    error: {
      code,
      message,
      ...(details === undefined
        ? {}
        : { details: details.map(({ path, message: m }) => ({ path, message: m })) }),
    },
  };
}

/**
 * Applies one device operation (SPEC §6 upload), in this order: the entity must be in the user's
 * profile; the row is validated against the metadata; the stored row must exist (update, delete) or
 * not (create); the user's privilege is checked (create on the row as it will be stored, write on the
 * stored row and on the row after the update, delete on the stored row); with conflict detection on,
 * a change based on another version than the stored one is a conflict answered with the server's
 * row; then the change is written — to the Dataverse source first for `dataverse` tenants, then to
 * the store — compare-and-set on the version read, re-reading on a concurrent write (so with
 * conflict detection off the device's columns are merged over the current row, whatever changed).
 * Nothing is written unless the result is `applied`.
 *
 * Refusals are outcomes, not errors. Errors thrown are passing failures (source unavailable,
 * throttled, too many concurrent writers: `Unavailable`) that the device should retry.
 */
export async function applyUploadOperation(
  session: UploadSession,
  operation: UploadOperation,
): Promise<UploadOutcome> {
  const entity = session.entities.get(operation.entity);
  if (entity === undefined || !session.profileEntities.has(operation.entity)) {
    return rejected(
      'ValidationFailed',
      `Entity '${operation.entity}' is not in the user's offline profile.`,
      [{ path: 'entity', message: 'not in the offline profile' }],
    );
  }
  const row = operation.op === 'delete' ? {} : (operation.row ?? {});
  if (operation.op !== 'delete') {
    const problems = validateUploadRow({
      entity,
      op: operation.op,
      id: operation.id,
      row,
      user: session.user,
      idFormat: session.idFormat,
    });
    problems.push(...ownerProblems(session, row));
    if (problems.length > 0) {
      return rejected(
        'ValidationFailed',
        `The ${operation.op} of ${entity.logicalName} '${operation.id}' is not valid: ${problems
          .map((p) => `${p.path} ${p.message}`)
          .join('; ')}`,
        problems,
      );
    }
  }

  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const stored = await session.store.getRecord(entity.logicalName, operation.id);
    const live = stored !== undefined && !stored.deleted ? stored : undefined;
    const refusal = checkOperation(session, entity, operation, row, live);
    if (refusal !== undefined) return refusal;
    const outcome =
      session.source === undefined
        ? await writeToStore(session, entity, operation, row, stored, live)
        : await writeThroughSource(session, entity, operation, row, stored, live);
    if (outcome !== 'retry') return outcome;
  }
  throw new AppError(
    'Unavailable',
    `${entity.logicalName} '${operation.id}' is being changed by other writers; retry the operation.`,
    { retryAfterSeconds: 1 },
  );
}

/** Existence, privilege and (conflict detection on) version checks against the stored live row. */
function checkOperation(
  session: UploadSession,
  entity: EntityMetadata,
  operation: UploadOperation,
  row: Attributes,
  live: StoredRecord | undefined,
): UploadOutcome | undefined {
  const { user } = session;
  const name = `${entity.logicalName} '${operation.id}'`;
  if (operation.op === 'create') {
    if (live !== undefined) return rejected('Conflict', `${name} already exists.`);
    if (!canCreate(user, entity, newRowAttributes(session, entity, operation, row))) {
      return rejected('PrivilegeDenied', `The user may not create ${name} (Create privilege).`);
    }
    return undefined;
  }
  if (live === undefined) return rejected('NotFound', `${name} does not exist.`);
  if (operation.op === 'update') {
    const after = { ...live.attributes, ...row, ...ownerColumns(session, entity, row) };
    if (!canWrite(user, entity, live.attributes, after)) {
      return rejected('PrivilegeDenied', `The user may not update ${name} (Write privilege).`);
    }
  } else if (!canDelete(user, entity, live.attributes)) {
    return rejected('PrivilegeDenied', `The user may not delete ${name} (Delete privilege).`);
  }
  if (
    session.conflictDetection &&
    (operation.baseVersion === undefined || compareVersions(operation.baseVersion, live.version) !== 0)
  ) {
    return conflictWith(session, entity, live);
  }
  return undefined;
}

/** A conflict answered with the server's row (when the user may read it), secured columns left out. */
function conflictWith(
  session: UploadSession,
  entity: EntityMetadata,
  stored: StoredRecord | undefined,
): UploadOutcome {
  if (stored === undefined || stored.deleted)
    return { status: 'conflict', ...(stored ? { version: stored.version } : {}) };
  const readable = canAccessRow(session.user, entity, 'read', stored.attributes);
  return {
    status: 'conflict',
    version: stored.version,
    ...(readable ? { row: stripSecuredColumns(session.user, entity, stored.attributes) } : {}),
  };
}

function applied(
  session: UploadSession,
  entity: EntityMetadata,
  record: StoredRecord | undefined,
): UploadOutcome {
  if (record === undefined) return { status: 'applied' };
  return {
    status: 'applied',
    version: record.version,
    ...(record.deleted ? {} : { row: stripSecuredColumns(session.user, entity, record.attributes) }),
  };
}

/** `local` tenants: the store is the system of record; the version is the stored one plus one. */
async function writeToStore(
  session: UploadSession,
  entity: EntityMetadata,
  operation: UploadOperation,
  row: Attributes,
  stored: StoredRecord | undefined,
  live: StoredRecord | undefined,
): Promise<UploadOutcome | 'retry'> {
  const now = session.clock.now().toISOString();
  const attributes: Attributes =
    operation.op === 'create'
      ? newRowAttributes(session, entity, operation, row)
      : operation.op === 'update'
        ? { ...row, ...ownerColumns(session, entity, row), [MODIFIED_ON_ATTRIBUTE]: now }
        : {};
  // A create over a tombstone continues its versions, so older writes of the deleted row stay stale.
  const version = stored === undefined ? '1' : (BigInt(stored.version) + 1n).toString();
  const [result] = await session.store.applyRecordWrites([
    {
      entity: entity.logicalName,
      id: live?.id ?? operation.id,
      version,
      deleted: operation.op === 'delete',
      attributes,
      mode: operation.op === 'update' ? 'merge' : 'replace',
      expectedVersion: stored?.version ?? null,
    },
  ]);
  if (result?.outcome !== 'applied') return 'retry';
  return applied(session, entity, result.record);
}

/**
 * `dataverse` tenants: the change goes to Dataverse first, on behalf of the user (with the base
 * version as `If-Match` when conflict detection is on), then into the store at the version Dataverse
 * answered. A 412 from Dataverse is a conflict, answered with the server's row as the store holds it.
 */
async function writeThroughSource(
  session: UploadSession,
  entity: EntityMetadata,
  operation: UploadOperation,
  row: Attributes,
  stored: StoredRecord | undefined,
  live: StoredRecord | undefined,
): Promise<UploadOutcome | 'retry'> {
  const source = session.source!;
  let written;
  try {
    written = await source.writeChange(
      {
        entity: entity.logicalName,
        id: operation.id,
        op: operation.op,
        // Dataverse sets the owner (the caller, unless one is named) and the system columns itself.
        attributes: row,
        ...(session.conflictDetection && operation.op !== 'create' && operation.baseVersion !== undefined
          ? { baseVersion: operation.baseVersion }
          : {}),
        callerObjectId: session.entraObjectId,
      },
      entity,
    );
  } catch (error) {
    if (!isAppError(error)) throw error;
    switch (error.code) {
      case 'PreconditionFailed':
        return conflictWith(session, entity, await session.store.getRecord(entity.logicalName, operation.id));
      case 'NotFound':
      case 'PrivilegeDenied':
      case 'ValidationFailed':
      case 'Conflict':
        return rejected(error.code, `Dataverse refused the ${operation.op}: ${error.message}`);
      default:
        throw error;
    }
  }

  if (operation.op === 'delete') return tombstoneAfterSourceDelete(session, entity, operation.id, stored);
  if (written.version === undefined) {
    throw new AppError(
      'SourceUnavailable',
      `Dataverse returned no version for ${entity.logicalName} '${operation.id}'.`,
    );
  }
  const [result] = await session.store.applyRecordWrites([
    {
      entity: entity.logicalName,
      id: live?.id ?? operation.id,
      version: written.version,
      deleted: false,
      attributes: { ...written.attributes, [entity.primaryIdAttribute]: live?.id ?? operation.id },
    },
  ]);
  // `stale`: replication already stored this version or a newer one; the stored row is the truth.
  const record = result?.record ?? (await session.store.getRecord(entity.logicalName, operation.id));
  return {
    ...applied(session, entity, record),
    version: written.version,
  };
}

/** After Dataverse deleted a row: a tombstone one version above the stored row (Dataverse gives none). */
async function tombstoneAfterSourceDelete(
  session: UploadSession,
  entity: EntityMetadata,
  id: string,
  stored: StoredRecord | undefined,
): Promise<UploadOutcome> {
  let current = stored;
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    if (current === undefined) return { status: 'applied' };
    if (current.deleted) return { status: 'applied', version: current.version };
    const version = (BigInt(current.version) + 1n).toString();
    const [result] = await session.store.applyRecordWrites([
      {
        entity: entity.logicalName,
        id: current.id,
        version,
        deleted: true,
        attributes: {},
        expectedVersion: current.version,
      },
    ]);
    if (result?.outcome === 'applied') return { status: 'applied', version };
    current = await session.store.getRecord(entity.logicalName, id);
  }
  throw new AppError(
    'Unavailable',
    `${entity.logicalName} '${id}' is being changed by other writers; retry.`,
    {
      retryAfterSeconds: 1,
    },
  );
}

/** The new row as it will be stored: the device's columns, its id, owner defaults and timestamps. */
function newRowAttributes(
  session: UploadSession,
  entity: EntityMetadata,
  operation: UploadOperation,
  row: Attributes,
): Attributes {
  const now = session.clock.now().toISOString();
  const declared = new Set(entity.attributes.map((a) => a.name));
  const attributes: Attributes = { ...row, [entity.primaryIdAttribute]: operation.id };
  if (entity.ownership === 'user') {
    Object.assign(
      attributes,
      ownerColumns(session, entity, { [OWNER_ATTRIBUTE]: row[OWNER_ATTRIBUTE] ?? session.user.user.id }),
    );
  } else if (entity.ownership === 'business') {
    attributes[OWNING_BUSINESS_UNIT_ATTRIBUTE] = session.user.user.businessUnitId;
  }
  if (declared.has(CREATED_ON_ATTRIBUTE)) attributes[CREATED_ON_ATTRIBUTE] = now;
  attributes[MODIFIED_ON_ATTRIBUTE] = now;
  return attributes;
}

/**
 * The owner columns that follow from a row's `ownerid` (a user or team of the directory): the owner,
 * its type (when the entity declares the column) and its business unit. Empty when no owner is named.
 */
function ownerColumns(session: UploadSession, entity: EntityMetadata, row: Attributes): Attributes {
  const ownerId = row[OWNER_ATTRIBUTE];
  if (typeof ownerId !== 'string' || entity.ownership !== 'user') return {};
  const owner = findOwner(session, ownerId);
  if (owner === undefined) return {};
  const columns: Attributes = {
    [OWNER_ATTRIBUTE]: owner.id,
    [OWNING_BUSINESS_UNIT_ATTRIBUTE]: owner.businessUnitId,
  };
  if (entity.attributes.some((a) => a.name === OWNER_TYPE_ATTRIBUTE))
    columns[OWNER_TYPE_ATTRIBUTE] = owner.type;
  return columns;
}

function findOwner(
  session: UploadSession,
  ownerId: string,
): { id: string; type: 'systemuser' | 'team'; businessUnitId: string } | undefined {
  const wanted = ownerId.toLowerCase();
  const user = session.directory.users.find((u) => u.id.toLowerCase() === wanted);
  if (user !== undefined) return { id: user.id, type: 'systemuser', businessUnitId: user.businessUnitId };
  const team = session.directory.teams.find((t) => t.id.toLowerCase() === wanted);
  if (team !== undefined) return { id: team.id, type: 'team', businessUnitId: team.businessUnitId };
  return undefined;
}

/** A named owner must be a user or team of the directory. */
function ownerProblems(session: UploadSession, row: Attributes): ErrorDetail[] {
  const ownerId = row[OWNER_ATTRIBUTE];
  if (ownerId === undefined) return [];
  if (ownerId === null) {
    return [{ path: `row.${OWNER_ATTRIBUTE}`, code: 'Required', message: 'the owner cannot be cleared' }];
  }
  if (typeof ownerId === 'string' && findOwner(session, ownerId) !== undefined) return [];
  return [
    {
      path: `row.${OWNER_ATTRIBUTE}`,
      code: 'UnknownOwner',
      message: 'must be a user or team of the directory',
    },
  ];
}
