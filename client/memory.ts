/** `@offline-sync/client/memory`: the in-memory `LocalStore` (tests, short-lived apps, the reference store). */
export { createMemoryLocalStore } from './memory-local-store';
