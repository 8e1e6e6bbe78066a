/**
 * `@offline-sync/client/web`: the browser `LocalStore`, SQLite in WebAssembly on the origin private
 * file system, in a dedicated worker (`@offline-sync/client/web-worker`). Kept out of the main entry:
 * the page side is small, but an app that does not use it should not bundle it.
 */
export {
  openWebLocalStore,
  type WebLocalStore,
  type WebLocalStoreOptions,
  type WebStoreWorker,
} from './web-local-store';
export type { WebStorePersistence } from './web-store-protocol';
