import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ParsedDocCache } from '../../../shared/store/parsed-doc-cache';
import type { Store } from '../../../shared/store/port';
import { createSqliteStore } from '../../../shared/store/sqlite';

let dataDir: string;
let store: Store;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'parsed-doc-cache-'));
  store = createSqliteStore({ dataDir });
});
afterEach(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const schema = z.object({ n: z.number() });

describe('ParsedDocCache', () => {
  it('parses each document once per etag and follows every write, delete and addition', async () => {
    const docs = store.control;
    let parses = 0;
    const cache = new ParsedDocCache('thing', (value) => {
      parses++;
      return schema.parse(value);
    });
    await docs.putDoc('thing', 'a', { n: 1 });
    await docs.putDoc('thing', 'b', { n: 2 });
    const first = await cache.list(docs);
    expect(first).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await cache.list(docs)).toBe(first);
    expect(parses).toBe(2);
    expect(Object.isFrozen(first[0])).toBe(true);

    await docs.putDoc('thing', 'b', { n: 3 });
    expect(await cache.list(docs)).toEqual([{ n: 1 }, { n: 3 }]);
    expect(parses).toBe(3);
    await docs.deleteDoc('thing', 'a');
    await docs.putDoc('thing', 'c', { n: 4 });
    expect(await cache.list(docs)).toEqual([{ n: 3 }, { n: 4 }]);
    expect((await cache.get(docs, 'c'))?.value).toEqual({ n: 4 });
    await docs.putDoc('thing', 'c', { n: 5 });
    expect((await cache.get(docs, 'c'))?.value).toEqual({ n: 5 });
    await docs.deleteDoc('thing', 'c');
    expect(await cache.get(docs, 'c')).toBeUndefined();
  });

  it('keeps store handles apart', async () => {
    const cache = new ParsedDocCache('thing', (value) => schema.parse(value));
    await store.createTenantDatabase('tenant-a');
    await store.control.putDoc('thing', 'a', { n: 1 });
    await store.tenant('tenant-a').putDoc('thing', 'a', { n: 2 });
    expect(await cache.list(store.control)).toEqual([{ n: 1 }]);
    expect(await cache.list(store.tenant('tenant-a'))).toEqual([{ n: 2 }]);
  });
});
