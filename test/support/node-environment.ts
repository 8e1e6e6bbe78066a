import { isMainThread } from 'node:worker_threads';
import { TestEnvironment } from 'jest-environment-node';

let installed = false;

/**
 * Makes a jest worker process leave through `process.exit` as soon as its event loop is empty,
 * instead of the natural exit that tears the V8 heap down first.
 *
 * Why: after the last test file, jest-worker sends each worker "end" and waits 500 ms for it to exit,
 * then kills it and prints "A worker process has failed to exit gracefully". No handle was left open
 * (every server, socket, timer and SQLite file was closed: the event loop was empty and `beforeExit`
 * fired within a millisecond of "end"), but a natural exit disposes the isolate, which took 0.5-1 s
 * for a worker of 250-400 MB on the shared two-core machine; `process.exit` skips that (the kernel
 * frees the memory) and took 0.1-0.2 s. Nothing is lost: with the loop empty, no write and no message
 * to the parent is pending (stdout and stderr are synchronous pipes on Linux).
 *
 * Only for a worker child process (it has an IPC channel and runs on its main thread): in-band runs
 * share the jest process, which exits as it always did.
 */
export function leaveWhenIdle(proc: NodeJS.Process = process): void {
  if (installed || typeof proc.send !== 'function' || !isMainThread) return;
  installed = true;
  proc.once('beforeExit', (code) => proc.exit(code));
}

/** jest's node environment, plus {@link leaveWhenIdle} for the worker that loads it. */
export default class NodeEnvironment extends TestEnvironment {
  constructor(...args: ConstructorParameters<typeof TestEnvironment>) {
    super(...args);
    leaveWhenIdle();
  }
}
