import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { issueLocalToken, loadOrCreateLocalSigningKey } from '../shared/auth/local-signing-key';
import { ADMIN_ROLE } from '../shared/auth/principal';
import { buildDemoDirectory, DEMO_ENTRA_TENANT_ID } from '../local/demo/demo-directory';

/** The demo seed every bench tenant uses, so runs are comparable. */
export const BENCH_SEED = 42;
const AUDIENCE = 'api://offline-sync';
/**
 * Longest wait for a host to seed its demo tenant and listen: five minutes, and 2 ms more per demo
 * row (seeding the 1,000,000-row tenant took over five minutes once the store kept look-up indexes
 * and a change log per row). A guard against a host that never starts, not a goal.
 */
function startTimeoutMs(demoRows: number): number {
  return 5 * 60_000 + 2 * demoRows;
}

/** A local host running in a child process (`node dist/local/host.js`), so its memory is its own. */
export interface HostProcess {
  url: string;
  pid: number;
  dataDir: string;
  /** How long the start took (demo seeding included on a fresh folder). */
  startMs: number;
  /** A device token for a demo user by user name (`bob`, `dave`…); `admin` adds the admin role. */
  token(userName: string, options?: { admin?: boolean }): Promise<string>;
  /** Memory of the host process from /proc: current and peak resident set, in MiB. */
  memory(): { rssMiB: number; peakRssMiB: number } | undefined;
  /** Stops the process (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>;
}

/**
 * Starts the local host in a child process over `dataDir` (a new temporary folder when absent) with the
 * demo tenant of `demoRows` rows, and waits for its "listening" line.
 */
export async function startHostProcess(options: {
  demoRows: number;
  dataDir?: string;
  env?: Record<string, string>;
}): Promise<HostProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'offline-sync-bench-'));
  const script = resolve(__dirname, '..', 'local', 'host.js');
  const started = performance.now();
  // For profiling the host: BENCH_HOST_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArgs = (process.env.BENCH_HOST_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dataDir,
      PORT: '0',
      DEMO_ROWS: String(options.demoRows),
      DEMO_SEED: String(BENCH_SEED),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let url: string;
  try {
    url = await waitForListening(child, startTimeoutMs(options.demoRows));
  } catch (error) {
    // A folder made for this host goes with it (a half-seeded million-row tenant is 1 GB).
    if (options.dataDir === undefined) removeDataDir(dataDir);
    throw error;
  }
  const startMs = performance.now() - started;
  const key = await loadOrCreateLocalSigningKey(dataDir);
  const users = buildDemoDirectory(BENCH_SEED).users;
  const pid = child.pid!;
  return {
    url,
    pid,
    dataDir,
    startMs,
    async token(userName, tokenOptions = {}) {
      const user = users.find((u) => u.userName === userName);
      if (user === undefined) throw new Error(`No demo user '${userName}'.`);
      return issueLocalToken(
        key,
        { oid: user.entraObjectId, tid: DEMO_ENTRA_TENANT_ID, roles: tokenOptions.admin ? [ADMIN_ROLE] : [] },
        { audience: AUDIENCE },
      );
    },
    memory: () => readProcessMemory(pid),
    stop: () => stopChild(child),
  };
}

/** Resets the peak-RSS counter of a process (Linux clear_refs); false where the kernel refuses. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    // Not Linux, or not permitted: the caller falls back to sampled RSS.
    return false;
  }
}

/** Removes a data folder the bench created. */
export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}

function readProcessMemory(pid: number): { rssMiB: number; peakRssMiB: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined; // No /proc (not Linux) or the process is gone.
  }
  const kib = (field: string): number => Number(/\d+/.exec(status.split(`${field}:`)[1] ?? '')?.[0] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
}

function waitForListening(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The host did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        // Keep draining the pipes so a chatty host never blocks on a full pipe.
        child.stdout!.resume();
        resolvePromise(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The host exited with code ${String(code)} before listening:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}
