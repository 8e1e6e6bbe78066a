/**
 * Row types from a tenant's metadata, for `createSyncClient<SyncSchema>()`: one interface per entity
 * and the `SyncSchema` that maps logical names to them (`npm run cli -- generate-types`).
 */

/** What the generator reads of an entity (the sync metadata's and the admin metadata's shape). */
export interface TypedEntity {
  logicalName: string;
  primaryIdAttribute: string;
  displayName?: string;
  attributes: readonly { name: string; type: string }[];
}

/** The TypeScript type of an attribute's value as the server sends it (JSON). */
export function tsTypeOf(type: string): 'string' | 'number' | 'boolean' | 'unknown' {
  switch (type) {
    case 'string':
    case 'memo':
    case 'datetime':
    case 'uniqueidentifier':
    case 'lookup':
    case 'owner':
      return 'string';
    case 'integer':
    case 'bigint':
    case 'decimal':
    case 'double':
    case 'money':
    case 'picklist':
    case 'language':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return 'unknown';
  }
}

/** `account` → `Account`, `business_unit` → `BusinessUnit`. */
export function typeNameOf(logicalName: string): string {
  return logicalName
    .split('_')
    .filter((part) => part !== '')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/**
 * The module text. Every column but the primary id is optional and nullable: a user without access
 * to a secured column never receives it, and the server sends null for an empty value.
 */
export function generateRowTypes(entities: readonly TypedEntity[], header: string): string {
  const lines = [
    `// ${header}`,
    '// Generated: do not edit; run the command again when the metadata changes.',
    '',
  ];
  const sorted = [...entities].sort((a, b) => (a.logicalName < b.logicalName ? -1 : 1));
  for (const entity of sorted) {
    lines.push(`/** ${entity.displayName ?? entity.logicalName} (\`${entity.logicalName}\`). */`);
    lines.push(`export interface ${typeNameOf(entity.logicalName)} {`);
    lines.push(`  ${entity.primaryIdAttribute}: string;`);
    for (const attribute of [...entity.attributes].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (attribute.name === entity.primaryIdAttribute) continue;
      lines.push(`  /** ${attribute.type} */`);
      lines.push(`  ${attribute.name}?: ${tsTypeOf(attribute.type)} | null;`);
    }
    lines.push('}', '');
  }
  lines.push('/** Row types by entity: `createSyncClient<SyncSchema>(...)`. */');
  lines.push('export interface SyncSchema {');
  for (const entity of sorted) lines.push(`  ${entity.logicalName}: ${typeNameOf(entity.logicalName)};`);
  lines.push('}', '');
  return lines.join('\n');
}
