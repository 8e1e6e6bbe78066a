import { demoAwareSourceFor } from '../../local/demo/demo-source';
import { createSourceFor, type SourceFactory } from '../../shared/sources/create-source';
import type { Source, SourceChangePage } from '../../shared/sources/port';

/*
 * Step 5 of provisioning without waiting on time: the demo's source reads its rows in pages that wait
 * at a gate the test opens page by page (the provisioning lifecycle and the admin page's tests).
 */

/** Lets pages through one at a time (or all); counts every read by entity. */
export class PageGate {
  private permits = 0;
  private open = true;
  private readonly waiters: (() => void)[] = [];
  readonly reads: string[] = [];

  close(): void {
    this.open = false;
  }

  openAll(): void {
    this.open = true;
    this.waiters.splice(0).forEach((wake) => wake());
  }

  allow(pages: number): void {
    this.permits += pages;
    while (this.permits > 0 && this.waiters.length > 0) {
      this.permits--;
      this.waiters.shift()!();
    }
  }

  async pass(): Promise<void> {
    if (this.open) return;
    if (this.permits > 0) {
      this.permits--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

/** The host's own source (the demo's generated rows), in pages of `chunk` rows that wait at the gate. */
export function gatedSourceFor(gate: PageGate, chunk: number): SourceFactory {
  const standard = demoAwareSourceFor(createSourceFor);
  return (tenant, deps) => {
    const source = standard(tenant, deps);
    const gated: Source = {
      ...source,
      kind: source.kind,
      async *readChanges(entity, deltaToken): AsyncIterable<SourceChangePage> {
        if (deltaToken === undefined) gate.reads.push(entity.logicalName);
        for await (const page of source.readChanges(entity, deltaToken)) {
          for (let i = 0; i < Math.max(1, page.changes.length); i += chunk) {
            const last = i + chunk >= page.changes.length;
            await gate.pass();
            yield {
              changes: page.changes.slice(i, i + chunk),
              full: page.full,
              ...(last && page.deltaToken !== undefined ? { deltaToken: page.deltaToken } : {}),
            };
          }
        }
      },
    };
    return gated;
  };
}
