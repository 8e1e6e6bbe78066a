import type Database from 'better-sqlite3';
import type { Clock } from '../../clock';
import type { StoredRecord } from '../../model/record';
import type {
  ChangePage,
  ChangeScope,
  DocEtag,
  LookupSpec,
  ProbeIdPage,
  ProbePage,
  PutDocOptions,
  ReadMeter,
  RecordProbe,
  RecordWrite,
  RecordWriteResult,
  StoredDoc,
  TenantStore,
} from '../port';
import { SqliteDocStore } from './sqlite-doc-store';
import { SqliteRecordStore, type SqliteRecordStoreOptions } from './sqlite-record-store';

/**
 * One tenant's handle: its documents and rows in `<dataDir>/tenants/<org>.db`. `connect` opens the
 * file on first use and fails with `TenantNotProvisioned` while it does not exist, so a handle taken
 * before a drop fails after it and works again once the database is created anew. A metered handle
 * shares the connection (and its prepared statements) and adds its reads to its meter.
 */
export class SqliteTenantStore implements TenantStore {
  private readonly docs: SqliteDocStore;
  private readonly records: SqliteRecordStore;

  constructor(
    readonly org: string,
    private readonly connect: () => Database.Database,
    private readonly clock: Clock,
    private readonly options: SqliteRecordStoreOptions,
    meter?: ReadMeter,
  ) {
    this.docs = new SqliteDocStore(connect, meter);
    this.records = new SqliteRecordStore(connect, clock, options, meter);
  }

  metered(meter: ReadMeter): TenantStore {
    return new SqliteTenantStore(this.org, this.connect, this.clock, this.options, meter);
  }

  getDoc<T = unknown>(kind: string, id: string): Promise<StoredDoc<T> | undefined> {
    return this.docs.getDoc<T>(kind, id);
  }
  getDocIfChanged<T = unknown>(
    kind: string,
    id: string,
    etag: string,
  ): Promise<StoredDoc<T> | 'unchanged' | undefined> {
    return this.docs.getDocIfChanged<T>(kind, id, etag);
  }
  putDoc<T>(kind: string, id: string, value: T, options?: PutDocOptions): Promise<StoredDoc<T>> {
    return this.docs.putDoc(kind, id, value, options);
  }
  deleteDoc(kind: string, id: string, options?: { ifMatch?: string }): Promise<boolean> {
    return this.docs.deleteDoc(kind, id, options);
  }
  listDocs<T = unknown>(kind: string, options?: { prefix?: string }): Promise<StoredDoc<T>[]> {
    return this.docs.listDocs<T>(kind, options);
  }
  listDocEtags(kind: string, options?: { prefix?: string }): Promise<DocEtag[]> {
    return this.docs.listDocEtags(kind, options);
  }
  applyRecordWrites(writes: readonly RecordWrite[]): Promise<RecordWriteResult[]> {
    return this.records.applyRecordWrites(writes);
  }
  getRecord(entity: string, id: string): Promise<StoredRecord | undefined> {
    return this.records.getRecord(entity, id);
  }
  getRecords(entity: string, ids: readonly string[]): Promise<StoredRecord[]> {
    return this.records.getRecords(entity, ids);
  }
  scanRecords(
    entity: string,
    options: { afterId?: string; limit: number; includeDeleted?: boolean },
  ): Promise<StoredRecord[]> {
    return this.records.scanRecords(entity, options);
  }
  countRecords(entity: string, probe?: RecordProbe, options?: { upTo?: number }): Promise<number> {
    return this.records.countRecords(entity, probe, options);
  }
  findRecords(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
  ): Promise<ProbePage> {
    return this.records.findRecords(entity, probe, options);
  }
  findRecordIds(
    entity: string,
    probe: RecordProbe,
    options: { after?: string; limit: number },
  ): Promise<ProbeIdPage> {
    return this.records.findRecordIds(entity, probe, options);
  }
  prepareLookups(specs: readonly LookupSpec[]): Promise<void> {
    return this.records.prepareLookups(specs);
  }
  readChanges(
    cursor: string | undefined,
    limit: number,
    scopes?: readonly ChangeScope[],
  ): Promise<ChangePage> {
    return this.records.readChanges(cursor, limit, scopes);
  }
  headCursor(): Promise<string> {
    return this.records.headCursor();
  }
  settleChanges(): Promise<void> {
    return this.records.settleChanges();
  }
}
