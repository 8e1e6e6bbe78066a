import type { Container, OperationInput, SqlParameter } from '@azure/cosmos';
import { AppError, isAppError } from '../../errors';
import type { Clock } from '../../clock';
import type { StoredRecord } from '../../model/record';
import type {
  ChangePage,
  ChangeScope,
  ProbeIdPage,
  ProbePage,
  ReadMeter,
  RecordProbe,
  RecordWrite,
  RecordWriteResult,
  TenantStore,
} from '../port';
import { changeKeys, probeMatches } from '../record-keys';
import { formatChangeCursor, epochHour, oldestValidHour, parseChangeCursor } from './change-cursor';
import { ChangeSequence, markerFilter } from './change-sequence';
import type { ChangeMarker } from './change-sequence';
import { CosmosDocStore } from './cosmos-doc-store';
import { cosmosStatusOf } from './cosmos-errors';
import type { DatabaseAccess } from './database-access';
import { CHANGES_CONTAINER, DOCS_CONTAINER, itemKey, RECORDS_CONTAINER } from './layout';
import { mapConcurrently } from './map-concurrently';
import { ReadCounter } from './read-counter';
import type { ReadKind } from './read-counter';
import { RECORD_PROJECTION, toRecordItem, toStoredRecord, withoutSystemFields } from './record-item';
import type { ProjectedRecord, RecordItem } from './record-item';
import { decodeProbePosition, encodeProbePosition, probeQueries } from './record-queries';
import type { ProbeQueries } from './record-queries';
import { groupWritesByRow, planRowWrites } from './record-write-plan';
import type { RowPlan, RowWrites } from './record-write-plan';

/** What a bulk row write did: undefined when it is not known. */
type BulkWriteOutcome = 'written' | 'lost-race' | undefined;

interface CurrentRow {
  record: StoredRecord | undefined;
  etag: string | undefined;
}

/** A row's planned change with what it was planned against (etag and state read in step 1). */
interface PlannedRow {
  plan: RowPlan;
  etag: string | undefined;
  before: StoredRecord | undefined;
}

/** The settings of a tenant's store (createCosmosStore's options). */
export interface TenantStoreOptions {
  clock: Clock;
  /** How long a claim may stay unsettled before a settler fences it (change-sequence.ts). */
  gapTimeoutMs: number;
  /** Days markers live (their `ttl`); cursors older than that are refused (change-cursor.ts). */
  changeRetentionDays: number;
}

/** Rows per chunk of a batch: one seq-range allocation and one round of parallel writes each. */
const WRITE_CHUNK_ROWS = 200;
/** Requests in flight per batch: enough to hide latency, few enough not to trip throttling at once. */
const REQUEST_CONCURRENCY = 32;
/** Point reads per bulk request: Cosmos takes at most 100 operations per partition key range. */
const BULK_READ_SIZE = 100;
/** Rows a look-up that has to read the entity (no key serves it) reads per page at least. */
const SCAN_PAGE_ROWS = 1000;
/** Markers a settler reads per query (at most one block partition's part). */
const SETTLE_PAGE = 500;
/** Marker pages one settle reads at most, so a writer's settle stays short; the next goes on. */
const SETTLE_MAX_PAGES = 50;
/** Marker queries one readChanges makes at most (a row changed many times fills pages with repeats). */
const READ_MAX_QUERIES = 4;
const LIVE_ROWS = 'c.entity = @entity AND c.deleted = false';

/** A tenant's documents and rows in its own Cosmos database. */
export class CosmosTenantStore extends CosmosDocStore implements TenantStore {
  private readonly clock: Clock;
  private readonly reads: ReadCounter;

  constructor(
    readonly org: string,
    private readonly db: DatabaseAccess,
    private readonly options: TenantStoreOptions,
    meter?: ReadMeter,
  ) {
    const reads = new ReadCounter(meter);
    super(
      {
        container: () => db.container(DOCS_CONTAINER),
        fail: (error, what) => db.fail(error, what),
        confirmsMissingItem: (response) => db.confirmsMissingItem(response),
      },
      reads,
    );
    this.clock = options.clock;
    this.reads = reads;
  }

  metered(meter: ReadMeter): TenantStore {
    return new CosmosTenantStore(this.org, this.db, this.options, meter);
  }

  async applyRecordWrites(writes: readonly RecordWrite[]): Promise<RecordWriteResult[]> {
    const records = await this.db.container(RECORDS_CONTAINER);
    const sequence = await this.sequence();
    const results = new Array<RecordWriteResult>(writes.length);
    const rows = groupWritesByRow(writes, itemKey);
    // The seqs whose row writes this call saw land: settled without reading the rows again.
    const landed = new Set<number>();
    for (let start = 0; start < rows.length; start += WRITE_CHUNK_ROWS) {
      const chunk = rows.slice(start, start + WRITE_CHUNK_ROWS);
      const current = await this.readRows(records, chunk);
      const plans: PlannedRow[] = chunk.map((row, i) => ({
        plan: planRowWrites(row, current[i]?.record, this.clock.now()),
        etag: current[i]?.etag,
        before: current[i]?.record,
      }));
      const changing = plans.filter(({ plan }) => plan.next !== undefined);
      const changed =
        changing.length === 0 ? [] : await this.persistRows(records, sequence, changing, landed);
      const finalPlans = new Map<RowWrites, RowPlan>(changed.map((plan) => [plan.row, plan]));
      for (const { plan } of plans) {
        for (const { index, result } of (finalPlans.get(plan.row) ?? plan).results) results[index] = result;
      }
    }
    if (landed.size > 0) {
      try {
        await this.settle(records, sequence, landed);
      } catch (error) {
        // The writes stand; a busy service only delays settling to the next writer or recurring settle.
        if (!isAppError(error) || (error.code !== 'Throttled' && error.code !== 'Unavailable')) throw error;
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
    const filters = ['c.entity = @entity', 'NOT IS_DEFINED(c.fence)'];
    if (options.afterId !== undefined) filters.push('c.recordId > @afterId');
    if (options.includeDeleted !== true) filters.push('c.deleted = false');
    const items = await this.queryRecords<ProjectedRecord>(
      `SELECT TOP ${options.limit} ${RECORD_PROJECTION} FROM c WHERE ${filters.join(' AND ')} ORDER BY c.entity, c.recordId`,
      [
        { name: '@entity', value: entity },
        { name: '@afterId', value: options.afterId ?? '' },
      ],
      { limit: options.limit, kind: 'rows' },
      `Scanning rows of ${entity}`,
    );
    return items.map(toStoredRecord);
  }

  async countRecords(
    entity: string,
    probe: RecordProbe = { kind: 'all' },
    options: { upTo?: number } = {},
  ): Promise<number> {
    const { upTo } = options;
    const queries = probeQueries(probe);
    if (queries === undefined) return 0;
    const what = `Counting rows of ${entity}`;
    if (queries.kind === 'scan') {
      // No key serves the probe: read the entity's live rows, only what the probe looks at.
      const { probe: normalized } = queries;
      const value =
        normalized.kind === 'all' || (normalized.kind === 'text' && normalized.attribute === null)
          ? ''
          : `, c.attributes[${JSON.stringify(normalized.attribute)}] AS v`;
      const items = await this.queryRecords<{ recordId: string; v?: unknown }>(
        `SELECT c.recordId${value} FROM c WHERE ${LIVE_ROWS}`,
        [{ name: '@entity', value: entity }],
        { kind: 'rows' },
        what,
      );
      const attribute =
        normalized.kind === 'all' || normalized.attribute === null ? '' : normalized.attribute;
      const found = items.filter((item) =>
        probeMatches(normalized, {
          entity,
          id: item.recordId,
          version: '0',
          deleted: false,
          attributes: item.v === undefined ? {} : { [attribute]: item.v },
          updatedAt: '',
        }),
      ).length;
      return upTo === undefined ? found : Math.min(found, upTo);
    }
    let total = 0;
    for (const chunk of queries.chunks) {
      const where = `${LIVE_ROWS}${chunk.condition === '' ? '' : ` AND ${chunk.condition}`}`;
      const parameters = [{ name: '@entity', value: entity }, ...chunk.parameters];
      if (upTo !== undefined) {
        // Stops after `upTo` index entries: TOP over a projection of nothing but a constant.
        if (total >= upTo) break;
        const ones = await this.queryRecords<number>(
          `SELECT TOP @upTo VALUE 1 FROM c WHERE ${where}`,
          [...parameters, { name: '@upTo', value: upTo - total }],
          { kind: 'none' },
          what,
        );
        total += ones.length;
        continue;
      }
      const counts = await this.queryRecords<number>(
        `SELECT VALUE COUNT(1) FROM c WHERE ${where}`,
        parameters,
        // An index count: no row is read.
        { kind: 'none' },
        what,
      );
      // Partial counts of partition ranges, if the SDK did not add them up.
      total += counts.reduce((sum, n) => sum + n, 0);
    }
    return upTo === undefined ? total : Math.min(total, upTo);
  }

  async findRecords(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
  ): Promise<ProbePage> {
    assertLimit(options.limit);
    const { limit } = options;
    const queries = probeQueries(probe);
    if (queries === undefined) return { records: [], next: undefined };
    const start = decodeProbePosition(entity, queries, options.after);
    const records: StoredRecord[] = [];
    const next = (chunk: number, afterId: string | null): string =>
      encodeProbePosition(entity, queries, { chunk, afterId });
    for (
      let chunk = start.chunk, afterId = start.afterId;
      chunk < queries.chunks.length;
      chunk++, afterId = null
    ) {
      // A scan reads a bounded page of candidates; a keyed query reads only what it may return.
      const top = queries.kind === 'scan' ? Math.max(limit, SCAN_PAGE_ROWS) : limit - records.length;
      const items = await this.probeChunk(entity, queries, chunk, afterId, top);
      for (let i = 0; i < items.length; i++) {
        const record = toStoredRecord(items[i]!);
        // The exact rule decides: a keyed query finds exactly these, a scan finds candidates.
        if (probeMatches(queries.probe, record)) records.push(record);
        if (records.length === limit && i < items.length - 1)
          return { records, next: next(chunk, record.id) };
      }
      // A full answer may have more after it in this chunk.
      if (items.length === top) return { records, next: next(chunk, items[items.length - 1]!.recordId) };
      if (records.length === limit) {
        return { records, next: chunk + 1 < queries.chunks.length ? next(chunk + 1, null) : undefined };
      }
    }
    return { records, next: undefined };
  }

  async findRecordIds(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
  ): Promise<ProbeIdPage> {
    assertLimit(options.limit);
    const queries = probeQueries(probe);
    if (queries === undefined) return { ids: [], next: undefined };
    // A scan's candidates are judged on their attributes: its rows are read, as findRecords does.
    if (queries.kind === 'scan') {
      const page = await this.findRecords(entity, probe, options);
      return { ids: page.records.map((record) => record.id), next: page.next };
    }
    // A keyed query finds exactly its rows: the ids alone, in findRecords' order and positions.
    const { limit } = options;
    const start = decodeProbePosition(entity, queries, options.after);
    const ids: string[] = [];
    for (
      let chunk = start.chunk, afterId = start.afterId;
      chunk < queries.chunks.length;
      chunk++, afterId = null
    ) {
      const top = limit - ids.length;
      const items = await this.probeChunk<{ recordId: string }>(entity, queries, chunk, afterId, top, 'ids');
      for (const item of items) ids.push(item.recordId);
      if (items.length === top)
        return {
          ids,
          next: encodeProbePosition(entity, queries, { chunk, afterId: items[top - 1]!.recordId }),
        };
    }
    return { ids, next: undefined };
  }

  /** Nothing to build: the indexing policy of `records` indexes every key under `/k` (layout.ts). */
  prepareLookups(): Promise<void> {
    return Promise.resolve();
  }

  async readChanges(
    cursor: string | undefined,
    limit: number,
    scopes?: readonly ChangeScope[],
  ): Promise<ChangePage> {
    assertLimit(limit);
    const now = this.clock.now();
    const { retentionDays } = this;
    const from = parseChangeCursor(cursor, now, retentionDays);
    const filter = markerFilter(scopes);
    const sequence = await this.sequence();
    const head = await sequence.watermark();
    // The rows to return, in change order, each once, at its last marker of the page.
    const rows = new Map<string, ChangeMarker>();
    let position = from.position;
    let more = false;
    for (let query = 0; position < head; query++) {
      const wanted = limit - rows.size;
      const markers = await sequence.claimedMarkers(position, head, filter, wanted);
      for (const marker of markers) {
        const key = itemKey(marker.entity as string, marker.recordId as string);
        rows.delete(key);
        rows.set(key, marker);
        position = marker.seq;
      }
      if (markers.length < wanted) {
        // Every wanted marker up to the head has been read.
        position = head;
        break;
      }
      if (rows.size >= limit || query + 1 >= READ_MAX_QUERIES) {
        more = position < head;
        break;
      }
    }
    const records = await this.db.container(RECORDS_CONTAINER);
    const items = await this.readRowItems(
      records,
      [...rows.values()].map((m) => ({ entity: m.entity as string, id: m.recordId as string })),
    );
    // A row the marker names exists at this seq or later (settled); a fence or a gap would be a bug.
    const changed = items.flatMap((item) =>
      item === undefined || item.fence === true ? [] : [toStoredRecord(item)],
    );
    // A full page leaves markers it did not read: those are vouched for only by the cursor's hour.
    const hour = more ? (from.hour ?? oldestValidHour(now, retentionDays)) : epochHour(now);
    return { records: changed, cursor: formatChangeCursor(Math.max(position, from.position), hour), more };
  }

  async headCursor(): Promise<string> {
    const sequence = await this.sequence();
    return formatChangeCursor(await sequence.watermark(), epochHour(this.clock.now()));
  }

  async settleChanges(): Promise<void> {
    const records = await this.db.container(RECORDS_CONTAINER);
    await this.settle(records, await this.sequence(), new Set());
  }

  /** The change sequence of this tenant (exposed for tests of the protocol). */
  async sequence(): Promise<ChangeSequence> {
    const changes = await this.db.container(CHANGES_CONTAINER);
    return new ChangeSequence(
      changes,
      this.clock,
      this.options.gapTimeoutMs,
      this.retentionDays * 24 * 3600,
      (error, what) => this.db.fail(error, what),
      this.reads,
    );
  }

  private get retentionDays(): number {
    return this.options.changeRetentionDays;
  }

  /** One chunk's rows of a probe after `afterId`, in id order, at most `top`. */
  private async probeChunk<T = ProjectedRecord>(
    entity: string,
    queries: ProbeQueries,
    chunk: number,
    afterId: string | null,
    top: number,
    select: 'rows' | 'ids' = 'rows',
  ): Promise<T[]> {
    const { condition, parameters } = queries.chunks[chunk]!;
    const filters = [LIVE_ROWS];
    if (condition !== '') filters.push(condition);
    if (afterId !== null) filters.push('c.recordId > @afterId');
    const projection = select === 'rows' ? RECORD_PROJECTION : 'c.recordId';
    return this.queryRecords<T>(
      `SELECT TOP ${top} ${projection} FROM c WHERE ${filters.join(' AND ')} ORDER BY c.entity, c.recordId`,
      [{ name: '@entity', value: entity }, { name: '@afterId', value: afterId ?? '' }, ...parameters],
      { limit: top, kind: select === 'rows' ? 'rows' : 'keys' },
      `Looking up rows of ${entity}`,
    );
  }

  /** A query on `records`, read page by page (to `limit` items when given), counted as `kind`. */
  private async queryRecords<T>(
    query: string,
    parameters: SqlParameter[],
    options: { limit?: number; kind: ReadKind },
    what: string,
  ): Promise<T[]> {
    const records = await this.db.container(RECORDS_CONTAINER);
    const out: T[] = [];
    try {
      const iterator = records.items.query<T>(
        { query, parameters },
        { maxItemCount: Math.min(options.limit ?? 1000, 1000) },
      );
      // A cross-partition page may hold fewer items than asked: read until the limit or the end.
      while ((options.limit === undefined || out.length < options.limit) && iterator.hasMoreResults()) {
        const response = await iterator.fetchNext();
        this.reads.add(options.kind, response.resources.length, response.requestCharge);
        out.push(...response.resources);
      }
    } catch (error) {
      throw await this.db.fail(error, what);
    }
    return options.limit === undefined ? out : out.slice(0, options.limit);
  }

  /**
   * Moves the watermark over settled seqs (change-sequence.ts, settler), fencing and voiding claims
   * and gaps stalled past the gap timeout. `landed`: seqs whose row writes the caller saw land.
   * Reads at most SETTLE_MAX_PAGES pages of markers; a longer backlog is left to the next settle.
   */
  private async settle(
    records: Container,
    sequence: ChangeSequence,
    landed: ReadonlySet<number>,
  ): Promise<void> {
    const start = await sequence.watermark();
    let position = start;
    for (let page = 0; page < SETTLE_MAX_PAGES; page++) {
      const { markers, missing } = await sequence.markerRun(position, SETTLE_PAGE);
      const unknown = markers.filter((m) => m.state === 'claimed' && !landed.has(m.seq));
      const items = await this.readRowItems(
        records,
        unknown.map((m) => ({ entity: m.entity as string, id: m.recordId as string })),
      );
      const rowAt = new Map(unknown.map((m, i) => [m.seq, items[i]]));
      let blocked: { marker: ChangeMarker; row: RecordItem | undefined } | undefined;
      for (const marker of markers) {
        if (rowAt.has(marker.seq)) {
          const row = rowAt.get(marker.seq);
          if (row === undefined || row.fence === true || row.seq < marker.seq) {
            blocked = { marker, row };
            break;
          }
        }
        position = marker.seq;
      }
      if (blocked !== undefined) {
        if (!(await sequence.waitedPastTimeout(blocked.marker.seq))) break;
        await this.fenceClaim(records, sequence, blocked.marker, blocked.row);
        // Looked at again: void now, or its row changed meanwhile.
        continue;
      }
      if (missing === undefined) continue;
      if ((await sequence.lastAllocated()) < missing) break;
      if (!(await sequence.waitedPastTimeout(missing))) break;
      await sequence.closeGap(missing);
    }
    if (position > start) await sequence.advanceWatermark(position);
  }

  /**
   * A claim whose row write never landed (the writer crashed or stalls): change the row's etag so
   * the writer's IfMatch write can no longer land with that seq, then void the seq. If the row
   * changed meanwhile, nothing is done: the settler looks again.
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
        await records.item(key, key).replace<RecordItem>(withoutSystemFields(seen), {
          accessCondition: { type: 'IfMatch', condition: seen._etag ?? '' },
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
   * Writes the rows of a chunk with bulk requests: one range of seqs, one bulk create of their markers
   * (step 3 of change-sequence.ts), then one bulk replace/create of the rows whose seq was claimed, each
   * IfMatch its etag (step 4). A row whose claim or write did not go through in bulk continues on its
   * own in {@link persistRow}: a voided seq is replaced, a lost race re-read and decided again, and an
   * unknown outcome (throttled, or the bulk request failed) retried as a single request. Adds the seq
   * of every row write that landed to `landed`.
   */
  private async persistRows(
    records: Container,
    sequence: ChangeSequence,
    rows: readonly PlannedRow[],
    landed: Set<number>,
  ): Promise<RowPlan[]> {
    const firstSeq = await sequence.allocate(rows.length);
    const writes = rows.map(({ plan, etag, before }, i) => ({
      record: plan.next!,
      etag,
      seq: firstSeq + i,
      keys: changeKeys(before, plan.next!),
    }));
    const claims = await sequence.claimMany(
      writes.map(({ record, seq, keys }) => ({
        seq,
        change: { entity: record.entity, recordId: record.id, keys },
      })),
    );
    const claimed = writes.flatMap((write, i) => (claims[i] === true ? [i] : []));
    const outcomes = new Array<BulkWriteOutcome>(rows.length);
    const written = await this.writeRowsBulk(
      records,
      claimed.map((i) => writes[i]!),
    );
    claimed.forEach((i, j) => (outcomes[i] = written[j]));
    return mapConcurrently(rows, REQUEST_CONCURRENCY, async (row, i) => {
      const seq = firstSeq + i;
      const claim = claims[i];
      if (claim !== true) {
        // A settler voided the seq first (false), or the claim's outcome is unknown: then the marker
        // may exist as this row's claim, so it is voided. Either way the row goes on with a new seq.
        if (claim === undefined) await sequence.abandon(seq);
        return this.persistRow(records, sequence, row, await sequence.allocate(1), landed);
      }
      const outcome = outcomes[i];
      if (outcome === 'written') {
        landed.add(seq);
        return row.plan;
      }
      if (outcome === 'lost-race') return this.persistRow(records, sequence, row, seq, landed, 'lost-race');
      // Unknown: the write may have landed. The row holds the seq only if it did (seqs are never reused).
      const current = await this.readRecordItem(records, row.plan.row.entity, row.plan.row.id);
      if (current?.seq === seq && current.fence !== true) {
        landed.add(seq);
        return row.plan;
      }
      return this.persistRow(records, sequence, row, seq, landed, 'write');
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
    initial: PlannedRow,
    initialSeq: number,
    landed: Set<number>,
    start: 'claim' | 'write' | 'lost-race' = 'claim',
  ): Promise<RowPlan> {
    let { plan, etag, before } = initial;
    let seq = initialSeq;
    let stage = start;
    for (;;) {
      if (stage === 'lost-race') {
        await sequence.abandon(seq);
        const current = await this.readRow(records, plan.row.entity, plan.row.id);
        plan = planRowWrites(plan.row, current.record, this.clock.now());
        etag = current.etag;
        before = current.record;
        if (plan.next === undefined) return plan;
        seq = await sequence.allocate(1);
        stage = 'claim';
      }
      const next = plan.next;
      if (next === undefined) return plan;
      const change = { entity: next.entity, recordId: next.id, keys: changeKeys(before, next) };
      if (stage === 'claim' && !(await sequence.claim(seq, change))) {
        // A settler voided the seq while we were slow: take a new one.
        seq = await sequence.allocate(1);
        continue;
      }
      if ((await this.writeRow(records, next, seq, etag)) !== 'lost-race') {
        landed.add(seq);
        return plan;
      }
      stage = 'lost-race';
    }
  }

  /**
   * Bulk replace (IfMatch the etag read) or create of rows whose seqs are claimed, 100 operations per
   * request. Per row: `written`, `lost-race` (409/412: another writer or a settler's fence came first),
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

  private async readRows(
    records: Container,
    rows: readonly { entity: string; id: string }[],
  ): Promise<CurrentRow[]> {
    const items = await this.readRowItems(records, rows);
    return items.map((item) =>
      item === undefined ? { record: undefined, etag: undefined } : toCurrentRow(item),
    );
  }

  /**
   * Reads many row items with bulk point reads (one request per 100 rows instead of one per row). A
   * row whose bulk read answered anything but 200 or 404 (throttled, say), or every row when the bulk
   * request itself fails, is read again on its own, so retries and the not-provisioned check stay
   * those of a single read. Each item carries the etag a later IfMatch must match.
   */
  private async readRowItems(
    records: Container,
    rows: readonly { entity: string; id: string }[],
  ): Promise<(RecordItem | undefined)[]> {
    const current = new Array<{ item: RecordItem | undefined } | undefined>(rows.length);
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
          if (response.statusCode === 404) {
            this.reads.add('rows', 0, response.requestCharge);
            current[index] = { item: undefined };
          } else if (response.statusCode === 200 && response.resourceBody !== undefined) {
            this.reads.add('rows', 1, response.requestCharge);
            const item = response.resourceBody as unknown as RecordItem;
            // The etag a later IfMatch must match: the response's, else the item's own.
            current[index] = { item: { ...item, _etag: response.eTag ?? item._etag } };
          }
        });
      } catch {
        // Left unread: each row is read on its own below, which reports a real failure precisely.
      }
    });
    return mapConcurrently(rows, REQUEST_CONCURRENCY, async (row, i) => {
      const read = current[i];
      return read === undefined ? await this.readRecordItem(records, row.entity, row.id) : read.item;
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
      this.reads.add('rows', response.resource === undefined ? 0 : 1, response.requestCharge);
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

/** A fence is no row, but its etag is what the next write must match. */
function toCurrentRow(item: RecordItem): CurrentRow {
  return { record: item.fence === true ? undefined : toStoredRecord(item), etag: item._etag };
}

function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new AppError('ValidationFailed', 'The page limit must be a positive whole number.', {
      details: [{ path: 'limit', message: 'a positive whole number' }],
    });
  }
}
