import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const repoRoot = join(__dirname, '..', '..');

/** Runs the probe from its sources as a child with an IPC channel, as jest-worker forks a worker. */
function runProbe(args: string[]): Promise<{ status: number | null; stdout: string }> {
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, 'test/support/run-ts.mjs'),
      join(repoRoot, 'test/support/leave-when-idle-probe.ts'),
      ...args,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout })));
}

/**
 * Jest printed "A worker process has failed to exit gracefully" with no handle open: a worker's
 * natural exit (heap teardown) outlasted jest-worker's 500 ms. The test environment makes workers
 * leave through process.exit once idle (test/support/node-environment.ts).
 */
describe('jest workers', () => {
  it('run in the environment that makes them leave once idle', () => {
    const config = readFileSync(join(repoRoot, 'jest.config.js'), 'utf8');
    expect(config).toMatch(/^ {2}testEnvironment: '<rootDir>\/test\/support\/node-environment\.ts',$/m);
    expect(readFileSync(join(repoRoot, 'test/support/node-environment.ts'), 'utf8')).toMatch(
      /export default class NodeEnvironment extends TestEnvironment/,
    );
  });

  it('leave through process.exit at the first beforeExit, keeping the exit code', async () => {
    expect(await runProbe(['--leave-when-idle'])).toEqual({ status: 3, stdout: 'exit 3\n' });
  });

  it('(without it, the loop would run on and the natural exit follow)', async () => {
    expect(await runProbe([])).toEqual({ status: 3, stdout: 'loop ran again after beforeExit\nexit 3\n' });
  });
});
