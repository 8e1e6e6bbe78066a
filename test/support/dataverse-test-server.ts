import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small stand-in for the Dataverse Web API (shared/reference/dataverse.md), over in-memory tables
 * that tests mutate directly. It answers the way the documentation describes: change tracking with
 * `@odata.nextLink` pages and a `@odata.deltaLink` on the last page only, delta reads that return
 * upserts (by version) then `$deletedEntity` rows, weak ETags with `If-Match` (412 when stale),
 * `OData-EntityId` on creates, `{ error: { code, message } }` bodies, and a bearer token check.
 * `failNext` makes the next matching request fail (429 with Retry-After, 5xx, expired delta token,
 * any error). Every request is recorded in `requests`.
 */

export const API_PATH = '/api/data/v9.2';
export const EXPIRED_VERSION_STAMP = '0x80044352';

/** A Web API row as stored: the JSON the service returns, minus `@odata.etag`. */
export type TestRow = Record<string, unknown>;

/** One table of the test server, addressed by its entity set name. */
export interface TestTable {
  entitySet: string;
  primaryId: string;
  /** id → row and its version. */
  rows: Map<string, { row: TestRow; version: number }>;
  /** id → version at which the row was deleted. */
  deleted: Map<string, number>;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** What the next matching request answers instead of its normal response. */
export type TestFailure =
  | { kind: 'throttle'; retryAfterSeconds: number }
  | { kind: 'server-error'; status?: number }
  | { kind: 'expired-token'; status?: number }
  | { kind: 'error'; status: number; code?: string; message?: string };

/** The in-memory tables: mutate them between reads to simulate source changes. */
export class TestTables {
  private readonly tables = new Map<string, TestTable>();
  /** The database's row version counter (Dataverse's `versionnumber`). */
  version = 1000;

  define(entitySet: string, primaryId: string): TestTable {
    const table: TestTable = { entitySet, primaryId, rows: new Map(), deleted: new Map() };
    this.tables.set(entitySet, table);
    return table;
  }

  get(entitySet: string): TestTable | undefined {
    return this.tables.get(entitySet);
  }

  table(entitySet: string): TestTable {
    const table = this.tables.get(entitySet);
    if (!table) throw new Error(`no test table ${entitySet}`);
    return table;
  }

  /** Inserts or replaces (merging columns) a row; returns its new version. */
  upsert(entitySet: string, row: TestRow): number {
    const table = this.table(entitySet);
    const id = row[table.primaryId];
    if (typeof id !== 'string') throw new Error(`row of ${entitySet} lacks ${table.primaryId}`);
    const version = ++this.version;
    const previous = table.rows.get(id)?.row ?? {};
    table.rows.set(id, { row: { ...previous, ...row, versionnumber: version }, version });
    table.deleted.delete(id);
    return version;
  }

  remove(entitySet: string, id: string): void {
    const table = this.table(entitySet);
    table.rows.delete(id);
    table.deleted.set(id, ++this.version);
  }

  etag(entitySet: string, id: string): string | undefined {
    const entry = this.table(entitySet).rows.get(id);
    return entry ? `W/"${entry.version}"` : undefined;
  }
}

export interface DataverseTestServer {
  /** The environment URL (`https://org.crm.dynamics.com` in real life). */
  url: string;
  /** `${url}/api/data/v9.2`. */
  apiUrl: string;
  /** The bearer token the server accepts. */
  token: string;
  tables: TestTables;
  /** Raw `EntityDefinitions` as the Web API returns them (with `Attributes` and relationship arrays). */
  entityDefinitions: Record<string, unknown>[];
  /** Total counts answered by `RetrieveTotalRecordCount` (entity logical name → count). */
  totalRecordCounts: Map<string, number>;
  requests: RecordedRequest[];
  /** The next request that matches (by default: any, or any delta read for `expired-token`) fails. */
  failNext(failure: TestFailure, match?: (request: RecordedRequest) => boolean): void;
  close(): Promise<void>;
}

interface Cursor {
  rows: Record<string, unknown>[];
  deltaLink: string | undefined;
}

const NAVIGATION_COLLECTIONS = [
  'Attributes',
  'OneToManyRelationships',
  'ManyToOneRelationships',
  'ManyToManyRelationships',
];

/** Starts the server on 127.0.0.1, on a free port. */
export async function startDataverseTestServer(
  options: { token?: string } = {},
): Promise<DataverseTestServer> {
  const token = options.token ?? 'test-token';
  const tables = new TestTables();
  const entityDefinitions: Record<string, unknown>[] = [];
  const totalRecordCounts = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const failures: { failure: TestFailure; match: (request: RecordedRequest) => boolean }[] = [];
  const cursors = new Map<string, Cursor>();
  let origin = '';

  const server = createServer((req, res) => {
    void readBody(req).then(
      (text) => {
        const recorded: RecordedRequest = {
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: { ...req.headers },
          body: text === '' ? undefined : safeJson(text),
        };
        requests.push(recorded);
        try {
          handle(recorded, res);
        } catch (error) {
          sendError(res, 500, '0x80040216', error instanceof Error ? error.message : String(error));
        }
      },
      (error: unknown) => sendError(res, 500, '', String(error)),
    );
  });

  function handle(request: RecordedRequest, res: ServerResponse): void {
    if (request.headers.authorization !== `Bearer ${token}`) {
      sendError(res, 401, '0x80090327', 'Bearer token missing or not valid.');
      return;
    }
    const failureIndex = failures.findIndex((f) => f.match(request));
    if (failureIndex >= 0) {
      const [{ failure }] = failures.splice(failureIndex, 1) as [(typeof failures)[number]];
      answerFailure(failure, res);
      return;
    }
    const url = new URL(request.url, origin);
    if (!url.pathname.startsWith(`${API_PATH}/`)) {
      sendError(res, 404, '', `No route ${url.pathname}`);
      return;
    }
    const path = decodeURIComponent(url.pathname.slice(API_PATH.length + 1));
    const prefer = String(request.headers.prefer ?? '');
    const pageSize = Number(/odata\.maxpagesize=(\d+)/.exec(prefer)?.[1] ?? 5000);

    if (path.startsWith('EntityDefinitions')) {
      answerMetadata(path, url, res);
      return;
    }
    if (path.startsWith('RetrieveTotalRecordCount')) {
      const names = JSON.parse(url.searchParams.get('@p1') ?? '[]') as string[];
      const counts = names.map((n) => totalRecordCounts.get(n) ?? 0);
      sendJson(res, 200, {
        EntityRecordCountCollection: { Count: names.length, IsReadOnly: false, Keys: names, Values: counts },
      });
      return;
    }
    const match = /^([a-z_0-9]+)(?:\(([^)]+)\))?(\/\$count)?$/.exec(path);
    const table = match ? tables.get(match[1]!) : undefined;
    if (!match || !table) {
      sendError(res, 404, '0x80060888', `Resource not found for the segment '${path}'.`);
      return;
    }
    const id = match[2];
    if (match[3]) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(String(table.rows.size));
      return;
    }
    switch (request.method) {
      case 'GET':
        if (id !== undefined) answerRow(table, id, url.searchParams.get('$select'), res);
        else answerCollection(table, url, prefer, pageSize, res);
        return;
      case 'POST':
        answerCreate(table, request, prefer, res);
        return;
      case 'PATCH':
        if (id === undefined) break;
        answerUpdate(table, id, request, prefer, res);
        return;
      case 'DELETE':
        if (id === undefined) break;
        answerDelete(table, id, request, res);
        return;
    }
    sendError(res, 405, '', `${request.method} is not supported here.`);
  }

  function answerFailure(failure: TestFailure, res: ServerResponse): void {
    switch (failure.kind) {
      case 'throttle':
        res.setHeader('retry-after', String(failure.retryAfterSeconds));
        sendError(
          res,
          429,
          '0x80072322',
          'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
        );
        return;
      case 'server-error':
        sendError(res, failure.status ?? 503, '', 'The service is temporarily unavailable.');
        return;
      case 'expired-token':
        sendError(
          res,
          failure.status ?? 400,
          EXPIRED_VERSION_STAMP,
          'Version stamp associated with the client has expired. Please perform a full sync.',
        );
        return;
      case 'error':
        sendError(res, failure.status, failure.code ?? '', failure.message ?? 'Error.');
        return;
    }
  }

  function answerMetadata(path: string, url: URL, res: ServerResponse): void {
    const single =
      /^EntityDefinitions\(LogicalName='([a-z0-9_]+)'\)(?:\/Attributes\/Microsoft\.Dynamics\.CRM\.(\w+)|\/(ManyToOneRelationships))?$/.exec(
        path,
      );
    const expand = parseExpand(url.searchParams.get('$expand') ?? '');
    if (single) {
      const definition = entityDefinitions.find((d) => d.LogicalName === single[1]);
      if (!definition) {
        sendError(res, 404, '0x80040217', `Could not find entity with LogicalName '${single[1]}'.`);
        return;
      }
      if (single[3]) {
        sendJson(res, 200, { value: (definition.ManyToOneRelationships as unknown[] | undefined) ?? [] });
        return;
      }
      if (single[2]) {
        const attributes = (definition.Attributes as Record<string, unknown>[] | undefined) ?? [];
        sendJson(res, 200, {
          value: attributes.filter((a) => a['@odata.type'] === `#Microsoft.Dynamics.CRM.${single[2]}`),
        });
        return;
      }
      sendJson(res, 200, shapeDefinition(definition, expand));
      return;
    }
    if (path !== 'EntityDefinitions') {
      sendError(res, 404, '', `No metadata route ${path}`);
      return;
    }
    const filter = url.searchParams.get('$filter');
    const names = filter
      ? [...filter.matchAll(/LogicalName eq '([a-z0-9_]+)'/g)].map((m) => m[1])
      : undefined;
    const selected = entityDefinitions.filter((d) => !names || names.includes(d.LogicalName as string));
    sendJson(res, 200, { value: selected.map((d) => shapeDefinition(d, expand)) });
  }

  function answerCollection(
    table: TestTable,
    url: URL,
    prefer: string,
    pageSize: number,
    res: ServerResponse,
  ): void {
    const skipToken = url.searchParams.get('$skiptoken');
    let cursorId: string;
    let offset = 0;
    if (skipToken !== null) {
      const [cid, off] = skipToken.split(':');
      if (!cid || !cursors.has(cid)) {
        sendError(res, 400, '0x80040203', 'Invalid $skiptoken.');
        return;
      }
      cursorId = cid;
      offset = Number(off);
    } else {
      const deltaToken = url.searchParams.get('$deltatoken');
      const tracking = deltaToken !== null || /odata\.track-changes/.test(prefer);
      const since = deltaToken === null ? undefined : Number(deltaToken.split('!')[0]);
      if (since !== undefined && !Number.isFinite(since)) {
        sendError(res, 400, EXPIRED_VERSION_STAMP, 'Version stamp associated with the client has expired.');
        return;
      }
      const select = url.searchParams.get('$select');
      const rows = since === undefined ? fullRows(table) : deltaRows(table, since);
      const projected = rows.map((r) => project(r, select));
      const deltaLink = tracking
        ? `${origin}${API_PATH}/${table.entitySet}?${select ? `$select=${select}&` : ''}$deltatoken=${encodeURIComponent(
            `${tables.version}!01/15/2026 10:00:00`,
          )}`
        : undefined;
      cursorId = randomUUID();
      cursors.set(cursorId, { rows: projected, deltaLink });
    }
    const cursor = cursors.get(cursorId)!;
    const page = cursor.rows.slice(offset, offset + pageSize);
    const more = offset + pageSize < cursor.rows.length;
    const body: Record<string, unknown> = {
      '@odata.context': `${origin}${API_PATH}/$metadata#${table.entitySet}${cursor.deltaLink ? '/$delta' : ''}`,
      value: page,
    };
    if (more)
      body['@odata.nextLink'] =
        `${origin}${API_PATH}/${table.entitySet}?$skiptoken=${cursorId}:${offset + pageSize}`;
    else if (cursor.deltaLink) body['@odata.deltaLink'] = cursor.deltaLink;
    if (cursor.deltaLink) res.setHeader('preference-applied', 'odata.track-changes');
    sendJson(res, 200, body);
  }

  function fullRows(table: TestTable): Record<string, unknown>[] {
    return [...table.rows.values()]
      .sort((a, b) => a.version - b.version)
      .map(({ row, version }) => ({ '@odata.etag': `W/"${version}"`, ...row }));
  }

  function deltaRows(table: TestTable, since: number): Record<string, unknown>[] {
    const upserts = [...table.rows.values()]
      .filter((r) => r.version > since)
      .sort((a, b) => a.version - b.version)
      .map(({ row, version }) => ({ '@odata.etag': `W/"${version}"`, ...row }));
    const deletes = [...table.deleted.entries()]
      .filter(([, version]) => version > since)
      .map(([id]) => ({
        '@odata.context': `${origin}${API_PATH}/$metadata#${table.entitySet}/$deletedEntity`,
        id,
        reason: 'deleted',
      }));
    return [...upserts, ...deletes];
  }

  function answerRow(table: TestTable, id: string, select: string | null, res: ServerResponse): void {
    const entry = table.rows.get(id);
    if (!entry) {
      sendError(res, 404, '0x80040217', `${table.entitySet} With Id = ${id} Does Not Exist`);
      return;
    }
    sendJson(res, 200, project({ '@odata.etag': `W/"${entry.version}"`, ...entry.row }, select));
  }

  function answerCreate(
    table: TestTable,
    request: RecordedRequest,
    prefer: string,
    res: ServerResponse,
  ): void {
    const body = toStoredRow(request.body);
    const id = typeof body[table.primaryId] === 'string' ? (body[table.primaryId] as string) : randomUUID();
    if (table.rows.has(id)) {
      sendError(res, 412, '0x80040237', 'A record with matching key values already exists.');
      return;
    }
    tables.upsert(table.entitySet, { ...body, [table.primaryId]: id });
    const location = `${origin}${API_PATH}/${table.entitySet}(${id})`;
    if (/return=representation/.test(prefer)) {
      const entry = table.rows.get(id)!;
      sendJson(res, 201, { '@odata.etag': `W/"${entry.version}"`, ...entry.row });
      return;
    }
    res.writeHead(204, { 'odata-entityid': location }).end();
  }

  function answerUpdate(
    table: TestTable,
    id: string,
    request: RecordedRequest,
    prefer: string,
    res: ServerResponse,
  ): void {
    const ifMatch = request.headers['if-match'] as string | undefined;
    const entry = table.rows.get(id);
    if (ifMatch !== undefined && !entry) {
      sendError(res, 404, '0x80040217', `${table.entitySet} With Id = ${id} Does Not Exist`);
      return;
    }
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== `W/"${entry!.version}"`) {
      sendError(
        res,
        412,
        '0x80060882',
        "The version of the existing record doesn't match the RowVersion property provided.",
      );
      return;
    }
    tables.upsert(table.entitySet, { ...toStoredRow(request.body), [table.primaryId]: id });
    const updated = table.rows.get(id)!;
    if (/return=representation/.test(prefer)) {
      sendJson(res, 200, { '@odata.etag': `W/"${updated.version}"`, ...updated.row });
      return;
    }
    res.writeHead(204, { 'odata-entityid': `${origin}${API_PATH}/${table.entitySet}(${id})` }).end();
  }

  function answerDelete(table: TestTable, id: string, request: RecordedRequest, res: ServerResponse): void {
    const ifMatch = request.headers['if-match'] as string | undefined;
    const entry = table.rows.get(id);
    if (!entry) {
      sendError(res, 404, '0x80040217', `${table.entitySet} With Id = ${id} Does Not Exist`);
      return;
    }
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== `W/"${entry.version}"`) {
      sendError(
        res,
        412,
        '0x80060882',
        "The version of the existing record doesn't match the RowVersion property provided.",
      );
      return;
    }
    tables.remove(table.entitySet, id);
    res.writeHead(204).end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    apiUrl: `${origin}${API_PATH}`,
    token,
    tables,
    entityDefinitions,
    totalRecordCounts,
    requests,
    failNext(failure, match) {
      const defaultMatch =
        failure.kind === 'expired-token'
          ? (r: RecordedRequest) => r.url.includes('deltatoken')
          : (r: RecordedRequest) => r.url.startsWith(API_PATH);
      failures.push({ failure, match: match ?? defaultMatch });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** `a($select=x),b` → { a: '$select=x', b: '' }, splitting only at top-level commas. */
function parseExpand(expand: string): Map<string, string> {
  const result = new Map<string, string>();
  let depth = 0;
  let start = 0;
  const parts: string[] = [];
  for (let i = 0; i <= expand.length; i++) {
    const ch = expand[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if ((ch === ',' && depth === 0) || ch === undefined) {
      parts.push(expand.slice(start, i));
      start = i + 1;
    }
  }
  for (const part of parts) {
    const m = /^(\w+)(?:\((.*)\))?$/.exec(part.trim());
    if (m) result.set(m[1]!, m[2] ?? '');
  }
  return result;
}

/** Drops navigation collections not expanded; applies `$select` inside an expansion. */
function shapeDefinition(
  definition: Record<string, unknown>,
  expand: Map<string, string>,
): Record<string, unknown> {
  const shaped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(definition)) {
    if (!NAVIGATION_COLLECTIONS.includes(key)) {
      shaped[key] = value;
      continue;
    }
    if (!expand.has(key)) continue;
    const select = /\$select=([^;]*)/.exec(expand.get(key) ?? '')?.[1];
    shaped[key] = ((value as Record<string, unknown>[] | undefined) ?? []).map((item) =>
      project(item, select ?? null),
    );
  }
  return shaped;
}

function project(row: Record<string, unknown>, select: string | null | undefined): Record<string, unknown> {
  if (!select) return row;
  // A `$deletedEntity` entry is `{ @odata.context, id, reason }` whatever the read selected.
  const context = row['@odata.context'];
  if (typeof context === 'string' && context.endsWith('/$deletedEntity')) return row;
  const keep = new Set(select.split(','));
  return Object.fromEntries(
    Object.entries(row).filter(
      ([key]) => key.startsWith('@') || keep.has(key.split('@')[0]!) || key === 'MetadataId',
    ),
  );
}

/** Turns `x@odata.bind: "/set(id)"` into the stored `_x_value` form (owners also set owninguser/owningteam). */
function toStoredRow(body: unknown): TestRow {
  const row: TestRow = {};
  for (const [key, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    const bind = /^(\w+)@odata\.bind$/.exec(key);
    if (!bind) {
      row[key] = value;
      continue;
    }
    const name = bind[1]!;
    const target = typeof value === 'string' ? /^\/?(\w+)\(([^)]+)\)$/.exec(value) : null;
    row[`_${name}_value`] = target ? target[2] : null;
    if (name === 'ownerid' && target) {
      row._owninguser_value = target[1] === 'systemusers' ? target[2] : null;
      row._owningteam_value = target[1] === 'teams' ? target[2] : null;
    }
  }
  return row;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json; odata.metadata=minimal',
    'odata-version': '4.0',
  });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}
