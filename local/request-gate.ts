/**
 * A first-in, first-out gate: at most `limit` calls run at once, the others wait in arrival order.
 *
 * The local host serves device syncs through it. Its SQLite store answers synchronously, so requests
 * running side by side share one thread and gain no throughput from each other; interleaved at every
 * `await`, fifty syncs that arrive together all finish near the end of the fifty (each waits for all
 * the others' steps). Served a few at a time in arrival order, the first finish after a few syncs'
 * time and the median after half the batch, for the same total. This is the local counterpart of the
 * Functions host's per-instance HTTP concurrency (`maxConcurrentRequests`), which Azure sets from
 * the plan and which suits Cosmos DB's network round trips.
 */
export interface RequestGate {
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Calls running now and calls waiting (for tests and diagnostics). */
  load(): { running: number; waiting: number };
}

export function createRequestGate(limit: number): RequestGate {
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`A gate needs a limit of at least 1, not ${limit}.`);
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else running -= 1;
  };
  return {
    async run<T>(work: () => Promise<T>): Promise<T> {
      if (running < limit) running += 1;
      // The slot passes straight from the call that releases it to the next in line.
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await work();
      } finally {
        release();
      }
    },
    load: () => ({ running, waiting: waiting.length }),
  };
}
