/**
 * `@offline-sync/client/sqlite`: the better-sqlite3 `LocalStore` for Node.js and Electron (a native
 * module: kept out of the main entry, which runs everywhere).
 */
export {
  createSqliteLocalStore,
  type SqliteLocalStore,
  type SqliteLocalStoreOptions,
} from './sqlite-local-store';
