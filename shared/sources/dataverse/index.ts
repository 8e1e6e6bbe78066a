/** The Dataverse Source adapter's public face. */
export { createDataverseSource } from './dataverse-source';
export type { DataverseSourceOptions } from './dataverse-source';
export { dataverseTokenProvider, dataverseScope } from './token-provider';
export type { DataverseTokenProviderOptions } from './token-provider';
export {
  normalizeRemoteExecutionContext,
  remoteExecutionContextSchema,
  convertWcfValue,
} from './remote-execution-context';
export type { RemoteExecutionContext, RemoteSourceChange } from './remote-execution-context';
export { EXPIRED_VERSION_STAMP } from './change-reader';
