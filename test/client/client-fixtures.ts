/**
 * What the SDK's unit tests share: a small metadata answer, JSON responses, download pages, a server
 * stand-in behind `fetch`, and a client over it. Each test says only what its server does
 * differently.
 */
import { createSyncClient, type SyncClient, type SyncClientOptions } from '../../client';
import { createMemoryLocalStore } from '../../client/memory';
import type { RowData } from '../../client/local-store';
import type { DownloadChange, DownloadResponse, SyncMetadataResponse } from '../../shared/sync/sync-protocol';
import type { TableSchema } from '../../client/live-query';

/** A metadata answer with these entities (`<entity>id` keys), each with these attributes. */
export function testMetadata(
  entities: readonly string[] = ['account', 'contact'],
  attributes: SyncMetadataResponse['entities'][number]['attributes'] = [],
): SyncMetadataResponse {
  return {
    app: 'field-sales',
    profile: { id: 'p', name: 'P', version: 1 },
    entities: entities.map((logicalName) => ({
      logicalName,
      primaryIdAttribute: `${logicalName}id`,
      primaryNameAttribute: 'name',
      ownership: 'user' as const,
      attributes,
      relationships: [],
    })),
    metadataVersion: 1,
    profileVersion: 1,
    directoryVersion: 1,
    syncIntervalSeconds: 900,
  };
}

/** A `name` string attribute, readable and not required. */
export const nameAttribute: SyncMetadataResponse['entities'][number]['attributes'][number] = {
  name: 'name',
  type: 'string',
  required: false,
  secured: false,
  readable: true,
};

export const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** An upsert of `<entity>/<id>` with its id column and the given columns. */
export const upsert = (entity: string, id: string, row: RowData = {}, version = '1'): DownloadChange => ({
  entity,
  id,
  op: 'upsert',
  version,
  row: { [`${entity}id`]: id, ...row },
});

/** Download page `n` of `total` with checkpoint `cp-<n>`. */
export function downloadPage(
  changes: readonly unknown[],
  n: number,
  more: boolean,
  total = 2,
  nextSyncSeconds = 900,
): DownloadResponse {
  return {
    changes: changes as DownloadChange[],
    checkpoint: `cp-${n}`,
    more,
    progress: { done: n, total, percent: more ? Math.round((n / total) * 100) : 100 },
    nextSyncSeconds,
  };
}

/** The last page of a sync that brings nothing. */
export const emptyPage: DownloadResponse = {
  changes: [],
  checkpoint: 'end',
  more: false,
  progress: { done: 0, total: 0, percent: 100 },
  nextSyncSeconds: 900,
};

type Body = Record<string, unknown>;

export interface FakeSyncServerRoutes {
  /** The metadata answer (default `testMetadata()`). */
  metadata?: SyncMetadataResponse;
  /** The answer (or a promise of it) to download request `n` (from 1); default: `emptyPage`. */
  download?(body: Body, n: number): unknown;
  /** The answer (or a promise of it) to an upload; default: every operation applied at version '1'. */
  upload?(body: { operations: { opId: string }[] }): unknown;
}

/**
 * A server stand-in behind `fetch`: metadata, download and upload, each answered as JSON (an answer
 * that is a `Response` is sent as it is), the request bodies recorded; anything else throws. While
 * `offline` is set, every request fails as `fetch` does without a network.
 */
export function fakeSyncServer(routes: FakeSyncServerRoutes = {}) {
  const downloads: Body[] = [];
  const uploads: Body[] = [];
  const state = { offline: false };
  const respond = (answer: unknown): Response => (answer instanceof Response ? answer : json(answer));
  const fetch: typeof globalThis.fetch = async (input, init) => {
    if (state.offline) throw new TypeError('fetch failed');
    const url = input instanceof Request ? input.url : input.toString();
    const body = (): Body => JSON.parse(typeof init?.body === 'string' ? init.body : '') as Body;
    if (url.includes('/metadata')) return json(routes.metadata ?? testMetadata());
    if (url.endsWith('/download')) {
      const request = body();
      downloads.push(request);
      return respond(routes.download ? await routes.download(request, downloads.length) : emptyPage);
    }
    if (url.endsWith('/upload')) {
      const request = body() as { operations: { opId: string }[] };
      uploads.push(request);
      if (routes.upload) return respond(await routes.upload(request));
      return json({
        results: request.operations.map((o) => ({ opId: o.opId, status: 'applied', version: '1' })),
      });
    }
    throw new Error(`unexpected ${url}`);
  };
  return { fetch, downloads, uploads, state };
}

/** A client of org `contoso`, app `field-sales`, device `d1`, over a memory store unless given one. */
export function testClient<Schema extends TableSchema = Record<string, RowData>>(
  options: Partial<SyncClientOptions> & Pick<SyncClientOptions, 'fetch'>,
): SyncClient<Schema> {
  return createSyncClient<Schema>({
    baseUrl: 'http://device.test',
    org: 'contoso',
    app: 'field-sales',
    deviceId: 'd1',
    getToken: () => 't',
    store: createMemoryLocalStore(),
    sleep: async () => undefined,
    ...options,
  });
}
