import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateRowTypes, type TypedEntity } from '../client/generate-types';
import { getApp } from '../shared/admin/app-config';
import { loadEntities } from '../shared/admin/entity-config';
import { loadPublishedProfile } from '../shared/admin/profile-service';
import type { Settings } from '../shared/config';
import { AppError } from '../shared/errors';
import { createSqliteStore } from '../shared/store/sqlite';

export const GENERATE_TYPES_USAGE = `Usage:
  npm run -s cli -- generate-types --org ORG --app APP [--out FILE] [--data DIR]
Writes the device SDK's row types for the entities of APP's published profiles (one interface per
entity and SyncSchema, for createSyncClient<SyncSchema>()) to FILE, or to stdout.
Options:
  --data DIR   the local host's data folder (default DATA_DIR or .data)`;

/** `generate-types`: the row types of an app's entities, read from the tenant's published metadata. */
export async function runGenerateTypesCommand(
  argv: string[],
  settings: Settings,
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      org: { type: 'string' },
      app: { type: 'string' },
      out: { type: 'string' },
      data: { type: 'string' },
    },
    strict: true,
  });
  if (!values.org || !values.app)
    throw new AppError('BadRequest', `--org and --app are required.\n${GENERATE_TYPES_USAGE}`);
  const store = createSqliteStore({ dataDir: values.data ?? settings.DATA_DIR });
  try {
    const tenant = store.tenant(values.org);
    const app = await getApp(tenant, values.app);
    const wanted = new Set<string>();
    for (const id of app.profiles) {
      const profile = await loadPublishedProfile(tenant, id);
      for (const item of profile?.items ?? []) wanted.add(item.entity);
    }
    const entities: TypedEntity[] = (await loadEntities(tenant))
      .filter((e) => wanted.has(e.metadata.logicalName))
      .map((e) => e.metadata);
    if (entities.length === 0)
      throw new AppError(
        'NotFound',
        `App '${values.app}' of ${values.org} has no published profile entities.`,
      );
    const text = generateRowTypes(
      entities,
      `Row types of ${values.org} / ${values.app}: npm run cli -- generate-types --org ${values.org} --app ${values.app}`,
    );
    if (values.out) writeFileSync(values.out, text);
    else out(text);
    return 0;
  } finally {
    await store.close();
  }
}
