import type { DocStore, StoredDoc } from './port';

/** Documents a cache keeps per store handle by default, per kind it serves. */
const DEFAULT_CAPACITY = 5000;
/** Listings (one per prefix asked for) a cache keeps per store handle. */
const LISTING_CAPACITY = 256;

interface ParsedEntry<T> {
  etag: string;
  value: T;
}

/** A listing's parsed values, and the ids and etags they were parsed from. */
interface ParsedListing<T> {
  key: string;
  values: readonly T[];
  /** id → etag of each listed document, in listing order. */
  etags: Map<string, string>;
}

interface PerStore<T> {
  docs: Map<string, ParsedEntry<T>>;
  listings: Map<string, ParsedListing<T>>;
}

/**
 * Documents of one kind, validated (`parse`) once per etag and kept per store handle, so requests that
 * read the same configuration again and again skip its validation. Correct under concurrent writers:
 * every answer comes from the etags read in the same call (a write always changes the etag), so a
 * cached value is reused only for exactly the document it was parsed from. Values are deep-frozen:
 * callers share them and must not change them.
 */
export class ParsedDocCache<T> {
  private readonly stores = new WeakMap<DocStore, PerStore<T>>();

  constructor(
    private readonly kind: string,
    private readonly parse: (value: unknown) => T,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  private of(store: DocStore): PerStore<T> {
    let cached = this.stores.get(store);
    if (cached === undefined) {
      cached = { docs: new Map(), listings: new Map() };
      this.stores.set(store, cached);
    }
    return cached;
  }

  private remember(cached: PerStore<T>, doc: StoredDoc): T {
    const known = cached.docs.get(doc.id);
    if (known !== undefined && known.etag === doc.etag) return known.value;
    const value = deepFreeze(this.parse(doc.value));
    // Oldest first out: the map keeps insertion order.
    cached.docs.delete(doc.id);
    while (cached.docs.size >= this.capacity) {
      const oldest = cached.docs.keys().next();
      if (oldest.done === true) break;
      cached.docs.delete(oldest.value);
    }
    cached.docs.set(doc.id, { etag: doc.etag, value });
    return value;
  }

  /** One document, read now, validated only when its etag is new; undefined when there is none. */
  async get(store: DocStore, id: string): Promise<{ value: T; etag: string } | undefined> {
    const cached = this.of(store);
    const known = cached.docs.get(id);
    // A document parsed before is read again only if its etag changed (its value is not transferred).
    const doc =
      known === undefined
        ? await store.getDoc(this.kind, id)
        : await store.getDocIfChanged(this.kind, id, known.etag);
    if (doc === undefined) return undefined;
    if (doc === 'unchanged') return { value: known!.value, etag: known!.etag };
    return { value: this.remember(cached, doc), etag: doc.etag };
  }

  /**
   * Every document of the kind (ids starting with `prefix` when given), ordered by id: their etags
   * are listed, and only documents whose etag is new are read and validated. When no etag changed
   * since the previous call, the very same array is returned (callers may key derived data by it).
   */
  async list(store: DocStore, options: { prefix?: string } = {}): Promise<readonly T[]> {
    const prefix = options.prefix ?? '';
    const cached = this.of(store);
    const tags = await store.listDocEtags(this.kind, prefix === '' ? {} : { prefix });
    const previous = cached.listings.get(prefix);
    if (previous !== undefined && sameEtags(previous.etags, tags)) return previous.values;

    const stale = tags.filter((tag) => cached.docs.get(tag.id)?.etag !== tag.etag);
    const read = new Map<string, StoredDoc>();
    if (stale.length > tags.length / 2) {
      // Most changed (or a cold cache): one listing reads them all.
      for (const doc of await store.listDocs(this.kind, prefix === '' ? {} : { prefix }))
        read.set(doc.id, doc);
    } else {
      const docs = await Promise.all(stale.map((tag) => store.getDoc(this.kind, tag.id)));
      for (const doc of docs) if (doc !== undefined) read.set(doc.id, doc);
    }
    const values: T[] = [];
    const etags = new Map<string, string>();
    for (const tag of tags) {
      const doc = read.get(tag.id);
      if (doc !== undefined) {
        // Read after the listing: the same version or a newer one, either is current.
        values.push(this.remember(cached, doc));
        etags.set(tag.id, doc.etag);
        continue;
      }
      const known = cached.docs.get(tag.id);
      // Listed but gone when read (deleted in between): left out, as a later listing would.
      if (known === undefined || known.etag !== tag.etag) continue;
      values.push(known.value);
      etags.set(tag.id, tag.etag);
    }
    const frozen = Object.freeze(values);
    cached.listings.delete(prefix);
    while (cached.listings.size >= LISTING_CAPACITY) {
      const oldest = cached.listings.keys().next();
      if (oldest.done === true) break;
      cached.listings.delete(oldest.value);
    }
    cached.listings.set(prefix, { key: prefix, values: frozen, etags });
    return frozen;
  }
}

function sameEtags(known: Map<string, string>, tags: readonly { id: string; etag: string }[]): boolean {
  if (known.size !== tags.length) return false;
  for (const tag of tags) if (known.get(tag.id) !== tag.etag) return false;
  return true;
}

/** Freezes a value and everything it holds, so callers that share it cannot change it. */
export function deepFreeze<V>(value: V): V {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}
