import type { Container, ItemDefinition } from '@azure/cosmos';
import { AppError } from '../../errors';
import type { DocEtag, DocStore, PutDocOptions, StoredDoc } from '../port';
import { cosmosStatusOf } from './cosmos-errors';
import { itemKey } from './layout';
import { ReadCounter } from './read-counter';

/** How a document is stored in the `docs` container. */
interface DocItem extends ItemDefinition {
  id: string;
  pk: string;
  kind: string;
  docId: string;
  value: unknown;
  _etag?: string;
}

/**
 * Resolves the `docs` container of a database, after making sure it exists (the tenant's database
 * was created; the control database is created on first use), and says what a missing container means.
 */
export interface DocsContainerAccess {
  container(): Promise<Container>;
  /** Turns an SDK failure into an AppError; a missing database becomes `TenantNotProvisioned` for tenants. */
  fail(error: unknown, what: string): Promise<AppError>;
  /** Whether a 404 on a point read means "no such document" (true) rather than "no database". */
  confirmsMissingItem(error: { substatus?: number }): Promise<boolean>;
}

/** The {@link DocStore} of one database: the control store or a tenant's documents. */
export class CosmosDocStore implements DocStore {
  /** `reads` counts what reads cost (a tenant's metered view); by default nothing is counted. */
  constructor(
    private readonly access: DocsContainerAccess,
    private readonly docReads: ReadCounter = new ReadCounter(undefined),
  ) {}

  async getDoc<T = unknown>(kind: string, id: string): Promise<StoredDoc<T> | undefined> {
    const container = await this.access.container();
    const key = itemKey(kind, id);
    try {
      const response = await container.item(key, key).read<DocItem>();
      this.docReads.add('docs', response.resource === undefined ? 0 : 1, response.requestCharge);
      if (response.statusCode === 404 || response.resource === undefined) {
        if (await this.access.confirmsMissingItem(response)) return undefined;
      }
      return response.resource === undefined ? undefined : toStoredDoc<T>(response.resource);
    } catch (error) {
      throw await this.access.fail(error, `Reading document ${kind}/${id}`);
    }
  }

  async getDocIfChanged<T = unknown>(
    kind: string,
    id: string,
    etag: string,
  ): Promise<StoredDoc<T> | 'unchanged' | undefined> {
    const container = await this.access.container();
    const key = itemKey(kind, id);
    try {
      const response = await container
        .item(key, key)
        .read<DocItem>({ accessCondition: { type: 'IfNoneMatch', condition: etag } });
      if (response.statusCode === 304) {
        this.docReads.add('docs', 1, response.requestCharge);
        return 'unchanged';
      }
      this.docReads.add('docs', response.resource === undefined ? 0 : 1, response.requestCharge);
      if (response.statusCode === 404 || response.resource === undefined) {
        // As for getDoc: a missing database is the adapter's error, a missing item none.
        await this.access.confirmsMissingItem(response);
        return undefined;
      }
      // A server that ignores If-None-Match (some emulators) answers 200 with the same document.
      const doc = toStoredDoc<T>(response.resource);
      return doc.etag === etag ? 'unchanged' : doc;
    } catch (error) {
      throw await this.access.fail(error, `Reading document ${kind}/${id}`);
    }
  }

  async putDoc<T>(kind: string, id: string, value: T, options: PutDocOptions = {}): Promise<StoredDoc<T>> {
    const container = await this.access.container();
    const key = itemKey(kind, id);
    const item: DocItem = { id: key, pk: key, kind, docId: id, value };
    try {
      if (options.ifNoneMatch === '*') {
        const { resource } = await container.items.create<DocItem>(item);
        return toStoredDoc<T>(required(resource));
      }
      if (options.ifMatch !== undefined) {
        const { resource } = await container
          .item(key, key)
          .replace<DocItem>(item, { accessCondition: { type: 'IfMatch', condition: options.ifMatch } });
        return toStoredDoc<T>(required(resource));
      }
      const { resource } = await container.items.upsert<DocItem>(item);
      return toStoredDoc<T>(required(resource));
    } catch (error) {
      // Replacing with `ifMatch` a document that is gone is a failed precondition, not a missing database.
      if (options.ifMatch !== undefined && cosmosStatusOf(error) === 404) {
        const missing = await this.access.confirmsMissingItem(error as { substatus?: number });
        if (missing) throw new AppError('PreconditionFailed', `Document ${kind}/${id} does not exist`);
      }
      throw await this.access.fail(error, `Writing document ${kind}/${id}`);
    }
  }

  async deleteDoc(kind: string, id: string, options: { ifMatch?: string } = {}): Promise<boolean> {
    const container = await this.access.container();
    const key = itemKey(kind, id);
    try {
      await container
        .item(key, key)
        .delete(
          options.ifMatch === undefined
            ? {}
            : { accessCondition: { type: 'IfMatch', condition: options.ifMatch } },
        );
      return true;
    } catch (error) {
      if (
        cosmosStatusOf(error) === 404 &&
        (await this.access.confirmsMissingItem(error as { substatus?: number }))
      ) {
        if (options.ifMatch !== undefined) {
          throw new AppError('PreconditionFailed', `Document ${kind}/${id} does not exist`);
        }
        return false;
      }
      throw await this.access.fail(error, `Deleting document ${kind}/${id}`);
    }
  }

  async listDocs<T = unknown>(kind: string, options: { prefix?: string } = {}): Promise<StoredDoc<T>[]> {
    const items = await this.queryKind<DocItem>('*', kind, options.prefix ?? '');
    return items.map((item) => toStoredDoc<T>(item)).sort(byId);
  }

  async listDocEtags(kind: string, options: { prefix?: string } = {}): Promise<DocEtag[]> {
    const items = await this.queryKind<{ docId: string; etag: string }>(
      'c.docId, c._etag AS etag',
      kind,
      options.prefix ?? '',
    );
    return items.map((item) => ({ id: item.docId, etag: item.etag })).sort(byId);
  }

  /** Every document of a kind whose id starts with `prefix` (all when empty), as `select` projects it. */
  private async queryKind<R>(select: string, kind: string, prefix: string): Promise<R[]> {
    const container = await this.access.container();
    const out: R[] = [];
    try {
      const iterator = container.items.query<R>({
        query: `SELECT ${select} FROM c WHERE c.kind = @kind${prefix === '' ? '' : ' AND STARTSWITH(c.docId, @prefix)'}`,
        parameters: [
          { name: '@kind', value: kind },
          { name: '@prefix', value: prefix },
        ],
      });
      while (iterator.hasMoreResults()) {
        const response = await iterator.fetchNext();
        this.docReads.add('docs', response.resources.length, response.requestCharge);
        out.push(...response.resources);
      }
      return out;
    } catch (error) {
      throw await this.access.fail(error, `Listing documents of kind ${kind}`);
    }
  }
}

/** By id in UTF-16 code units, so the order does not depend on the engine's string collation. */
function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function required(resource: DocItem | undefined): DocItem {
  if (resource === undefined)
    throw new AppError('Unavailable', 'Cosmos DB returned no document after a write');
  return resource;
}

function toStoredDoc<T>(item: DocItem): StoredDoc<T> {
  return { kind: item.kind, id: item.docId, value: item.value as T, etag: item._etag ?? '' };
}
