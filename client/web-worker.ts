/**
 * `@offline-sync/client/web-worker`: the browser store's worker script. Start it as a module worker
 * and hand it to `openWebLocalStore` (`@offline-sync/client/web`); serve `sqlite3.wasm` of
 * `@sqlite.org/sqlite-wasm` next to the bundled script (it is fetched relative to the script's URL).
 */
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { serveWebLocalStore, type WebStoreWorkerScope } from './web-store-worker';

serveWebLocalStore(globalThis as unknown as WebStoreWorkerScope, { loadSqlite: () => sqlite3InitModule() });
