import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '../../local/http-server';

const repoRoot = join(__dirname, '..', '..');

/**
 * With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the local host exports its traces and metrics over
 * OTLP/HTTP to that collector (issue 18). The host runs as `npm start` runs it (its own process: the
 * OTLP exporters load their transport with a dynamic import, which jest's sandbox refuses); a
 * collector stand-in on a loopback port receives a request's spans and the request metrics, which
 * the host flushes when it stops.
 */
describe('OTLP export from the local host', () => {
  const received: { path: string; body: string }[] = [];
  let collector: Server;
  let port: number;
  const dataDir = mkdtempSync(join(tmpdir(), 'offline-sync-otlp-'));

  beforeAll(async () => {
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    port = await listen(collector, 0);
  });
  afterAll(async () => {
    await new Promise((resolve) => collector.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends the spans and metrics of a request to <endpoint>/v1/traces and /v1/metrics', async () => {
    const host = spawn(
      process.execPath,
      [join(repoRoot, 'test/support/run-ts.mjs'), join(repoRoot, 'local/host.ts')],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? '',
          DATA_DIR: dataDir,
          PORT: '0',
          DEMO_TENANT: 'false',
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    host.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      host.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      host.once('exit', (code) =>
        reject(new Error(`the host exited (${String(code)}) before listening:\n${output}`)),
      );
    });
    const exited = new Promise<number | null>((resolve) => host.once('exit', resolve));
    const res = await fetch(`${url}/api/health`);
    expect(res.status).toBe(200);
    host.kill('SIGTERM');
    expect(await exited).toBe(0);

    const traces = received.filter((r) => r.path === '/v1/traces').map((r) => r.body);
    expect(traces.some((body) => body.includes('"GET /api/health"'))).toBe(true);
    expect(traces.some((body) => body.includes(res.headers.get('x-trace-id')!))).toBe(true);
    const metrics = received.filter((r) => r.path === '/v1/metrics').map((r) => r.body);
    expect(metrics.some((body) => body.includes('"http.server.request.duration"'))).toBe(true);
    // The request's log line carries the same trace id.
    expect(output).toContain(`"traceId":"${res.headers.get('x-trace-id')}"`);
  });
});
