import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import expressPouchDB from 'express-pouchdb';
import PouchDB from 'pouchdb-core';
import pouchFind from 'pouchdb-find';
import pouchHttp from 'pouchdb-adapter-http';
import pouchMapReduce from 'pouchdb-mapreduce';
import pouchMemory from 'pouchdb-adapter-memory';
import pouchReplication from 'pouchdb-replication';
import { buildDemoDirectory, REFERENCE_ENTITIES } from '../local/demo/demo-directory';
import { generateDemoRecords } from '../local/demo/demo-records';
import { atMost, figure } from './bench-figure';
import type { BenchContext } from './bench-context';
import { BENCH_SEED } from './host-process';
import type { InitialDownloadResult } from './initial-download-workload';

// plugin() extends PouchDB itself, so the plugins are registered once, for server and client alike.
const Pouch = PouchDB.plugin(pouchMemory)
  .plugin(pouchHttp)
  .plugin(pouchMapReduce)
  .plugin(pouchReplication)
  .plugin(pouchFind);
const LOAD_CHUNK = 2000;
const BATCH_SIZE = 1000;

/**
 * Workload 7: PouchDB replicating the same demo tenant's documents, filtered by a Mango selector
 * equivalent to the manager `bob`'s profile (his business unit's rows and the reference rows), from an
 * express-pouchdb server (memory adapter) on loopback into a PouchDB client (memory adapter) in this
 * process; compared with workload 1's compressed initial download.
 */
export async function runPouchDbPeer(
  context: BenchContext,
  options: { tenantRows: number; ours: InitialDownloadResult },
): Promise<void> {
  context.log(`Workload 7: PouchDB peer with the same ${options.tenantRows}-row demo tenant…`);
  const ServerPouch = Pouch.defaults({ adapter: 'memory' });
  const ClientPouch = Pouch;
  const app = expressPouchDB(ServerPouch, { mode: 'minimumForPouchDB', inMemoryConfig: true });
  // express-pouchdb 4.2 (as pouchdb-server) drops the `selector` a client POSTs to `_changes` with
  // `filter=_selector`; this shim moves it into the query and parses it back for the database.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with call() below
  const changes = ServerPouch.prototype.changes;
  ServerPouch.prototype.changes = function (
    this: unknown,
    opts?: Record<string, unknown>,
    ...rest: unknown[]
  ) {
    const fixed =
      typeof opts?.selector === 'string' ? { ...opts, selector: JSON.parse(opts.selector) as unknown } : opts;
    return changes.call(this, fixed, ...rest);
  };
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || !/\/_changes\?.*filter=_selector/.test(req.url ?? '')) return app(req, res);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { selector?: unknown };
      req.url = `${req.url ?? ''}&selector=${encodeURIComponent(JSON.stringify(body.selector ?? {}))}`;
      // body-parser skips a request whose body is already read.
      Object.assign(req, { body, _body: true });
      app(req, res);
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => sockets.add(socket));
  if (process.env.BENCH_DEBUG)
    server.on('request', (req: { method?: string; url?: string }) => console.error(req.method, req.url));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const source = new ServerPouch('contoso');
  const device = new ClientPouch('bench-device', { adapter: 'memory' });
  try {
    const docs: object[] = [];
    for (const write of generateDemoRecords(buildDemoDirectory(BENCH_SEED), {
      seed: BENCH_SEED,
      rows: options.tenantRows,
      now: new Date(),
    })) {
      docs.push({ _id: `${write.entity}:${write.id}`, entity: write.entity, ...write.attributes });
    }
    for (let i = 0; i < docs.length; i += LOAD_CHUNK) await source.bulkDocs(docs.slice(i, i + LOAD_CHUNK));

    const { port } = server.address() as AddressInfo;
    const remote = new ClientPouch(`http://127.0.0.1:${port}/contoso`);
    const before = [...sockets].reduce((sum, s) => sum + s.bytesWritten, 0);
    const started = performance.now();
    const result = await ClientPouch.replicate(remote, device, {
      selector: {
        $or: [{ owningbusinessunit: 'bu-east' }, { entity: { $in: [...REFERENCE_ENTITIES] } }],
      },
      batch_size: BATCH_SIZE,
    });
    const ms = performance.now() - started;
    const wireBytes = [...sockets].reduce((sum, s) => sum + s.bytesWritten, 0) - before;
    const workload = '7 PouchDB peer';
    const note = `express-pouchdb 4 + pouchdb 9 (memory adapters), ${docs.length} documents, Mango selector for bob's business unit and reference rows, batch_size ${BATCH_SIZE}; PouchDB wrote ${result.docs_written} documents, ours downloaded ${options.ours.rows} rows; wire bytes are everything the server sent, headers included, on both sides`;
    context.figures.push(
      figure({
        workload,
        name: 'PouchDB replication time',
        value: ms,
        unit: 'ms',
        store: 'PouchDB memory',
        note,
      }),
      figure({
        workload,
        name: 'PouchDB wire bytes',
        value: wireBytes,
        unit: 'B',
        store: 'PouchDB memory',
      }),
      figure({
        workload,
        name: 'time ratio ours / PouchDB',
        value: options.ours.clientMs / ms,
        unit: 'x',
        store: 'SQLite vs PouchDB memory',
        goal: atMost(1, 'faster than PouchDB (< 1)'),
      }),
      figure({
        workload,
        name: 'wire bytes ratio ours / PouchDB',
        value: options.ours.wireBytes / wireBytes,
        unit: 'x',
        store: 'SQLite vs PouchDB memory',
      }),
    );
  } finally {
    await device.destroy();
    await source.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
