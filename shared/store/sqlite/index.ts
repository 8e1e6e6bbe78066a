/** The SQLite adapter of the Store port: the local host's default store. */
export { createSqliteStore, type SqliteStoreOptions } from './sqlite-store';
