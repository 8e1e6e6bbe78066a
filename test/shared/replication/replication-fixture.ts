import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { declareEntityMetadata } from '../../../shared/admin/entity-config';
import type { AppServices } from '../../../shared/app-services';
import { ManualClock } from '../../../shared/clock';
import { loadSettings } from '../../../shared/config';
import type { EntityMetadata } from '../../../shared/model/entity';
import type { Attributes } from '../../../shared/model/record';
import type { TenantSource, TenantState } from '../../../shared/model/tenant';
import { createEmbeddedQueue, type EmbeddedQueue } from '../../../shared/queue/embedded';
import type { Source, SourceChange, SourceChangePage } from '../../../shared/sources/port';
import type { Store } from '../../../shared/store/port';
import { createCosmosStore } from '../../../shared/store/cosmos';
import { createSqliteStore } from '../../../shared/store/sqlite';
import { registerTenant, setTenantState } from '../../../shared/tenants/tenant-registry';
import { cosmosTestOptions } from '../../support/cosmos-test-options';
import { testEntities } from '../../support/offline-config-fixtures';

/** The store adapters the replication tests run on. */
export const STORE_KINDS = ['sqlite', 'cosmos'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/**
 * An in-memory system of record that answers change reads the way Dataverse change tracking does: a
 * full read pages every row and ends with a token; a read from a token returns each row changed since
 * then once, at its latest state (deletes without a version); an expired token starts a full read.
 * Rows page in id order; every page but the last hands out its position (the last id it returned), and
 * a read given it goes on after that id, as a `@odata.nextLink` does.
 */
export class FakeSource implements Source {
  readonly kind = 'dataverse' as const;
  private counter = 100;
  private readonly rows = new Map<string, { version: number; attributes: Attributes; deleted: boolean }>();
  readonly expiredTokens = new Set<string>();
  reads = 0;
  /** The metadata of each read (the columns replication asked for). */
  readonly readWith: EntityMetadata[] = [];
  pageSize = 2;

  upsert(id: string, attributes: Attributes): string {
    this.counter += 1;
    this.rows.set(id, { version: this.counter, attributes, deleted: false });
    return String(this.counter);
  }

  remove(id: string): void {
    const row = this.rows.get(id);
    if (row === undefined) throw new Error(`no row ${id}`);
    this.counter += 1;
    // The delete is a change at this point of the sequence; its version is not reported.
    this.rows.set(id, { version: this.counter, attributes: {}, deleted: true });
  }

  async readMetadata(): Promise<EntityMetadata[]> {
    return testEntities();
  }

  async readDirectory(): Promise<never> {
    throw new Error('not used');
  }

  /** The resume positions reads were given (undefined: a read from its start). */
  readonly resumedAt: (string | undefined)[] = [];
  /** Called before each page is handed out (a test may hang it, or move the clock). */
  beforePage: (page: SourceChangePage) => Promise<void> | void = () => {};

  async *readChanges(
    entity: EntityMetadata,
    deltaToken: string | undefined,
    resumeAt?: string,
  ): AsyncIterable<SourceChangePage> {
    this.reads += 1;
    this.readWith.push(entity);
    this.resumedAt.push(resumeAt);
    const full = deltaToken === undefined || this.expiredTokens.has(deltaToken);
    const since = full ? 0 : Number(deltaToken);
    const after = resumeAt === undefined ? undefined : /^after:(.+)$/.exec(resumeAt)?.[1];
    const changes: SourceChange[] = [];
    for (const [id, row] of [...this.rows].sort(([a], [b]) => a.localeCompare(b))) {
      if (after !== undefined && id.localeCompare(after) <= 0) continue;
      if (full && row.deleted) continue;
      if (!full && row.version <= since) continue;
      changes.push(
        row.deleted
          ? { entity: entity.logicalName, id, op: 'delete', attributes: {}, version: undefined }
          : {
              entity: entity.logicalName,
              id,
              op: 'upsert',
              attributes: row.attributes,
              version: String(row.version),
            },
      );
    }
    const token = String(this.counter);
    if (changes.length === 0) {
      const page = { changes: [], full, deltaToken: token };
      await this.beforePage(page);
      yield page;
      return;
    }
    for (let i = 0; i < changes.length; i += this.pageSize) {
      const slice = changes.slice(i, i + this.pageSize);
      const last = i + this.pageSize >= changes.length;
      const page: SourceChangePage = {
        changes: slice,
        full,
        ...(last ? { deltaToken: token } : { resumeAt: `after:${slice.at(-1)!.id}` }),
      };
      await this.beforePage(page);
      yield page;
    }
  }

  async countRows(): Promise<number> {
    return [...this.rows.values()].filter((r) => !r.deleted).length;
  }

  async writeChange(): Promise<never> {
    throw new Error('not used');
  }
}

export interface ReplicationFixture {
  dataDir: string;
  clock: ManualClock;
  store: Store;
  queue: EmbeddedQueue;
  source: FakeSource;
  services: AppServices;
  close(): Promise<void>;
}

export const ORG = 'contoso';
export const ACCOUNT = testEntities().find((e) => e.logicalName === 'account')!;

/** A SQLite store, an embedded queue and a manual clock in a fresh folder, with one tenant and `account` declared. */
export async function createReplicationFixture(
  options: {
    state?: TenantState;
    source?: TenantSource;
    maxDeliveryCount?: number;
    storeKind?: StoreKind;
  } = {},
): Promise<ReplicationFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'replication-'));
  const clock = new ManualClock('2026-03-01T10:00:00.000Z');
  // Cosmos: the in-process test server of the jest global setup, databases of this run's own prefix.
  const store =
    options.storeKind === 'cosmos'
      ? createCosmosStore({ ...cosmosTestOptions(), clock })
      : createSqliteStore({ dataDir, clock });
  const queue = createEmbeddedQueue({
    dataDir,
    clock,
    retryDelayMs: 1000,
    ...(options.maxDeliveryCount === undefined ? {} : { maxDeliveryCount: options.maxDeliveryCount }),
  });
  const source = new FakeSource();
  const services: AppServices = {
    settings: loadSettings({ AUTH_ENTRA_ENABLED: 'false' }),
    store,
    queue,
    clock,
    sourceFor: () => source,
  };
  await registerTenant(store, clock, ORG, {
    displayName: 'Contoso',
    entraTenantId: '11111111-1111-4111-8111-111111111111',
    source: options.source ?? { kind: 'dataverse', url: 'https://contoso.crm.dynamics.com' },
  });
  await setTenantState(store, clock, ORG, options.state ?? 'active');
  await declareEntityMetadata(store.tenant(ORG), clock, ACCOUNT);
  return {
    dataDir,
    clock,
    store,
    queue,
    source,
    services,
    async close() {
      await queue.close();
      await store.dropTenantDatabase(ORG);
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
