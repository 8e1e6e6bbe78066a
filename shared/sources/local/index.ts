/** The `local` Source adapter: the tenant store acting as system of record. */
export { createLocalSource } from './local-source';
