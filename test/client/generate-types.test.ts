import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { createSyncClient } from '../../client';
import { generateRowTypes, tsTypeOf, typeNameOf } from '../../client/generate-types';
import { createMemoryLocalStore } from '../../client/memory';
import { loadDirectory } from '../../shared/admin/directory-store';
import { loadSettings } from '../../shared/config';
import { DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { DEMO_APP_ID } from '../../local/demo/seed-demo-tenant';
import { runGenerateTypesCommand } from '../../local/generate-types-command';
import { LOCAL_DEFAULTS } from '../../local/local-defaults';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

const clientDir = join(__dirname, '..', '..', 'client');

/** Type-checks `source` (beside the generated module) and returns the compiler's messages. */
function typeErrors(dir: string, source: string): string[] {
  const file = join(dir, `usage-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: [],
    skipLibCheck: true,
    esModuleInterop: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('generate-types', () => {
  it('maps attribute types and names', () => {
    expect(
      ['string', 'memo', 'lookup', 'datetime', 'money', 'picklist', 'boolean', 'other'].map(tsTypeOf),
    ).toEqual(['string', 'string', 'string', 'string', 'number', 'number', 'boolean', 'unknown']);
    expect(typeNameOf('business_unit')).toBe('BusinessUnit');
  });

  describe('from the demo tenant', () => {
    let f: HostFixture;
    let dir: string;
    beforeAll(async () => {
      f = await startHostFixture({ DEMO_ROWS: '40' });
      dir = mkdtempSync(join(tmpdir(), 'sdk-types-'));
    });
    afterAll(async () => {
      rmSync(dir, { recursive: true, force: true });
      await f.close();
    });

    it('writes one interface per entity of the app with every column a device receives, and SyncSchema', async () => {
      let text = '';
      const settings = loadSettings({ ...LOCAL_DEFAULTS, DATA_DIR: f.dataDir });
      expect(
        await runGenerateTypesCommand(['--org', DEMO_ORG, '--app', DEMO_APP_ID], settings, (t) => (text = t)),
      ).toBe(0);
      writeFileSync(join(dir, 'sync-schema.ts'), text);

      // What a manager's device receives: each entity and column is typed.
      const directory = await loadDirectory(f.host.runtime.services.store.tenant(DEMO_ORG));
      const bob = directory.users.find((u) => u.userName.startsWith('bob'))!;
      const client = createSyncClient({
        baseUrl: f.host.url,
        org: DEMO_ORG,
        app: DEMO_APP_ID,
        deviceId: 'types-1',
        getToken: () => f.token({ oid: bob.entraObjectId, tid: DEMO_ENTRA_TENANT_ID }),
        store: createMemoryLocalStore(),
        fetch: f.fetch,
      });
      await client.sync();
      const metadata = (await client.metadata())!;
      expect(metadata.entities.length).toBeGreaterThan(0);
      for (const entity of metadata.entities) {
        expect(text).toContain(`export interface ${typeNameOf(entity.logicalName)} {`);
        expect(text).toContain(`  ${entity.logicalName}: ${typeNameOf(entity.logicalName)};`);
        for (const attribute of entity.attributes)
          if (attribute.name !== entity.primaryIdAttribute)
            expect(text).toContain(`  ${attribute.name}?: ${tsTypeOf(attribute.type)} | null;`);
      }
      expect(generateRowTypes([], 'empty')).toContain('export interface SyncSchema {\n}');
    });

    it('types table() and watch(): right column names and value types compile, wrong ones do not', () => {
      const header = `import { createSyncClient } from ${JSON.stringify(clientDir)};
import { createMemoryLocalStore } from ${JSON.stringify(join(clientDir, 'memory'))};
import type { SyncSchema, Account } from './sync-schema';
const client = createSyncClient<SyncSchema>({ baseUrl: '', org: 'o', app: 'a', deviceId: 'd', getToken: () => 't', store: createMemoryLocalStore() });
`;
      expect(
        typeErrors(
          dir,
          `${header}
export async function ok(): Promise<string | null | undefined> {
  const rows: Account[] = await client.table('account').where({ name: { gte: 'M' }, creditlimit: { lt: 5 } }).orderBy('name').limit(5).get();
  client.watch(client.table('contact').orderBy('fullname'), (contacts) => contacts.map((c) => c.contactid.toUpperCase()));
  return rows[0]?.name;
}`,
        ),
      ).toEqual([]);
      expect(
        typeErrors(dir, `${header}void client.table('account').orderBy('nosuchcolumn');`).join('\n'),
      ).toMatch(/nosuchcolumn/);
      expect(typeErrors(dir, `${header}void client.table('account').where({ name: 5 });`).join('\n')).toMatch(
        /number/,
      );
      expect(typeErrors(dir, `${header}void client.table('nosuchentity');`).join('\n')).toMatch(
        /nosuchentity/,
      );
    });
  });
});
