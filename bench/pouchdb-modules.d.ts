// Minimal typings for the PouchDB packages the peer workload uses (they ship none).
declare module 'pouchdb-core' {
  interface PouchDatabase {
    bulkDocs(docs: object[]): Promise<unknown[]>;
    info(): Promise<{ doc_count: number }>;
    destroy(): Promise<void>;
    close(): Promise<void>;
  }
  interface PouchConstructor {
    new (name: string, options?: Record<string, unknown>): PouchDatabase;
    plugin(plugin: unknown): PouchConstructor;
    prototype: { changes(this: unknown, opts?: Record<string, unknown>, ...rest: unknown[]): unknown };
    defaults(options: Record<string, unknown>): PouchConstructor;
    replicate(
      source: PouchDatabase,
      target: PouchDatabase,
      options?: Record<string, unknown>,
    ): Promise<{ ok: boolean; docs_written: number; docs_read: number }>;
  }
  const PouchDB: PouchConstructor;
  export = PouchDB;
}
declare module 'pouchdb-adapter-memory';
declare module 'pouchdb-adapter-http';
declare module 'pouchdb-replication';
declare module 'pouchdb-mapreduce';
declare module 'pouchdb-find';
declare module 'express-pouchdb' {
  import type { RequestListener } from 'node:http';
  function expressPouchDB(pouch: unknown, options?: Record<string, unknown>): RequestListener;
  export = expressPouchDB;
}
