import type { EntityMetadata } from '../model/entity';
import type { Attributes } from '../model/record';
import type { UserContext } from './user-context';

/** Removes from a row the columns its reader may not see. */
export type SecuredColumnStripper = (attributes: Attributes) => Attributes;

/**
 * Compiles, for one user and entity, the removal of secured columns (attributes marked `secured`
 * in the metadata) the user has no access to, i.e. whose `entity.attribute` is not in the user's
 * secured columns (SPEC §6: Dataverse does not enforce field security offline; this product does).
 * When nothing needs removing the row is returned as is, without a copy; otherwise a copy is
 * returned and the input is left untouched.
 */
export function compileSecuredColumnStripper(
  ctx: UserContext,
  entity: EntityMetadata,
): SecuredColumnStripper {
  const entityName = entity.logicalName.toLowerCase();
  const hidden = entity.attributes
    .filter((a) => a.secured && !ctx.securedColumns.has(`${entityName}.${a.name.toLowerCase()}`))
    .map((a) => a.name);
  if (hidden.length === 0) return (attributes) => attributes;
  return (attributes) => {
    if (!hidden.some((name) => Object.hasOwn(attributes, name))) return attributes;
    const visible = { ...attributes };
    for (const name of hidden) delete visible[name];
    return visible;
  };
}

/** One-off form of {@link compileSecuredColumnStripper}; compile once when stripping many rows. */
export function stripSecuredColumns(
  ctx: UserContext,
  entity: EntityMetadata,
  attributes: Attributes,
): Attributes {
  return compileSecuredColumnStripper(ctx, entity)(attributes);
}
