/**
 * The test pages' server: `tooling/web-page-server.ts` (shared with the bench), under the names the
 * browser tests use.
 */
export {
  startWebPageServer as startWebTestServer,
  type WebPageServer as WebTestServer,
} from '../../../tooling/web-page-server';
