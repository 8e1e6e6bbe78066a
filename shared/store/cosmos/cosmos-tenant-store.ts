import type { Container, ItemDefinition, OperationInput } from '@azure/cosmos';
import { AppError } from '../../errors';
import type { Clock } from '../../clock';
import type { Attributes, StoredRecord } from '../../model/record';
import { attributeLookup, isPlainAttributeName } from '../attribute-lookup';
import type { ChangePage, RecordWrite, RecordWriteResult, TenantStore } from '../port';
import { ChangeSequence } from './change-sequence';
import type { ChangeMarker } from './change-sequence';
import { CosmosDocStore } from './cosmos-doc-store';
import { cosmosStatusOf } from './cosmos-errors';
import type { DatabaseAccess } from './database-access';
import { CHANGES_CONTAINER, DOCS_CONTAINER, itemKey, RECORDS_CONTAINER } from './layout';
import { mapConcurrently } from './map-concurrently';
import { groupWritesByRow, planRowWrites } from './record-write-plan';
import type { RowPlan, RowWrites } from './record-write-plan';

/** How a row is stored in the `records` container (partition key `/pk`, see layout.ts). */
interface RecordItem extends ItemDefinition {
  id: string;
  pk: string;
  entity: string;
  recordId: string;
  version: string;
  deleted: boolean;
  attributes: Attributes;
  updatedAt: string;
  /** The seq of the row's latest change (change-sequence.ts). */
  seq: number;
  /** A reader's fence where no row existed (change-sequence.ts): invisible, as if absent. */
  fence?: true;
  _etag?: string;
}

/** What a bulk row write did: undefined when it is not known. */
type BulkWriteOutcome = 'written' | 'lost-race' | undefined;

interface CurrentRow {
  record: StoredRecord | undefined;
  etag: string | undefined;
}

/** Rows per chunk of a batch: one seq-range allocation and one round of parallel writes each. */
const WRITE_CHUNK_ROWS = 200;
/** Requests in flight per batch: enough to hide latency, few enough not to trip throttling at once. */
const REQUEST_CONCURRENCY = 32;
/** Point reads per bulk request: Cosmos takes at most 100 operations per partition key range. */
const BULK_READ_SIZE = 100;
const CURSOR_PREFIX = 'cs1:';
/** Values per lookup query: keeps the query's parameters well under the service's size limits. */
const LOOKUP_VALUES_PER_QUERY = 500;

/** A tenant's documents and rows in its own Cosmos database. */
export class CosmosTenantStore extends CosmosDocStore implements TenantStore {
  constructor(
    readonly org: string,
    private readonly db: DatabaseAccess,
    private readonly clock: Clock,
    private readonly gapTimeoutMs: number,
  ) {
    super({
      container: () => db.container(DOCS_CONTAINER),
      fail: (error, what) => db.fail(error, what),
      confirmsMissingItem: (response) => db.confirmsMissingItem(response),
    });
  }

  async applyRecordWrites(writes: readonly RecordWrite[]): Promise<RecordWriteResult[]> {
    const records = await this.db.container(RECORDS_CONTAINER);
    const sequence = await this.sequence();
    const results = new Array<RecordWriteResult>(writes.length);
    const rows = groupWritesByRow(writes, itemKey);
    for (let start = 0; start < rows.length; start += WRITE_CHUNK_ROWS) {
      const chunk = rows.slice(start, start + WRITE_CHUNK_ROWS);
      const current = await this.readRows(records, chunk);
      const plans = chunk.map((row, i) => ({
        plan: planRowWrites(row, current[i]?.record, this.clock.now()),
        etag: current[i]?.etag,
      }));
      const changing = plans.filter(({ plan }) => plan.next !== undefined);
      const changed = changing.length === 0 ? [] : await this.persistRows(records, sequence, changing);
      const finalPlans = new Map<RowWrites, RowPlan>(changed.map((plan) => [plan.row, plan]));
      for (const { plan } of plans) {
        for (const { index, result } of (finalPlans.get(plan.row) ?? plan).results) results[index] = result;
      }
    }
    return results;
  }

  async getRecord(entity: string, id: string): Promise<StoredRecord | undefined> {
    const records = await this.db.container(RECORDS_CONTAINER);
    return (await this.readRow(records, entity, id)).record;
  }

  async getRecords(entity: string, ids: readonly string[]): Promise<StoredRecord[]> {
    const records = await this.db.container(RECORDS_CONTAINER);
    const unique = [...new Set(ids)];
    const rows = await this.readRows(
      records,
      unique.map((id) => ({ entity, id })),
    );
    return rows.flatMap((row) => (row.record === undefined ? [] : [row.record]));
  }

  async scanRecords(
    entity: string,
    options: { afterId?: string; limit: number; includeDeleted?: boolean },
  ): Promise<StoredRecord[]> {
    assertLimit(options.limit);
    const records = await this.db.container(RECORDS_CONTAINER);
    const filters = ['c.entity = @entity', 'NOT IS_DEFINED(c.fence)'];
    if (options.afterId !== undefined) filters.push('c.recordId > @afterId');
    if (options.includeDeleted !== true) filters.push('c.deleted = false');
    const out: StoredRecord[] = [];
    try {
      const iterator = records.items.query<RecordItem>(
        {
          query: `SELECT * FROM c WHERE ${filters.join(' AND ')} ORDER BY c.recordId`,
          parameters: [
            { name: '@entity', value: entity },
            { name: '@afterId', value: options.afterId ?? '' },
          ],
        },
        { maxItemCount: Math.min(options.limit, 1000) },
      );
      // A cross-partition page may hold fewer items than asked: read until the limit or the end.
      while (out.length < options.limit && iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        for (const item of resources) if (out.length < options.limit) out.push(toStoredRecord(item));
      }
    } catch (error) {
      throw await this.db.fail(error, `Scanning rows of ${entity}`);
    }
    return out;
  }

  async countRecords(entity: string): Promise<number> {
    const records = await this.db.container(RECORDS_CONTAINER);
    try {
      const { resources } = await records.items
        .query<number>({
          query:
            'SELECT VALUE COUNT(1) FROM c WHERE c.entity = @entity AND c.deleted = false AND NOT IS_DEFINED(c.fence)',
          parameters: [{ name: '@entity', value: entity }],
        })
        .fetchAll();
      return resources.reduce((sum, n) => sum + n, 0);
    } catch (error) {
      throw await this.db.fail(error, `Counting rows of ${entity}`);
    }
  }

  async findRecordsByAttribute(
    entity: string,
    attribute: string | null,
    values: readonly string[],
  ): Promise<StoredRecord[]> {
    const lookup = attributeLookup(attribute, values);
    if (lookup.wanted.size === 0) return [];
    const records = await this.db.container(RECORDS_CONTAINER);
    const base = 'SELECT * FROM c WHERE c.entity = @entity AND c.deleted = false AND NOT IS_DEFINED(c.fence)';
    // Lower-casing may differ from JavaScript's outside ASCII, and odd names cannot be inlined:
    // such lookups read the whole entity; the exact comparison below decides either way.
    const field =
      attribute === null
        ? 'c.recordId'
        : isPlainAttributeName(attribute)
          ? `c.attributes.${attribute}`
          : null;
    const queries =
      lookup.needsScan || field === null
        ? [{ query: base, parameters: [{ name: '@entity', value: entity }] }]
        : chunksOf([...lookup.wanted], LOOKUP_VALUES_PER_QUERY).map((chunk) => ({
            query: `${base} AND ARRAY_CONTAINS(@values, LOWER(${field}))`,
            parameters: [
              { name: '@entity', value: entity },
              { name: '@values', value: chunk },
            ],
          }));
    const out: StoredRecord[] = [];
    try {
      for (const query of queries) {
        const { resources } = await records.items.query<RecordItem>(query).fetchAll();
        for (const item of resources) {
          const record = toStoredRecord(item);
          if (lookup.matches(record)) out.push(record);
        }
      }
    } catch (error) {
      throw await this.db.fail(error, `Looking up rows of ${entity} by ${attribute ?? 'id'}`);
    }
    return out;
  }

  async readChanges(cursor: string | undefined, limit: number): Promise<ChangePage> {
    const from = parseCursor(cursor);
    assertLimit(limit);
    const records = await this.db.container(RECORDS_CONTAINER);
    const sequence = await this.sequence();
    const page = await this.readSettledChanges(records, sequence, from, limit);
    return { records: page.records, cursor: `${CURSOR_PREFIX}${page.position}`, more: page.more };
  }

  async headCursor(): Promise<string> {
    const records = await this.db.container(RECORDS_CONTAINER);
    const sequence = await this.sequence();
    // Walks from the watermark (a prefix readers already passed) to the first change not yet settled.
    const start = await sequence.watermark();
    let position = start;
    for (;;) {
      const page = await this.readSettledChanges(records, sequence, position, 500);
      position = page.position;
      if (!page.more) break;
    }
    if (position > start) await sequence.advanceWatermark(position);
    return `${CURSOR_PREFIX}${position}`;
  }

  /** The change sequence of this tenant (exposed for tests of the gap protocol). */
  async sequence(): Promise<ChangeSequence> {
    const changes = await this.db.container(CHANGES_CONTAINER);
    return new ChangeSequence(changes, this.clock, this.gapTimeoutMs, (error, what) =>
      this.db.fail(error, what),
    );
  }

  /**
   * Reads changes after `from` (reader side of change-sequence.ts): each claimed marker is passed
   * only once its row is seen at that seq or later; a row seen at a later seq is returned there.
   */
  private async readSettledChanges(
    records: Container,
    sequence: ChangeSequence,
    from: number,
    limit: number,
  ): Promise<{ records: StoredRecord[]; position: number; more: boolean }> {
    // The rows to return, in change order: a row returned once, at its latest change.
    const found = new Map<string, StoredRecord>();
    let position = from;
    for (;;) {
      const wanted = limit - found.size;
      const claimed: ChangeMarker[] = [];
      // One marker per row to read, by row key.
      const toRead = new Map<string, ChangeMarker>();
      const walk = await sequence.walk(position, (marker) => {
        if (marker.state === 'claimed') {
          const key = itemKey(marker.entity as string, marker.recordId as string);
          if (!toRead.has(key) && !found.has(key) && toRead.size >= wanted) return false;
          toRead.set(key, marker);
        }
        claimed.push(marker);
        return true;
      });
      const rows = new Map(
        await mapConcurrently([...toRead], REQUEST_CONCURRENCY, async ([key, m]) => {
          return [key, await this.readRecordItem(records, m.entity as string, m.recordId as string)] as const;
        }),
      );

      let blockedAt: { marker: ChangeMarker; row: RecordItem | undefined } | undefined;
      for (const marker of claimed) {
        if (marker.state === 'void') {
          position = marker.seq;
          continue;
        }
        const key = itemKey(marker.entity as string, marker.recordId as string);
        const row = rows.get(key);
        if (row === undefined || row.fence === true || row.seq < marker.seq) {
          // The row write of this claim has not landed: wait here (or fence it once timed out).
          blockedAt = { marker, row };
          break;
        }
        if (row.seq === marker.seq) {
          found.delete(key);
          found.set(key, toStoredRecord(row));
        }
        position = marker.seq;
      }
      if (blockedAt !== undefined) {
        const { marker, row } = blockedAt;
        if (await sequence.waitedPastTimeout(marker.seq)) {
          await this.fenceClaim(records, sequence, marker, row);
          continue;
        }
        return { records: [...found.values()], position, more: false };
      }
      if (walk.stop !== 'visitor') return { records: [...found.values()], position, more: false };
      if (found.size >= limit) return { records: [...found.values()], position, more: true };
    }
  }

  /**
   * A claim whose row write never landed (the writer crashed or stalls): change the row's etag so
   * the writer's IfMatch write can no longer land with that seq, then void the seq. If the row
   * changed meanwhile, nothing is done: the reader looks again.
   */
  private async fenceClaim(
    records: Container,
    sequence: ChangeSequence,
    marker: ChangeMarker,
    seen: RecordItem | undefined,
  ): Promise<void> {
    const entity = marker.entity as string;
    const id = marker.recordId as string;
    const key = itemKey(entity, id);
    try {
      if (seen === undefined) {
        const fence: RecordItem = {
          id: key,
          pk: key,
          entity,
          recordId: id,
          version: '0',
          deleted: true,
          attributes: {},
          updatedAt: this.clock.now().toISOString(),
          seq: 0,
          fence: true,
        };
        await records.items.create<RecordItem>(fence);
      } else {
        const { _etag: etag, ...content } = seen;
        await records.item(key, key).replace<RecordItem>(withoutSystemFields(content), {
          accessCondition: { type: 'IfMatch', condition: etag ?? '' },
        });
      }
    } catch (error) {
      const status = cosmosStatusOf(error);
      if (status === 409 || status === 412) return;
      throw await this.db.fail(error, `Fencing change ${marker.seq} of ${entity}/${id}`);
    }
    await sequence.abandon(marker.seq);
  }

  /**
   * Claims a seq for a row's planned state and stores it (change-sequence.ts, writer steps 3–4).
   * Returns the plan that was finally stored: a lost race re-reads the row and plans again.
   */
  /**
   * Writes the rows of a chunk with bulk requests: one range of seqs, one bulk create of their markers
   * (step 3 of change-sequence.ts), then one bulk replace/create of the rows whose seq was claimed, each
   * IfMatch its etag (step 4). A row whose claim or write did not go through in bulk continues on its
   * own in {@link persistRow}: a voided seq is replaced, a lost race re-read and decided again, and an
   * unknown outcome (throttled, or the bulk request failed) retried as a single request.
   */
  private async persistRows(
    records: Container,
    sequence: ChangeSequence,
    rows: readonly { plan: RowPlan; etag: string | undefined }[],
  ): Promise<RowPlan[]> {
    const firstSeq = await sequence.allocate(rows.length);
    const writes = rows.map(({ plan, etag }, i) => ({ record: plan.next!, etag, seq: firstSeq + i }));
    const claims = await sequence.claimMany(
      writes.map(({ record, seq }) => ({ seq, entity: record.entity, recordId: record.id })),
    );
    const claimed = writes.flatMap((write, i) => (claims[i] === true ? [i] : []));
    const outcomes = new Array<BulkWriteOutcome>(rows.length);
    const written = await this.writeRowsBulk(
      records,
      claimed.map((i) => writes[i]!),
    );
    claimed.forEach((i, j) => (outcomes[i] = written[j]));
    return mapConcurrently(rows, REQUEST_CONCURRENCY, async ({ plan, etag }, i) => {
      const seq = firstSeq + i;
      const claim = claims[i];
      if (claim !== true) {
        // A reader voided the seq first (false), or the claim's outcome is unknown: then the marker may
        // exist as this row's claim, so it is voided. Either way the row goes on with a new seq.
        if (claim === undefined) await sequence.abandon(seq);
        return this.persistRow(records, sequence, plan, etag, await sequence.allocate(1));
      }
      const outcome = outcomes[i];
      if (outcome === 'written') return plan;
      if (outcome === 'lost-race') return this.persistRow(records, sequence, plan, etag, seq, 'lost-race');
      // Unknown: the write may have landed. The row holds the seq only if it did (seqs are never reused).
      const current = await this.readRecordItem(records, plan.row.entity, plan.row.id);
      if (current?.seq === seq && current.fence !== true) return plan;
      return this.persistRow(records, sequence, plan, etag, seq, 'write');
    });
  }

  /**
   * Writes one row's planned state under seq: claims the seq (`claim`), writes the row IfMatch its etag
   * (`write`: the seq is claimed), and after a lost race (`lost-race`: the seq is claimed and the write
   * refused) voids the seq, reads the row again, decides its writes again and starts over.
   */
  private async persistRow(
    records: Container,
    sequence: ChangeSequence,
    initialPlan: RowPlan,
    initialEtag: string | undefined,
    initialSeq: number,
    start: 'claim' | 'write' | 'lost-race' = 'claim',
  ): Promise<RowPlan> {
    let plan = initialPlan;
    let etag = initialEtag;
    let seq = initialSeq;
    let stage = start;
    for (;;) {
      if (stage === 'lost-race') {
        await sequence.abandon(seq);
        const current = await this.readRow(records, plan.row.entity, plan.row.id);
        plan = planRowWrites(plan.row, current.record, this.clock.now());
        etag = current.etag;
        if (plan.next === undefined) return plan;
        seq = await sequence.allocate(1);
        stage = 'claim';
      }
      const next = plan.next;
      if (next === undefined) return plan;
      if (stage === 'claim' && !(await sequence.claim(seq, next.entity, next.id))) {
        // A reader voided the seq while we were slow: take a new one.
        seq = await sequence.allocate(1);
        continue;
      }
      if ((await this.writeRow(records, next, seq, etag)) !== 'lost-race') return plan;
      stage = 'lost-race';
    }
  }

  /**
   * Bulk replace (IfMatch the etag read) or create of rows whose seqs are claimed, 100 operations per
   * request. Per row: `written`, `lost-race` (409/412: another writer or a reader's fence came first),
   * or undefined when the outcome is not known (any other status, or the request failed).
   */
  private async writeRowsBulk(
    records: Container,
    writes: readonly { record: StoredRecord; etag: string | undefined; seq: number }[],
  ): Promise<BulkWriteOutcome[]> {
    const outcomes = new Array<BulkWriteOutcome>(writes.length);
    const batches = chunksOf(
      writes.map((_, i) => i),
      BULK_READ_SIZE,
    );
    await mapConcurrently(batches, REQUEST_CONCURRENCY, async (indexes) => {
      const operations: OperationInput[] = indexes.map((i) => {
        const { record, etag, seq } = writes[i]!;
        const item = toRecordItem(record, seq);
        return etag === undefined
          ? { operationType: 'Create', partitionKey: item.pk, resourceBody: item }
          : {
              operationType: 'Replace',
              id: item.id,
              partitionKey: item.pk,
              ifMatch: etag,
              resourceBody: item,
            };
      });
      try {
        const responses = await records.items.bulk(operations, { continueOnError: true });
        responses.forEach((response, j) => {
          const status = response.statusCode;
          outcomes[indexes[j]!] =
            status === 200 || status === 201
              ? 'written'
              : status === 409 || status === 412
                ? 'lost-race'
                : undefined;
        });
      } catch {
        // Outcomes unknown: each row is checked and written on its own, which reports a real failure.
      }
    });
    return outcomes;
  }

  /** Replaces the row if it still has `etag` (creates it when there was none); returns the new etag. */
  private async writeRow(
    records: Container,
    record: StoredRecord,
    seq: number,
    etag: string | undefined,
  ): Promise<{ etag: string } | 'lost-race'> {
    const item = toRecordItem(record, seq);
    const key = item.id;
    try {
      const { resource } =
        etag === undefined
          ? await records.items.create<RecordItem>(item)
          : await records
              .item(key, key)
              .replace<RecordItem>(item, { accessCondition: { type: 'IfMatch', condition: etag } });
      const newEtag = resource?._etag;
      if (newEtag === undefined)
        throw new AppError('Unavailable', 'Cosmos DB returned no etag after a write');
      return { etag: newEtag };
    } catch (error) {
      const status = cosmosStatusOf(error);
      // 409: created concurrently; 412: replaced concurrently. Either way: re-read and decide again.
      if (status === 409 || status === 412) return 'lost-race';
      throw await this.db.fail(error, `Writing ${record.entity}/${record.id}`);
    }
  }

  /**
   * Reads many rows with bulk point reads (one request per 100 rows instead of one per row). A row
   * whose bulk read answered anything but 200 or 404 (throttled, say), or every row when the bulk
   * request itself fails, is read again on its own, so retries and the not-provisioned check stay
   * those of a single read.
   */
  private async readRows(
    records: Container,
    rows: readonly { entity: string; id: string }[],
  ): Promise<CurrentRow[]> {
    const current = new Array<CurrentRow | undefined>(rows.length);
    const batches: number[][] = [];
    for (let start = 0; start < rows.length; start += BULK_READ_SIZE) {
      batches.push(rows.slice(start, start + BULK_READ_SIZE).map((_, i) => start + i));
    }
    await mapConcurrently(batches, REQUEST_CONCURRENCY, async (indexes) => {
      const operations: OperationInput[] = indexes.map((i) => {
        const key = itemKey(rows[i]!.entity, rows[i]!.id);
        return { operationType: 'Read', id: key, partitionKey: key };
      });
      try {
        // `bulk` sends at once; `executeBulkOperations` waits for a flush timer (about 1 s) first.
        const responses = await records.items.bulk(operations, { continueOnError: true });
        responses.forEach((response, j) => {
          const index = indexes[j]!;
          if (response.statusCode === 404) current[index] = { record: undefined, etag: undefined };
          else if (response.statusCode === 200 && response.resourceBody !== undefined) {
            const item = response.resourceBody as unknown as RecordItem;
            // The etag a later IfMatch must match: the response's, else the item's own.
            current[index] = toCurrentRow({ ...item, _etag: response.eTag ?? item._etag });
          }
        });
      } catch {
        // Left unread: each row is read on its own below, which reports a real failure precisely.
      }
    });
    return mapConcurrently(rows, REQUEST_CONCURRENCY, async (row, i) => {
      return current[i] ?? (await this.readRow(records, row.entity, row.id));
    });
  }

  private async readRow(records: Container, entity: string, id: string): Promise<CurrentRow> {
    const item = await this.readRecordItem(records, entity, id);
    return item === undefined ? { record: undefined, etag: undefined } : toCurrentRow(item);
  }

  private async readRecordItem(
    records: Container,
    entity: string,
    id: string,
  ): Promise<RecordItem | undefined> {
    const key = itemKey(entity, id);
    try {
      const response = await records.item(key, key).read<RecordItem>();
      if (response.resource === undefined) {
        await this.db.confirmsMissingItem(response);
        return undefined;
      }
      return response.resource;
    } catch (error) {
      throw await this.db.fail(error, `Reading ${entity}/${id}`);
    }
  }
}

/** The item without the properties Cosmos adds (`_rid`, `_self`, `_ts`, `_attachments`). */
function withoutSystemFields(item: Omit<RecordItem, '_etag'>): RecordItem {
  const { _rid, _self, _ts, _attachments, ...content } = item as RecordItem & Record<string, unknown>;
  void [_rid, _self, _ts, _attachments];
  return content;
}

/** How a row's state is stored at seq. */
function toRecordItem(record: StoredRecord, seq: number): RecordItem {
  const key = itemKey(record.entity, record.id);
  return {
    id: key,
    pk: key,
    entity: record.entity,
    recordId: record.id,
    version: record.version,
    deleted: record.deleted,
    attributes: record.attributes,
    updatedAt: record.updatedAt,
    seq,
  };
}

/** A fence is no row, but its etag is what the next write must match. */
function toCurrentRow(item: RecordItem): CurrentRow {
  return { record: item.fence === true ? undefined : toStoredRecord(item), etag: item._etag };
}

function toStoredRecord(item: RecordItem): StoredRecord {
  return {
    entity: item.entity,
    id: item.recordId,
    version: item.version,
    deleted: item.deleted,
    attributes: item.attributes,
    updatedAt: item.updatedAt,
  };
}

function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

function parseCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^cs1:(\d{1,15})$/.exec(cursor);
  if (match?.[1] === undefined) {
    throw new AppError('ValidationFailed', 'The change cursor is not valid.', {
      details: [{ path: 'cursor', message: 'not a cursor of this store' }],
    });
  }
  return Number(match[1]);
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new AppError('ValidationFailed', 'The page limit must be a positive whole number.', {
      details: [{ path: 'limit', message: 'a positive whole number' }],
    });
  }
}
