import type { BenchFigure } from './bench-figure';

/** What every workload receives: the mode, where figures go, and a progress log. */
export interface BenchContext {
  quick: boolean;
  figures: BenchFigure[];
  /** Workloads that did not run, or ran smaller than the issue asks, with the reason. */
  notes: string[];
  log(line: string): void;
}

/** The demo tenant's org. */
export const ORG = 'contoso';
/** The store the local host runs on in these workloads. */
export const HOST_STORE = 'SQLite (local host, child process)';
