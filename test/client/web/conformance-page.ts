/**
 * The conformance page: runs the exported LocalStore suite against the browser store, in the page,
 * and leaves the results where the test reads them (`globalThis.conformance`). Bundled by
 * web-test-server.ts; this file is compiled without the DOM's types, hence the declarations.
 */
import { runLocalStoreConformance, type ConformanceResult } from '../../../client/conformance';
import { openWebLocalStore, type WebLocalStore } from '../../../client/web';
import type { WebStoreWorker } from '../../../client/web-local-store';

declare const Worker: new (url: string, options: { type: 'module' }) => WebStoreWorker;

export interface ConformancePage {
  /** Runs the suite over stores whose workers run `script`; each case gets a new database file. */
  run(script: string): Promise<{ results: ConformanceResult[]; persistence: string[]; reasons: string[] }>;
  /**
   * Opens a store, then a second one (its own worker) on the same pool while the first is open, then
   * again once the first is closed: what each second open came to.
   */
  secondWhileOpen(): Promise<{ whileOpen: string; afterClose: string }>;
  /** Opens a store that must persist over `script`: the error's message, or 'opened'. */
  openPersistent(script: string): Promise<string>;
}

let n = 0;
const page: ConformancePage = {
  async run(script) {
    const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const persistence: string[] = [];
    const reasons = new Set<string>();
    const open = async (name: string): Promise<WebLocalStore> => {
      const store = await openWebLocalStore({ name, worker: () => new Worker(script, { type: 'module' }) });
      persistence.push(store.persistence);
      if (store.persistenceReason !== undefined) reasons.add(store.persistenceReason);
      return store;
    };
    const kept = script === '/worker.js';
    const results = await runLocalStoreConformance({
      open: () => open(`conformance-${run}-${++n}.db`),
      ...(kept ? { reopen: () => open(`conformance-${run}-${n}.db`) } : {}),
    });
    return { results, persistence, reasons: [...reasons] };
  },
  async secondWhileOpen() {
    const worker = () => new Worker('/worker.js', { type: 'module' });
    const attempt = async (): Promise<string> => {
      try {
        const store = await openWebLocalStore({ name: `second-${++n}.db`, worker });
        await store.close();
        return 'opened';
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    };
    const first = await openWebLocalStore({ name: `first-${++n}.db`, worker });
    let whileOpen: string;
    try {
      whileOpen = await attempt();
    } finally {
      await first.close();
    }
    return { whileOpen, afterClose: await attempt() };
  },
  async openPersistent(script) {
    try {
      const store = await openWebLocalStore({
        name: `required-${++n}.db`,
        worker: () => new Worker(script, { type: 'module' }),
        requirePersistence: true,
      });
      await store.close();
      return 'opened';
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  },
};
(globalThis as { conformance?: ConformancePage }).conformance = page;
