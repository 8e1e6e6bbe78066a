import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_ORG } from '../../local/demo/demo-directory';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

const repoRoot = join(__dirname, '..', '..');

/**
 * The admin CLI (`npm run cli -- provision|stop|deprovision|retry|status|export|import|publish|preview|usage|
 * directory|apps`)
 * run as a child process against a local host: exit codes, `--follow` ending when the run ends, and
 * every failure as one readable line.
 */
describe('admin CLI against the local host', () => {
  let f: HostFixture;
  let folder: string;

  beforeAll(async () => {
    f = await startHostFixture();
    folder = mkdtempSync(join(tmpdir(), 'offline-sync-cli-'));
  });
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await f.close();
  });

  /** Runs `cli.ts` from source (the host runs in this process: never block it). */
  function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['test/support/run-ts.mjs', 'local/cli.ts', ...args],
        {
          cwd: repoRoot,
          env: { ...process.env, DATA_DIR: f.dataDir, OFFLINE_SYNC_TOKEN: '', NODE_NO_WARNINGS: '1' },
        },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      );
    });
  }
  const at = () => ['--org', DEMO_ORG, '--url', f.host.url];

  /** One line, no stack trace. */
  const oneLine = (stderr: string) => {
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  };

  it('status prints the steps and exits 0', async () => {
    const run = await cli('status', ...at());
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^contoso: provisioned/);
  });

  it('previews a draft per user, and publishes it', async () => {
    const preview = await cli('preview', ...at(), '--profile', 'field-sellers');
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/^field-sellers: 17 user\(s\)/);
    expect(preview.stdout).toMatch(/\n {2}dave +\d+ rows/);
    const json = JSON.parse((await cli('preview', ...at(), '--profile', 'field-sellers', '--json')).stdout);
    expect(json.users).toHaveLength(17);

    const publish = await cli('publish', ...at(), '--profile', 'field-sellers');
    expect(publish).toMatchObject({ code: 0, stdout: 'Published field-sellers version 2.\n' });
  });

  it("usage prints the tenant's active devices, rows held and syncs per day (an operator token)", async () => {
    const run = await cli('usage', ...at(), '--days', '2');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^contoso: \d+ device\(s\) synced in the last day, \d+ in 30 days, \d+ in 90$/);
    expect(lines[1]).toMatch(/^ {2}rows held: \d+ in all, at most \d+ on one device$/);
    expect(lines.slice(2)).toHaveLength(2);
    const json = JSON.parse((await cli('usage', ...at(), '--json')).stdout);
    expect(json).toMatchObject({ org: DEMO_ORG, activeDevices: expect.any(Object) });
    expect(json.syncsPerDay).toHaveLength(7);
  }, 60_000);

  it('lists the directory by search and kind, and the apps', async () => {
    const dir = await cli('directory', ...at(), '--search', 'dave', '--kind', 'users');
    expect(dir).toMatchObject({ code: 0, stderr: '' });
    const lines = dir.stdout.trim().split('\n');
    expect(lines[0]).toBe('Users (1):');
    expect(lines[1]).toMatch(/^ {2}\S+ +Dave Seller \(dave\)$/);
    expect(dir.stdout).not.toContain('Teams');
    const apps = JSON.parse((await cli('apps', ...at(), '--json')).stdout) as {
      id: string;
      profiles: string[];
    }[];
    expect(apps.map((a) => a.id)).toContain('field-sales');
    expect(apps.find((a) => a.id === 'field-sales')!.profiles.length).toBeGreaterThan(0);
  }, 60_000);

  it('exports to a file and imports it back, unchanged', async () => {
    const file = join(folder, 'contoso.json');
    expect((await cli('export', ...at(), '--out', file)).code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty('formatVersion');
    const imported = await cli('import', ...at(), '--file', file);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('profile field-sellers: unchanged');
  });

  it('deprovision and provision with --follow end when the run ends', async () => {
    const down = await cli('deprovision', ...at(), '--follow', '--interval', '20');
    expect(down.code).toBe(0);
    expect(down.stdout.trim().split('\n').at(-1)).toBe('contoso: deprovisioned.');
    const up = await cli('provision', ...at(), '--follow', '--interval', '20');
    expect(up.code).toBe(0);
    expect(up.stdout.trim().split('\n').at(-1)).toBe('contoso: provisioned.');
    // The progress went to stderr, ending at 100%; status now lists the run's steps.
    expect(up.stderr).toMatch(/download \[#{20}\] 100\.0%/);
    const status = await cli('status', ...at());
    expect(status.stdout).toMatch(/ {2}5\. Download data +succeeded/);
  }, 60_000);

  it('answers a refused action, an unknown profile, an unreachable host and bad usage in one line', async () => {
    const refused = await cli('stop', ...at());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^409 Conflict: /);
    oneLine(refused.stderr);

    const missing = await cli('publish', ...at(), '--profile', 'nothing');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^404 NotFound: /);
    oneLine(missing.stderr);

    // A loopback port nothing listens on (taken, then freed).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const down = await cli('status', '--org', DEMO_ORG, '--url', `http://127.0.0.1:${port}`);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      new RegExp(`^Cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
    );
    oneLine(down.stderr);

    const usage = await cli('status', '--url', f.host.url);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^--org is required\./);
  }, 60_000);
});
