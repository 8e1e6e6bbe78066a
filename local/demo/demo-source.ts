import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Clock } from '../../shared/clock';
import type { EntityMetadata } from '../../shared/model/entity';
import type { RecordWrite } from '../../shared/store/port';
import type { Source, SourceChange, SourceChangePage } from '../../shared/sources/port';
import type { SourceFactory } from '../../shared/sources/create-source';
import { buildDemoDirectory, DEMO_ORG } from './demo-directory';
import { demoRecordCounts, generateDemoRecords } from './demo-records';

/** The delta token the demo source hands out: after its one full read there is nothing new to read. */
export const DEMO_DELTA_TOKEN = 'demo-generated';

/** Rows generated between two yields to the event loop. */
const GENERATED_PER_YIELD = 100;

/** Rows per page of a demo full read (step 5 records progress and ETA after each page). */
export const DEMO_PAGE_SIZE = 500;

/**
 * The demo tenant's Source: the local source (the tenant store is the system of record for
 * metadata, the directory and device writes), except that a full read of an entity yields the
 * demo's generated rows (`DEMO_ROWS`, `DEMO_SEED`) page by page. So provisioning the demo tenant
 * after a deprovision downloads its rows in step 5 with progress and ETA, as a real source would,
 * instead of finding an empty store. A read from a token yields nothing: later changes reach a
 * local tenant through ingest and uploads. Generated rows carry version 1, so re-reading them never
 * overwrites a row changed since (every later write has a higher version).
 */
export function createDemoSource(
  local: Source,
  options: { seed: number; rows: number; clock: Clock; pageSize?: number },
): Source {
  const pageSize = options.pageSize ?? DEMO_PAGE_SIZE;
  const directory = buildDemoDirectory(options.seed);
  const generate = (): Iterable<RecordWrite> =>
    generateDemoRecords(directory, { seed: options.seed, rows: options.rows, now: options.clock.now() });
  const counts = demoRecordCounts(directory, options.rows);

  return {
    kind: local.kind,
    readMetadata: (entities) => local.readMetadata(entities),
    readDirectory: () => local.readDirectory(),
    writeChange: (change, entity) => local.writeChange(change, entity),

    async countRows(entity: EntityMetadata): Promise<number> {
      return counts.get(entity.logicalName) ?? 0;
    },

    async *readChanges(
      entity: EntityMetadata,
      deltaToken: string | undefined,
      resumeAt?: string,
    ): AsyncIterable<SourceChangePage> {
      if (deltaToken !== undefined) return;
      // A position is the count of the entity's rows already read (the generator is deterministic).
      const skip = resumeAt === undefined ? 0 : rowsReadAt(resumeAt);
      let seen = 0;
      let generated = 0;
      let changes: SourceChange[] = [];
      for (const write of generate()) {
        // Generating is slow (tens of µs a row): the host answers other requests in between.
        if (++generated % GENERATED_PER_YIELD === 0) await yieldToEventLoop();
        if (write.entity !== entity.logicalName) {
          // Each entity's rows come in one block: past it, nothing more of it follows.
          if (seen > 0) break;
          continue;
        }
        seen += 1;
        if (seen <= skip) continue;
        changes.push({
          entity: write.entity,
          id: write.id,
          op: 'upsert',
          attributes: write.attributes,
          version: write.version,
        });
        if (changes.length >= pageSize) {
          // Not `full`: a full read would delete stored rows it did not yield, such as rows
          // ingested or uploaded since the demo was seeded.
          yield { changes, full: false, resumeAt: `rows:${seen}` };
          changes = [];
        }
      }
      yield { changes, full: false, deltaToken: DEMO_DELTA_TOKEN };
    },
  };
}

/** The rows a demo read position says were read; anything else starts the read over (0). */
function rowsReadAt(resumeAt: string): number {
  const match = /^rows:(\d+)$/.exec(resumeAt);
  return match === null ? 0 : Number(match[1]);
}

/**
 * Wraps a Source factory so the demo tenant (`contoso` with a local source, while `DEMO_TENANT` is
 * on) gets {@link createDemoSource}; every other tenant gets what `base` builds.
 */
export function demoAwareSourceFor(base: SourceFactory): SourceFactory {
  return (tenant, deps) => {
    const source = base(tenant, deps);
    if (tenant.org !== DEMO_ORG || tenant.source.kind !== 'local' || !deps.settings.DEMO_TENANT) {
      return source;
    }
    return createDemoSource(source, {
      seed: deps.settings.DEMO_SEED,
      rows: deps.settings.DEMO_ROWS,
      clock: deps.clock,
    });
  };
}
