import { leaveWhenIdle } from './node-environment';

/**
 * Run as a child process with an IPC channel (as jest runs its workers) by
 * test/tooling/jest-worker-exit.test.ts: reports whether the process left at its first `beforeExit`
 * (through `process.exit`, with the exit code set) or let its loop run again.
 */
if (process.argv.includes('--leave-when-idle')) leaveWhenIdle();
let again = false;
process.on('beforeExit', () => {
  if (again) return;
  again = true;
  setImmediate(() => console.log('loop ran again after beforeExit'));
});
process.on('exit', (code) => console.log(`exit ${code}`));
process.exitCode = 3;
