import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppServices } from '../../../../shared/app-services';
import { ManualClock } from '../../../../shared/clock';
import { loadSettings } from '../../../../shared/config';
import { AppError } from '../../../../shared/errors';
import type { Directory } from '../../../../shared/model/directory';
import type { EntityMetadata } from '../../../../shared/model/entity';
import type { Attributes } from '../../../../shared/model/record';
import type { Tenant } from '../../../../shared/model/tenant';
import { declareEntityMetadata, setEntityOfflineSettings } from '../../../../shared/admin/entity-config';
import type { QueueSender, SendOptions } from '../../../../shared/queue/port';
import type { Source, SourceChangePage } from '../../../../shared/sources/port';
import { createSqliteStore } from '../../../../shared/store/sqlite';
import type { Store } from '../../../../shared/store/port';
import { registerTenant } from '../../../../shared/tenants/tenant-registry';

export const ORG = 'contoso';

/** A minimal entity's metadata. */
export function entity(logicalName: string): EntityMetadata {
  return {
    logicalName,
    primaryIdAttribute: `${logicalName}id`,
    primaryNameAttribute: 'name',
    ownership: 'organization',
    attributes: [
      { name: `${logicalName}id`, type: 'uniqueidentifier', required: true, secured: false },
      { name: 'name', type: 'string', maxLength: 100, required: false, secured: false },
    ],
    relationships: [],
  };
}

export const directory: Directory = {
  businessUnits: [{ id: 'bu-root', name: 'Root', parentId: null }],
  users: [
    {
      id: 'u-alice',
      entraObjectId: '11111111-1111-4111-8111-111111111111',
      userName: 'alice',
      fullName: 'Alice',
      businessUnitId: 'bu-root',
      managerId: null,
      languageId: 1033,
      roleIds: [],
      securedColumns: [],
    },
  ],
  teams: [],
  roles: [],
};

/** Called before the source yields each page: advance a clock, block, or fail. */
export type PageHook = (entity: string, pageIndex: number) => Promise<void>;

/**
 * An in-memory Source (implements the port): a few entities and rows, pages of `pageSize`, a hook
 * before each page, and a record of every read so tests can tell what was read again.
 */
export class FakeSource implements Source {
  readonly kind = 'dataverse' as const;
  pageSize = 2;
  onPage: PageHook | undefined;
  /** Fails readMetadata this many times more (SourceUnavailable). */
  failMetadataReads = 0;
  readonly reads: { method: string; entity?: string; resumeAt?: string }[] = [];
  /** Every page handed out, as `entity:index` (a page read twice shows twice). */
  readonly served: string[] = [];

  constructor(readonly rows: Map<string, { id: string; version: string; attributes: Attributes }[]>) {}

  readMetadata(entities?: readonly string[]): Promise<EntityMetadata[]> {
    this.reads.push({ method: 'readMetadata' });
    if (this.failMetadataReads > 0) {
      this.failMetadataReads--;
      return Promise.reject(new AppError('SourceUnavailable', 'The source is down.'));
    }
    const names = [...this.rows.keys()].filter((name) => !entities || entities.includes(name));
    return Promise.resolve(names.map(entity));
  }

  readDirectory(): Promise<Directory> {
    this.reads.push({ method: 'readDirectory' });
    return Promise.resolve(directory);
  }

  /** Pages of the entity's rows; every page but the last hands out `page:<next index>` to resume at. */
  async *readChanges(
    metadata: EntityMetadata,
    _deltaToken?: string,
    resumeAt?: string,
  ): AsyncIterable<SourceChangePage> {
    const name = metadata.logicalName;
    this.reads.push({ method: 'readChanges', entity: name, ...(resumeAt === undefined ? {} : { resumeAt }) });
    const rows = this.rows.get(name) ?? [];
    const pages = Math.max(1, Math.ceil(rows.length / this.pageSize));
    const from = resumeAt === undefined ? 0 : Number(/^page:(\d+)$/.exec(resumeAt)?.[1] ?? 0);
    for (let index = from; index < pages; index++) {
      await this.onPage?.(name, index);
      this.served.push(`${name}:${index}`);
      const slice = rows.slice(index * this.pageSize, (index + 1) * this.pageSize);
      yield {
        changes: slice.map((row) => ({
          entity: name,
          id: row.id,
          op: 'upsert',
          attributes: row.attributes,
          version: row.version,
        })),
        full: true,
        ...(index === pages - 1
          ? { deltaToken: `token-${name}-${rows.length}` }
          : { resumeAt: `page:${index + 1}` }),
      };
    }
  }

  countRows(metadata: EntityMetadata): Promise<number> {
    return Promise.resolve(this.rows.get(metadata.logicalName)?.length ?? 0);
  }

  writeChange(): Promise<never> {
    return Promise.reject(new AppError('Conflict', 'The fake source is read-only.'));
  }

  /** The positions the entity's reads were resumed at (undefined: from its first page). */
  resumedAt(entityName: string): (string | undefined)[] {
    return this.reads
      .filter((r) => r.method === 'readChanges' && r.entity === entityName)
      .map((r) => r.resumeAt);
  }

  readsOf(method: string, entityName?: string): number {
    return this.reads.filter(
      (r) => r.method === method && (entityName === undefined || r.entity === entityName),
    ).length;
  }
}

/** Rows `{name}-1 … {name}-n` at version 1. */
export function rowsOf(
  name: string,
  count: number,
): { id: string; version: string; attributes: Attributes }[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${name}-${i + 1}`,
    version: '1',
    attributes: { [`${name}id`]: `${name}-${i + 1}`, name: `${name} ${i + 1}` },
  }));
}

/** A queue that records what was sent, de-duplicating by message id as the real ones do. */
export class RecordingQueue implements QueueSender {
  readonly sent: { body: unknown; options: SendOptions | undefined }[] = [];
  send(body: unknown, options?: SendOptions): Promise<void> {
    if (options?.messageId && this.sent.some((m) => m.options?.messageId === options.messageId)) {
      return Promise.resolve();
    }
    this.sent.push({ body, options });
    return Promise.resolve();
  }
  async sendBatch(bodies: readonly unknown[]): Promise<void> {
    for (const body of bodies) await this.send(body);
  }
}

export interface ProvisioningFixture {
  dataDir: string;
  clock: ManualClock;
  queue: RecordingQueue;
  /** Services over a store on the data folder; `source` answers for every tenant. */
  services(source: FakeSource): { services: AppServices; store: Store };
  close(): Promise<void>;
}

/**
 * A data folder with the tenant registered (Dataverse source, so step 3 downloads metadata) and
 * the offline settings of `required` entities declared. Each `services()` call opens another store
 * on the same folder, as a restarted host would.
 */
export async function createProvisioningFixture(
  options: { required?: string[] } = {},
): Promise<ProvisioningFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'provisioning-'));
  const clock = new ManualClock();
  const queue = new RecordingQueue();
  const stores: Store[] = [];
  const settings = loadSettings({ DATA_DIR: dataDir, AUTH_ENTRA_ENABLED: 'false' });
  const open = (source: FakeSource): { services: AppServices; store: Store } => {
    const store = createSqliteStore({ dataDir, clock });
    stores.push(store);
    return { store, services: { settings, store, queue, clock, sourceFor: (_tenant: Tenant) => source } };
  };
  const { store } = open(new FakeSource(new Map()));
  await registerTenant(store, clock, ORG, {
    displayName: 'Contoso',
    entraTenantId: '22222222-2222-4222-8222-222222222222',
    source: { kind: 'dataverse', url: 'https://contoso.crm.dynamics.com' },
  });
  // Admins may mark entities required before provisioning; step 3 keeps their settings.
  for (const name of options.required ?? []) {
    await declareEntityMetadata(store.tenant(ORG), clock, entity(name));
    await setEntityOfflineSettings(store.tenant(ORG), clock, name, {
      enabled: true,
      orgFilter: [],
      required: true,
    });
  }
  return {
    dataDir,
    clock,
    queue,
    services: open,
    async close() {
      for (const s of stores) await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
