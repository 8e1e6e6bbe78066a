import type { Container, Database } from '@azure/cosmos';
import { AppError } from '../../errors';
import { cosmosStatusOf, cosmosSubstatusOf, OWNER_RESOURCE_NOT_FOUND, toStoreError } from './cosmos-errors';
import type { DatabaseAdmin } from './database-admin';
import type { ContainerSpec } from './layout';

/**
 * Access to one database's containers, and the meaning of a 404 there. A tenant database must have
 * been created (else `TenantNotProvisioned`); the control database is created on first use.
 */
export class DatabaseAccess {
  private ready: Promise<void> | undefined;

  /**
   * `database` resolves the database handle; it throws (for an invalid org name) inside the first
   * operation, so that `store.tenant(org)` itself never throws. `isClosed` reports a closed store.
   */
  constructor(
    private readonly database: () => Database,
    private readonly isClosed: () => boolean,
    private readonly admin: DatabaseAdmin,
    private readonly mode:
      { kind: 'tenant'; org: string } | { kind: 'control'; containers: readonly ContainerSpec[] },
  ) {}

  /** The container, once the database is known to exist. */
  async container(spec: ContainerSpec): Promise<Container> {
    if (this.isClosed()) throw new AppError('Unavailable', 'The store is closed');
    this.ready ??= this.prepare();
    try {
      await this.ready;
    } catch (error) {
      // Not cached: the database may be created later.
      this.ready = undefined;
      throw error;
    }
    return this.database().container(spec.id);
  }

  /** Forgets that the database exists (it was just dropped). */
  forget(): void {
    this.ready = undefined;
  }

  /** Translates an SDK failure; a 404 that is not about an item means the database or container is missing. */
  async fail(error: unknown, what: string): Promise<AppError> {
    if (cosmosStatusOf(error) === 404 && this.mode.kind === 'tenant') {
      if (cosmosSubstatusOf(error) === OWNER_RESOURCE_NOT_FOUND || !(await this.exists())) {
        this.ready = undefined;
        return this.notProvisioned();
      }
    }
    return toStoreError(error, { what });
  }

  /**
   * After a point operation answered 404: true when the item is missing, or throws
   * `TenantNotProvisioned` when the database is (the service says so with sub-status 1003). The
   * database was seen to exist when the container was resolved; an emulator that sends no sub-status
   * is trusted on that, and its writes and queries still fail with 404 once the database is gone.
   */
  confirmsMissingItem(response: { substatus?: number }): Promise<boolean> {
    if (this.mode.kind === 'tenant' && response.substatus === OWNER_RESOURCE_NOT_FOUND) {
      this.ready = undefined;
      return Promise.reject(this.notProvisioned());
    }
    return Promise.resolve(true);
  }

  private async prepare(): Promise<void> {
    const { id } = this.database();
    if (this.mode.kind === 'control') {
      if (!(await this.admin.databaseExists(id))) await this.admin.ensureDatabase(id, this.mode.containers);
      return;
    }
    if (!(await this.exists())) throw this.notProvisioned();
  }

  private async exists(): Promise<boolean> {
    return this.admin.databaseExists(this.database().id);
  }

  private notProvisioned(): AppError {
    const org = this.mode.kind === 'tenant' ? this.mode.org : '';
    return new AppError('TenantNotProvisioned', `The database of tenant ${org} does not exist`);
  }
}
