import { createRequestGate } from '../../local/request-gate';

/** A call the test finishes by hand, so the order of starts and ends is the test's to choose. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('createRequestGate', () => {
  it('runs at most `limit` calls at once and starts the waiting ones in arrival order', async () => {
    const gate = createRequestGate(2);
    const started: number[] = [];
    const calls = Array.from({ length: 5 }, () => deferred());
    const results = calls.map((call, i) =>
      gate.run(async () => {
        started.push(i);
        await call.promise;
        return i * 10;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect(gate.load()).toEqual({ running: 2, waiting: 3 });
    calls[1]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    calls[0]!.resolve();
    calls[2]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    calls[3]!.resolve();
    calls[4]!.resolve();
    expect(await Promise.all(results)).toEqual([0, 10, 20, 30, 40]);
    expect(gate.load()).toEqual({ running: 0, waiting: 0 });
  });

  it('frees the slot of a call that fails, and passes its error on', async () => {
    const gate = createRequestGate(1);
    const failing = gate.run(() => Promise.reject(new Error('boom')));
    const next = gate.run(() => Promise.resolve('ran'));
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
    expect(gate.load()).toEqual({ running: 0, waiting: 0 });
  });

  it('refuses a limit below one', () => {
    expect(() => createRequestGate(0)).toThrow('at least 1');
    expect(() => createRequestGate(1.5)).toThrow('at least 1');
  });
});
