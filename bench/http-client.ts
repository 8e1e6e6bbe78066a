import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';

/** One answered request: the status, the decoded JSON, and what it cost on the wire and on the server. */
export interface BenchResponse<T> {
  status: number;
  body: T;
  headers: IncomingHttpHeaders;
  /** Body bytes as they crossed the wire (compressed when the server compressed). */
  wireBodyBytes: number;
  /** Body bytes after decompression. */
  bodyBytes: number;
  /** The host's own time for the request, from its `server-timing: app;dur=` header. */
  serverMs: number;
  /** Round trip as the client saw it. */
  clientMs: number;
}

/**
 * A small HTTP client over keep-alive loopback connections that reports wire bytes and server time.
 * (fetch hides the compressed size, so this reads raw bytes and decompresses itself.)
 */
export class BenchHttpClient {
  private readonly agent: Agent;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly baseUrl: string,
    maxSockets = 64,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  /** Every byte the server sent on this client's connections so far (headers included). */
  bytesReceived(): number {
    let total = 0;
    for (const socket of this.sockets) total += socket.bytesRead;
    return total;
  }

  /**
   * Sends JSON (or nothing) and parses the JSON answer; `acceptEncoding` defaults to none, `headers`
   * adds request headers (an ingest key).
   */
  send<T>(
    method: string,
    path: string,
    options: {
      token?: string;
      body?: unknown;
      acceptEncoding?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<BenchResponse<T>> {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string | number> = {
      ...options.headers,
      'accept-encoding': options.acceptEncoding ?? 'identity',
    };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.baseUrl), { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          try {
            const wire = Buffer.concat(chunks);
            const encoding = res.headers['content-encoding'];
            const raw =
              encoding === 'br' ? brotliDecompressSync(wire) : encoding === 'gzip' ? gunzipSync(wire) : wire;
            const timing = /app;dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''));
            resolve({
              status: res.statusCode ?? 0,
              body: (raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined) as T,
              headers: res.headers,
              wireBodyBytes: wire.length,
              bodyBytes: raw.length,
              serverMs: timing ? Number(timing[1]) : Number.NaN,
              clientMs: performance.now() - started,
            });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      });
      req.on('socket', (socket) => this.sockets.add(socket));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy();
  }
}

/** Throws with the answer's body when the status is not the expected one. */
export function expectStatus<T>(response: BenchResponse<T>, status: number, what: string): BenchResponse<T> {
  if (response.status !== status)
    throw new Error(
      `${what}: expected HTTP ${status}, got ${response.status}: ${JSON.stringify(response.body)}`,
    );
  return response;
}
