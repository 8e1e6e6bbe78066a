import type { IncomingHttpHeaders } from 'node:http';
import { STORE_READS_HEADER } from '../functions/http/routes/sync-download-routes';
import type { ReadMeter } from '../shared/store/port';

/** What requests read from the store: record rows, documents, change entries, request units. */
export interface StoreReads {
  rows: number;
  docs: number;
  changes: number;
  /** Index entries read without their rows. */
  keys: number;
  /** Cosmos request units (0 on SQLite). */
  ru: number;
}

/** Nothing read. */
export function noStoreReads(): StoreReads {
  return { rows: 0, docs: 0, changes: 0, keys: 0, ru: 0 };
}

/**
 * Reads the download route's `x-store-reads: rows=…, docs=…, changes=…, keys=…, ru=…` (what one request
 * read from the store, as the adapters count it) from a response's headers.
 *
 * @throws Error when the header is missing or malformed: a figure built on a missing count would
 * read as zero, which is the best value a read figure can have.
 */
export function storeReadsOf(headers: IncomingHttpHeaders): StoreReads {
  const header = headers[STORE_READS_HEADER];
  const text = Array.isArray(header) ? header.join(', ') : header;
  if (text === undefined) throw new Error(`The download answered without an ${STORE_READS_HEADER} header.`);
  const field = (name: string): number => {
    const match = new RegExp(`(?:^|,)\\s*${name}=([\\d.]+)`).exec(text);
    if (match === null) throw new Error(`${STORE_READS_HEADER} lacks ${name}: '${text}'.`);
    return Number(match[1]);
  };
  return {
    rows: field('rows'),
    docs: field('docs'),
    changes: field('changes'),
    keys: field('keys'),
    ru: field('ru'),
  };
}

/** What an in-process meter counted, in the header's terms. */
export function storeReadsOfMeter(meter: ReadMeter): StoreReads {
  return {
    rows: meter.rows,
    docs: meter.docs,
    changes: meter.changes,
    keys: meter.keys,
    ru: meter.requestCharge,
  };
}

/** Adds `more` to `total` (in place) and returns `total`. */
export function addStoreReads(total: StoreReads, more: StoreReads): StoreReads {
  total.rows += more.rows;
  total.docs += more.docs;
  total.changes += more.changes;
  total.keys += more.keys;
  total.ru += more.ru;
  return total;
}

/** `rows 1,025, docs 48, changes 0` (with `keys` and `ru` when non-zero), for notes. */
export function formatStoreReads(reads: StoreReads): string {
  const n = (value: number): string => value.toLocaleString('en-US', { maximumFractionDigits: 1 });
  const keys = reads.keys > 0 ? `, keys ${n(reads.keys)}` : '';
  const ru = reads.ru > 0 ? `, ru ${n(reads.ru)}` : '';
  return `rows ${n(reads.rows)}, docs ${n(reads.docs)}, changes ${n(reads.changes)}${keys}${ru}`;
}
