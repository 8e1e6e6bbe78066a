import type { ReadMeter } from '../port';

/** What a read brought back: record items, documents, change markers, or nothing countable. */
export type ReadKind = 'rows' | 'docs' | 'changes' | 'keys' | 'none';

/**
 * Adds what reads cost to a {@link ReadMeter} (the port's `metered` view), or does nothing for a
 * store that is not metered. The request charge is what each SDK response reports (item and feed
 * responses, and each operation of a bulk request, carry `requestCharge`); a request that failed
 * reports none.
 */
export class ReadCounter {
  constructor(private readonly meter: ReadMeter | undefined) {}

  /** Counts `count` items of `kind` and the response's charge. */
  add(kind: ReadKind, count: number, requestCharge: number | undefined): void {
    const meter = this.meter;
    if (meter === undefined) return;
    if (kind !== 'none') meter[kind] += count;
    if (typeof requestCharge === 'number' && Number.isFinite(requestCharge))
      meter.requestCharge += requestCharge;
  }
}
