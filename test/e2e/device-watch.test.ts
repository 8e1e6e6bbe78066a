import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

const repoRoot = join(__dirname, '..', '..');
/** The interval the proxy puts in download answers instead of the tenant's (at least 300 s). */
const INTERVAL_SECONDS = 1;

/**
 * A proxy in front of the local host that answers every download with `nextSyncSeconds` set to
 * `INTERVAL_SECONDS`, so a watching device's interval takes seconds rather than the tenant's five
 * minutes or more; it records when each download came.
 */
async function startIntervalProxy(
  target: string,
): Promise<{ url: string; downloads: number[]; server: Server }> {
  const downloads: number[] = [];
  const server = createServer((req, res) => {
    const isDownload = req.method === 'POST' && /\/download$/.test(req.url ?? '');
    if (isDownload) downloads.push(performance.now());
    const headers = { ...req.headers };
    delete headers['accept-encoding']; // plain JSON, so the proxy can rewrite it
    delete headers.host;
    const upstream = request(new URL(req.url ?? '/', target), { method: req.method, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        let body = Buffer.concat(chunks);
        if (isDownload && answer.statusCode === 200) {
          const page = JSON.parse(body.toString('utf8')) as { nextSyncSeconds: number };
          page.nextSyncSeconds = INTERVAL_SECONDS;
          body = Buffer.from(JSON.stringify(page));
        }
        const { 'content-length': _length, 'transfer-encoding': _encoding, ...rest } = answer.headers;
        res.writeHead(answer.statusCode ?? 502, { ...rest, 'content-length': body.length });
        res.end(body);
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, downloads, server };
}

/** Runs `local/cli.ts` from its sources as its own process, as `npm run device` would run its build. */
function runCli(args: string[], env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn(
    process.execPath,
    ['--no-deprecation', join(repoRoot, 'test/support/run-ts.mjs'), join(repoRoot, 'local/cli.ts'), ...args],
    { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return Object.assign(child, { output: () => output });
}

async function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** `npm run device -- --watch` as its own process: it stays alive and syncs until told to stop. */
describe('device simulator --watch, as a process', () => {
  let f: HostFixture;
  let proxy: Awaited<ReturnType<typeof startIntervalProxy>>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    f = await startHostFixture();
    proxy = await startIntervalProxy(f.host.url);
  });
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
    await f.close();
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'syncs at the interval download answers give until %s, then exits 0',
    async (signal) => {
      const before = proxy.downloads.length;
      const user = signal === 'SIGTERM' ? 'judy' : 'niaj';
      const child = runCli(['device', '--org', 'contoso', '--user', user, '--watch', '--url', proxy.url], {
        DATA_DIR: f.dataDir,
      });
      children.push(child);
      const exited = exitOf(child);
      // The first sync, then at least two more, one interval apart: the process did not exit after
      // printing "Watching".
      await until(
        () => proxy.downloads.length >= before + 3 || child.exitCode !== null,
        'three downloads',
        20_000,
      );
      expect(child.exitCode).toBeNull();
      const times = proxy.downloads.slice(before);
      for (let i = 1; i < times.length; i++) {
        expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(INTERVAL_SECONDS * 1000 - 50);
      }
      expect(child.output()).toMatch(`Watching: syncing every ${INTERVAL_SECONDS} s`);
      expect(child.output().match(new RegExp(`^Synced ${user} `, 'gm'))?.length).toBeGreaterThanOrEqual(2);

      child.kill(signal);
      expect(await exited).toEqual({ code: 0, signal: null });
    },
    40_000,
  );
});
