import type { Clock } from '../../clock';
import type { Directory } from '../../model/directory';
import type { EntityMetadata } from '../../model/entity';
import type { Source, SourceChange, SourceChangePage, SourceWrite, SourceWriteResult } from '../port';
import { readEntityChanges } from './change-reader';
import { readDataverseDirectory } from './directory-reader';
import { createEntitySetCatalog } from './entity-set-catalog';
import { readEntityMetadata } from './metadata-reader';
import { writeRecordChange } from './record-writer';
import { countEntityRows } from './row-count';
import { readRowsById } from './row-reader';
import { createDataverseHttpClient } from './web-api-client';

/** How to reach one Dataverse environment. */
export interface DataverseSourceOptions {
  /** The environment URL (`https://org.crm.dynamics.com`), or its Web API base. */
  url: string;
  /** A bearer token for the environment (see dataverseTokenProvider). */
  getToken: () => Promise<string>;
  clock: Clock;
  /** Waits for Retry-After and backoff; injected so tests never sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** `odata.maxpagesize` of reads (at most 5,000, the service's default and limit). */
  maxPageSize?: number;
  fetch?: typeof fetch;
  /** Retries of throttled and transient failures (default 5). */
  maxRetries?: number;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The Source port over the Dataverse Web API (reference/dataverse.md): metadata from
 * EntityDefinitions, the directory from the security tables, changes through change tracking,
 * device writes with ETag concurrency on behalf of the user.
 */
export function createDataverseSource(options: DataverseSourceOptions): Source {
  const maxPageSize = Math.min(Math.max(1, options.maxPageSize ?? 5000), 5000);
  const client = createDataverseHttpClient({
    url: options.url,
    getToken: options.getToken,
    sleep: options.sleep ?? realSleep,
    fetch: options.fetch ?? fetch,
    now: () => options.clock.now().getTime(),
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
  const catalog = createEntitySetCatalog(client);
  return {
    kind: 'dataverse',
    readMetadata: (entities?: readonly string[]): Promise<EntityMetadata[]> =>
      readEntityMetadata(client, catalog, entities),
    readDirectory: (): Promise<Directory> => readDataverseDirectory(client, maxPageSize),
    readChanges: (
      entity: EntityMetadata,
      deltaToken: string | undefined,
      resumeAt?: string,
    ): AsyncIterable<SourceChangePage> =>
      readEntityChanges({ client, catalog, maxPageSize }, entity, deltaToken, resumeAt),
    readRows: (entity: EntityMetadata, ids: readonly string[]): Promise<SourceChange[]> =>
      readRowsById(client, catalog, entity, ids),
    countRows: (entity: EntityMetadata): Promise<number> => countEntityRows(client, catalog, entity),
    writeChange: (change: SourceWrite, entity: EntityMetadata): Promise<SourceWriteResult> =>
      writeRecordChange(client, catalog, change, entity),
  };
}
