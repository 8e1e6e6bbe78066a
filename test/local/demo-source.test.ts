import { createDemoSource } from '../../local/demo/demo-source';
import { buildDemoDirectory } from '../../local/demo/demo-directory';
import { generateDemoRecords } from '../../local/demo/demo-records';
import { ManualClock } from '../../shared/clock';
import type { EntityMetadata } from '../../shared/model/entity';
import type { Source, SourceChangePage } from '../../shared/sources/port';

/** The demo tenant's source as step 5 reads it: counts without generating, pages that resume. */

const SEED = 7;
const ROWS = 1200;
const clock = new ManualClock('2026-03-01T10:00:00.000Z');
// Only the generated reads are used; the rest would go to the tenant store.
const local = { kind: 'local' } as unknown as Source;
const source = createDemoSource(local, { seed: SEED, rows: ROWS, clock, pageSize: 100 });
const entity = (logicalName: string) => ({ logicalName }) as EntityMetadata;

function generatedIds(name: string): string[] {
  const records = generateDemoRecords(buildDemoDirectory(SEED), { seed: SEED, rows: ROWS, now: clock.now() });
  return [...records].filter((r) => r.entity === name).map((r) => r.id);
}

async function read(name: string, resumeAt?: string): Promise<SourceChangePage[]> {
  const pages: SourceChangePage[] = [];
  for await (const page of source.readChanges(entity(name), undefined, resumeAt)) pages.push(page);
  return pages;
}

describe('demo source', () => {
  it('counts each entity’s rows exactly as many as it generates', async () => {
    for (const name of ['businessunit', 'systemuser', 'team', 'account', 'contact', 'task']) {
      expect(await source.countRows(entity(name))).toBe(generatedIds(name).length);
    }
  });

  it('reads an entity’s rows in pages, each but the last with a position a read goes on from', async () => {
    const all = await read('contact');
    const ids = generatedIds('contact');
    expect(all.flatMap((p) => p.changes.map((c) => c.id))).toEqual(ids);
    expect(all.slice(0, -1).every((p) => p.resumeAt !== undefined && p.deltaToken === undefined)).toBe(true);
    expect(all.at(-1)).toMatchObject({ deltaToken: 'demo-generated' });
    expect(all.at(-1)!.resumeAt).toBeUndefined();

    const rest = await read('contact', all[1]!.resumeAt);
    expect(rest.flatMap((p) => p.changes.map((c) => c.id))).toEqual(ids.slice(200));
  });

  it('yields nothing from its token: later changes come through ingest and uploads', async () => {
    const pages: SourceChangePage[] = [];
    for await (const page of source.readChanges(entity('account'), 'demo-generated')) pages.push(page);
    expect(pages).toEqual([]);
  });
});
