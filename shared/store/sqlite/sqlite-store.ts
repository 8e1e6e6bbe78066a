import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../clock';
import { AppError } from '../../errors';
import { orgSchema } from '../../model/tenant';
import type { Store, TenantStore } from '../port';
import { openSqliteDatabase, translateSqliteError } from './sqlite-connection';
import { SqliteDocStore } from './sqlite-doc-store';
import { SqliteTenantStore } from './sqlite-tenant-store';

/** Where the SQLite store keeps its files, the clock that stamps `updatedAt`, how long changes are kept. */
export interface SqliteStoreOptions {
  /** The data folder: `control.db` and `tenants/<org>.db` live here; created when missing. */
  dataDir: string;
  clock?: Clock;
  /** Days the change log keeps an entry (`CHANGE_RETENTION_DAYS`); default 14. */
  changeRetentionDays?: number;
}

const DEFAULT_CHANGE_RETENTION_DAYS = 14;

/** An open tenant database and the file it was opened from (to notice a drop by another process). */
interface OpenTenant {
  db: Database.Database;
  dev: number;
  ino: number;
  /** When the file was last found to be this one (`performance.now()`), and the path's generation then. */
  checkedAt: number;
  generation: number;
}

/**
 * How long an open tenant file is trusted before it is checked again: a drop by another process is
 * noticed within this time. Checking on every operation (a `stat` per document read) was 7% of the
 * host's CPU in a 50-device bench.
 */
const FILE_RECHECK_MS = 1000;

/**
 * Drops and creations of tenant files by any store of this process, by path: a store trusts its open
 * file only while the path's generation is the one it saw, so what another instance in this process
 * does is noticed at once (another process's within {@link FILE_RECHECK_MS}).
 */
const fileGenerations = new Map<string, number>();
const generationOf = (path: string): number => fileGenerations.get(path) ?? 0;
const bumpGeneration = (path: string): void => {
  fileGenerations.set(path, generationOf(path) + 1);
};

/**
 * The SQLite adapter of the Store port: one database file per tenant plus `control.db`, in WAL mode
 * so readers never block the writer. Several Store instances (processes) may open the same data
 * folder: writes take SQLite's write lock up front (`BEGIN IMMEDIATE`) and wait up to the busy timeout
 * for it, so each tenant's change sequence is allocated without races. Tenant connections are opened
 * on first use and cached; an operation checks that the tenant's file is still the one it opened
 * (at once after a drop or creation by another instance of this process, else at most a second
 * later), so a tenant dropped through another instance fails with `TenantNotProvisioned` here too.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const clock = options.clock ?? systemClock;
  const changeRetentionDays = options.changeRetentionDays ?? DEFAULT_CHANGE_RETENTION_DAYS;
  // Whole days of at least one: cursors expire 2 hours before their changes could be compacted.
  if (!Number.isInteger(changeRetentionDays) || changeRetentionDays < 1) {
    throw new AppError(
      'ValidationFailed',
      'The change retention must be a whole number of days, at least 1.',
      {
        details: [{ path: 'changeRetentionDays', message: `got ${changeRetentionDays}` }],
      },
    );
  }
  const recordOptions = { changeRetentionDays };
  const tenantsDir = join(options.dataDir, 'tenants');
  mkdirSync(tenantsDir, { recursive: true });
  const controlDb = openSqliteDatabase(join(options.dataDir, 'control.db'), 'control', { mustExist: false });
  const openTenants = new Map<string, OpenTenant>();
  const tenantHandles = new Map<string, TenantStore>();
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new AppError('Unavailable', 'The local store is closed.');
  }

  /** The file of a tenant; the org is validated first because it becomes part of a path. */
  function tenantPath(org: string): string {
    if (!orgSchema.safeParse(org).success) {
      throw new AppError('ValidationFailed', `"${org}" is not a valid tenant name.`, {
        details: [{ path: 'org', message: 'lower-case letters, digits and hyphens, 3 to 32 characters' }],
      });
    }
    return join(tenantsDir, `${org}.db`);
  }

  function forget(org: string): void {
    const open = openTenants.get(org);
    if (open === undefined) return;
    openTenants.delete(org);
    open.db.close();
  }

  function notProvisioned(org: string): AppError {
    return new AppError('TenantNotProvisioned', `The database of tenant "${org}" does not exist.`);
  }

  function connectTenant(org: string): Database.Database {
    assertOpen();
    const path = tenantPath(org);
    const open = openTenants.get(org);
    const now = performance.now();
    const generation = generationOf(path);
    if (open !== undefined && open.generation === generation && now - open.checkedAt < FILE_RECHECK_MS)
      return open.db;
    const file = statSync(path, { throwIfNoEntry: false });
    if (file === undefined) {
      forget(org);
      throw notProvisioned(org);
    }
    if (open !== undefined && open.dev === file.dev && open.ino === file.ino) {
      open.checkedAt = now;
      open.generation = generation;
      return open.db;
    }
    // Never opened here, or dropped and created again elsewhere: (re)open the current file.
    forget(org);
    let db: Database.Database;
    try {
      db = openSqliteDatabase(path, 'tenant', { mustExist: true });
    } catch (error) {
      // Dropped between the stat and the open.
      if (statSync(path, { throwIfNoEntry: false }) === undefined) throw notProvisioned(org);
      throw translateSqliteError(error);
    }
    openTenants.set(org, { db, dev: file.dev, ino: file.ino, checkedAt: now, generation });
    return db;
  }

  const control = new SqliteDocStore(() => {
    assertOpen();
    return controlDb;
  });

  /** Runs a synchronous lifecycle step as a promise, with SQLite failures translated. */
  function attempt<R>(step: () => R): Promise<R> {
    try {
      return Promise.resolve(step());
    } catch (error) {
      return Promise.reject(translateSqliteError(error));
    }
  }

  return {
    kind: 'sqlite',
    control,

    tenant(org: string): TenantStore {
      let handle = tenantHandles.get(org);
      if (handle === undefined) {
        handle = new SqliteTenantStore(org, () => connectTenant(org), clock, recordOptions);
        tenantHandles.set(org, handle);
      }
      return handle;
    },

    createTenantDatabase(org: string): Promise<void> {
      return attempt(() => {
        assertOpen();
        const path = tenantPath(org);
        if (statSync(path, { throwIfNoEntry: false }) !== undefined) {
          connectTenant(org);
          return;
        }
        forget(org);
        // Opening creates the file with its tables; keep the connection for the first operations.
        const db = openSqliteDatabase(path, 'tenant', { mustExist: false });
        const file = statSync(path);
        bumpGeneration(path);
        openTenants.set(org, {
          db,
          dev: file.dev,
          ino: file.ino,
          checkedAt: performance.now(),
          generation: generationOf(path),
        });
      });
    },

    dropTenantDatabase(org: string): Promise<void> {
      return attempt(() => {
        assertOpen();
        const path = tenantPath(org);
        forget(org);
        for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
        bumpGeneration(path);
      });
    },

    tenantDatabaseExists(org: string): Promise<boolean> {
      return attempt(() => {
        assertOpen();
        return statSync(tenantPath(org), { throwIfNoEntry: false }) !== undefined;
      });
    },

    close(): Promise<void> {
      return attempt(() => {
        if (closed) return;
        closed = true;
        for (const org of [...openTenants.keys()]) forget(org);
        controlDb.close();
      });
    },
  };
}
