import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueLocalToken, loadOrCreateLocalSigningKey } from '../../shared/auth/local-signing-key';
import { ADMIN_ROLE } from '../../shared/auth/principal';
import { startLocalHost, type LocalHost, type LocalHostOptions } from '../../local/host';
import { contractChecker } from './openapi-contract';

export interface HostFixture {
  host: LocalHost;
  dataDir: string;
  /** Signs a token with this data folder's key. */
  token(claims: { oid: string; tid: string; roles?: string[] }): Promise<string>;
  operatorToken(): Promise<string>;
  request(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are asserted by the tests, not trusted
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /**
   * `fetch` that checks every answer against the OpenAPI document (status listed, body matching its
   * schema); `request` and the devices' SDK clients use it. An answer the document does not describe
   * fails `request` at once and `close` in any case (the SDK retries what `fetch` throws).
   */
  fetch: typeof fetch;
  /** The answers the document did not describe so far. */
  contractViolations: string[];
  /**
   * Stops the host and deletes the data folder (`keepData`: leaves it for a restarted host); fails
   * when an answer did not match the OpenAPI document.
   */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * Starts the local host on a free loopback port over a fresh data folder (or over `dataDir`, to
 * restart a host on the data a closed one left); `host` adds host options such as a source factory.
 */
export async function startHostFixture(
  env: Record<string, string> = {},
  options: {
    dataDir?: string;
    host?: Omit<LocalHostOptions, 'log' | 'workerPollMs'>;
    /** Where the host's lines go (default: nowhere). */
    log?: (line: string) => void;
  } = {},
): Promise<HostFixture> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'offline-sync-e2e-'));
  const host = await startLocalHost(
    { DATA_DIR: dataDir, PORT: '0', DEMO_ROWS: '300', ...env },
    { ...options.host, log: options.log ?? (() => undefined), workerPollMs: 20 },
  );
  const key = await loadOrCreateLocalSigningKey(dataDir);
  const token = (claims: { oid: string; tid: string; roles?: string[] }): Promise<string> =>
    issueLocalToken(key, { roles: [], ...claims });
  const contract = contractChecker();
  const contractViolations: string[] = [];
  const checkedFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const violation = contract.check({
      method: init?.method ?? (input instanceof Request ? input.method : 'GET'),
      path: url,
      status: response.status,
      contentType: response.headers.get('content-type'),
      text: await response.clone().text(),
    });
    if (violation !== undefined) contractViolations.push(violation);
    return response;
  };
  return {
    host,
    dataDir,
    token,
    fetch: checkedFetch,
    contractViolations,
    operatorToken: () =>
      token({
        oid: '00000000-0000-4000-8000-000000000001',
        tid: host.settings.OPERATOR_TENANT_ID,
        roles: [ADMIN_ROLE],
      }),
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      const violations = contractViolations.length;
      const response = await checkedFetch(`${host.url}${path}`, { method, headers, body });
      if (contractViolations.length > violations) throw new Error(contractViolations.at(-1));
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON: leave the text for the assertion to show.
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    async close(closeOptions = {}) {
      await host.close();
      if (!closeOptions.keepData) rmSync(dataDir, { recursive: true, force: true });
      if (contractViolations.length > 0) {
        throw new Error(`answers the OpenAPI document does not describe:\n${contractViolations.join('\n')}`);
      }
    },
  };
}
