/**
 * `@offline-sync/client/conformance`: what every `LocalStore` must do for the SDK's sync rules to hold,
 * as runnable cases. A store author runs them in the test framework of their platform (jest, vitest,
 * mocha, a React Native test app, a browser page): nothing here imports a test library or Node.js.
 *
 * ```ts
 * import { describeLocalStoreConformance } from '@offline-sync/client/conformance';
 * describeLocalStoreConformance('my op-sqlite store', { open: () => openMyStore(freshName()) }, { describe, it });
 * ```
 */
import type { DownloadChange, SyncMetadataResponse } from '../shared/sync/sync-protocol';
import type { LocalRow, LocalStore, LocalStoreTransaction, LocalSyncError, OutboxEntry } from './local-store';
import { evaluateQuery, rowQuerySchema, type RowQuery } from './query';

/** How the suite gets stores: `open` a new, empty one per case; `reopen` the same data after `close`. */
export interface LocalStoreFactory {
  open(): Promise<LocalStore> | LocalStore;
  /**
   * Opens again the data of the store `open` last returned, after it was closed; leave it out for a
   * store that keeps nothing (the persistence case is then skipped).
   */
  reopen?(): Promise<LocalStore> | LocalStore;
}

export interface ConformanceCase {
  name: string;
  /** Whether this store is asked to do it (e.g. persistence needs `reopen`). */
  applies(factory: LocalStoreFactory): boolean;
  run(factory: LocalStoreFactory): Promise<void>;
}

/** A failed expectation of the suite: what was expected and what the store gave. */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonical(v);
    }
    return out;
  }
  return value;
}

/** Deep equality of JSON values (absent and `undefined` properties alike), else a ConformanceError. */
function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(canonical(actual));
  const e = JSON.stringify(canonical(expected));
  if (a !== e) throw new ConformanceError(`${what}: expected ${e}, got ${a}`);
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new ConformanceError(what);
}

/** A small valid metadata answer with two entities. */
export const conformanceMetadata: SyncMetadataResponse = {
  app: 'field-sales',
  profile: { id: 'conformance', name: 'Conformance', version: 1 },
  entities: ['account', 'contact'].map((logicalName) => ({
    logicalName,
    primaryIdAttribute: `${logicalName}id`,
    primaryNameAttribute: 'name',
    ownership: 'user' as const,
    attributes: [{ name: 'name', type: 'string', required: false, secured: false, readable: true }],
    relationships: [],
  })),
  metadataVersion: 1,
  profileVersion: 1,
  directoryVersion: 1,
  syncIntervalSeconds: 900,
};

const account = (id: string, name: string, version = '1'): LocalRow => ({
  entity: 'account',
  id,
  row: { accountid: id, name },
  version,
  pending: false,
});

const entry = (opId: string, id: string, op: OutboxEntry['op'] = 'update'): Omit<OutboxEntry, 'seq'> => ({
  opId,
  entity: 'account',
  id,
  op,
  ...(op === 'delete' ? {} : { row: { name: `${op} ${id}` } }),
  baseVersion: '1',
  createdAt: '2026-01-01T00:00:00.000Z',
});

const syncError = (id: string, time: string): LocalSyncError => ({
  id,
  time,
  entity: 'account',
  recordId: 'a1',
  op: 'update',
  row: { name: 'x' },
  status: 'rejected',
  error: { code: 'PrivilegeDenied', message: 'No write privilege.' },
});

/** Opens a fresh store with the metadata saved, runs `work`, and always closes the store. */
async function withStore(
  factory: LocalStoreFactory,
  work: (store: LocalStore) => Promise<void>,
): Promise<void> {
  const store = await factory.open();
  try {
    await store.transaction((tx) => tx.saveMetadata(conformanceMetadata));
    await work(store);
  } finally {
    await store.close();
  }
}

const always = (): boolean => true;
const inTx = <T>(store: LocalStore, work: (tx: LocalStoreTransaction) => Promise<T>): Promise<T> =>
  store.transaction(work);

/** The cases, in the order they are best read. */
export const localStoreConformanceCases: readonly ConformanceCase[] = [
  {
    name: 'a new store holds no metadata, checkpoint, rows, outbox or errors',
    applies: always,
    async run(factory) {
      const store = await factory.open();
      try {
        same(await inTx(store, (tx) => tx.readState()), {}, 'readState() of a new store');
        same(await inTx(store, (tx) => tx.listOutbox()), [], 'listOutbox() of a new store');
        same(await inTx(store, (tx) => tx.listSyncErrors()), [], 'listSyncErrors() of a new store');
      } finally {
        await store.close();
      }
    },
  },
  {
    name: 'saves the metadata and the checkpoint; an undefined checkpoint clears it',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        same((await inTx(store, (tx) => tx.readState())).metadata, conformanceMetadata, 'saved metadata');
        await inTx(store, (tx) => tx.saveCheckpoint('cp-1'));
        same((await inTx(store, (tx) => tx.readState())).checkpoint, 'cp-1', 'saved checkpoint');
        await inTx(store, (tx) => tx.saveCheckpoint('cp-2'));
        same((await inTx(store, (tx) => tx.readState())).checkpoint, 'cp-2', 'replaced checkpoint');
        await inTx(store, (tx) => tx.saveCheckpoint(undefined));
        same(
          await inTx(store, (tx) => tx.readState()),
          { metadata: conformanceMetadata },
          'cleared checkpoint',
        );
      }),
  },
  {
    name: 'new metadata keeps the rows already held and adds storage for new entities',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        await inTx(store, (tx) => tx.putRow(account('a1', 'Kept')));
        const next: SyncMetadataResponse = {
          ...conformanceMetadata,
          metadataVersion: 2,
          entities: [
            ...conformanceMetadata.entities,
            { ...conformanceMetadata.entities[0]!, logicalName: 'lead', primaryIdAttribute: 'leadid' },
          ],
        };
        await inTx(store, (tx) => tx.saveMetadata(next));
        same((await inTx(store, (tx) => tx.readState())).metadata, next, 'metadata after a new version');
        same(await inTx(store, (tx) => tx.getRow('account', 'a1')), account('a1', 'Kept'), 'row kept');
        await inTx(store, (tx) =>
          tx.putRow({ entity: 'lead', id: 'l1', row: { leadid: 'l1' }, version: '3', pending: false }),
        );
        same((await inTx(store, (tx) => tx.listRows('lead'))).length, 1, 'rows of the new entity');
      }),
  },
  {
    name: 'putRow and getRow round-trip every field of a row, pending or not; putRow replaces',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        const nested = {
          accountid: 'a1',
          name: 'Ünïcode ✓',
          revenue: 12.5,
          tags: ['x', 'y'],
          address: { city: 'Oslo' },
          none: null,
        };
        const created: LocalRow = {
          entity: 'account',
          id: 'a2',
          row: { accountid: 'a2' },
          serverRow: null,
          pending: true,
        };
        const deleting: LocalRow = {
          entity: 'account',
          id: 'a3',
          row: null,
          version: '7',
          serverRow: { accountid: 'a3' },
          pending: true,
        };
        await inTx(store, async (tx) => {
          await tx.putRow({ entity: 'account', id: 'a1', row: nested, version: '1', pending: false });
          await tx.putRow(created);
          await tx.putRow(deleting);
        });
        same(
          await inTx(store, (tx) => tx.getRow('account', 'a1')),
          { entity: 'account', id: 'a1', row: nested, version: '1', pending: false },
          'plain row',
        );
        same(
          await inTx(store, (tx) => tx.getRow('account', 'a2')),
          created,
          'a row created on the device (no version, server image null)',
        );
        same(
          await inTx(store, (tx) => tx.getRow('account', 'a3')),
          deleting,
          'a pending delete (row null, server image kept)',
        );
        await inTx(store, (tx) => tx.putRow(account('a1', 'Replaced', '2')));
        same(
          await inTx(store, (tx) => tx.getRow('account', 'a1')),
          account('a1', 'Replaced', '2'),
          'replaced row (no serverRow once not pending)',
        );
        same(await inTx(store, (tx) => tx.getRow('account', 'missing')), undefined, 'a row never stored');
        same(
          await inTx(store, (tx) => tx.getRow('contact', 'a1')),
          undefined,
          'the same id in another entity',
        );
      }),
  },
  {
    name: 'a row read is a copy: changing it does not change the store',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        const original = account('a1', 'Original');
        await inTx(store, (tx) => tx.putRow(original));
        original.row!.name = 'Changed after put';
        const read = await inTx(store, (tx) => tx.getRow('account', 'a1'));
        read!.row!.name = 'Changed after get';
        same(await inTx(store, (tx) => tx.getRow('account', 'a1')), account('a1', 'Original'), 'stored row');
      }),
  },
  {
    name: 'deleteRow removes one row; deleting a missing row is no error',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        await inTx(store, async (tx) => {
          await tx.putRow(account('a1', 'One'));
          await tx.putRow(account('a2', 'Two'));
        });
        await inTx(store, async (tx) => {
          await tx.deleteRow('account', 'a1');
          await tx.deleteRow('account', 'never');
        });
        same(
          (await inTx(store, (tx) => tx.listRows('account'))).map((r) => r.id),
          ['a2'],
          'rows left',
        );
      }),
  },
  {
    name: 'listRows gives every row of one entity, pending deletes included, ordered by id',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        await inTx(store, async (tx) => {
          for (const id of ['c', 'a', 'B', 'b', 'a10', 'a2']) await tx.putRow(account(id, id));
          await tx.putRow({
            entity: 'account',
            id: 'd',
            row: null,
            version: '1',
            serverRow: { accountid: 'd' },
            pending: true,
          });
          await tx.putRow({
            entity: 'contact',
            id: 'z',
            row: { contactid: 'z' },
            version: '1',
            pending: false,
          });
        });
        same(
          (await inTx(store, (tx) => tx.listRows('account'))).map((r) => r.id),
          ['B', 'a', 'a10', 'a2', 'b', 'c', 'd'],
          'ids in binary order',
        );
        same(
          (await inTx(store, (tx) => tx.listRows('contact'))).map((r) => r.id),
          ['z'],
          'the other entity',
        );
      }),
  },
  {
    name: 'applyServerChanges (when offered) applies upserts and removals in order, as putRow / deleteRow would',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        const changes: DownloadChange[] = [
          {
            entity: 'account',
            id: 'a1',
            op: 'upsert',
            version: '1',
            row: { accountid: 'a1', name: 'First' },
          },
          { entity: 'contact', id: 'c1', op: 'upsert', version: '4', row: { contactid: 'c1' } },
          { entity: 'account', id: 'a2', op: 'upsert', version: '1', row: { accountid: 'a2', name: 'Gone' } },
          {
            entity: 'account',
            id: 'a1',
            op: 'upsert',
            version: '2',
            row: { accountid: 'a1', name: 'Second' },
          },
          { entity: 'account', id: 'a2', op: 'remove', version: '2' },
        ];
        await inTx(store, async (tx) => {
          if (tx.applyServerChanges) await tx.applyServerChanges(changes);
          else
            for (const c of changes)
              await (c.op === 'remove'
                ? tx.deleteRow(c.entity, c.id)
                : tx.putRow({
                    entity: c.entity,
                    id: c.id,
                    row: c.row ?? {},
                    version: c.version,
                    pending: false,
                  }));
        });
        same(await inTx(store, (tx) => tx.listRows('account')), [account('a1', 'Second', '2')], 'accounts');
        same(
          await inTx(store, (tx) => tx.listRows('contact')),
          [{ entity: 'contact', id: 'c1', row: { contactid: 'c1' }, version: '4', pending: false }],
          'contacts',
        );
      }),
  },
  {
    name: 'queryRows (when offered) selects, orders and limits rows as evaluateQuery defines it',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        const rows: LocalRow[] = [
          {
            ...account('a1', 'Alpha'),
            row: { accountid: 'a1', name: 'Alpha', revenue: 10, active: true, city: 'Oslo' },
          },
          {
            ...account('a2', 'beta'),
            row: { accountid: 'a2', name: 'beta', revenue: 2.5, active: false, city: null },
          },
          { ...account('a3', 'Gamma'), row: { accountid: 'a3', name: 'Gamma', revenue: '7', active: true } },
          { ...account('a4', 'Delta'), row: { accountid: 'a4', name: 'Delta', revenue: 10, city: 'Bergen' } },
          {
            ...account('a5', 'gone'),
            row: null,
            serverRow: { accountid: 'a5', name: 'gone' },
            pending: true,
          },
          {
            ...account('a6', 'Épsilon'),
            row: { accountid: 'a6', name: 'Épsilon', revenue: -1, active: false, city: 'Oslo' },
          },
        ];
        const queries: RowQuery[] = [
          { entity: 'account' },
          { entity: 'account', where: { city: 'Oslo' } },
          { entity: 'account', where: { city: null } },
          { entity: 'account', where: { city: { ne: 'Oslo' } } },
          { entity: 'account', where: { revenue: { gte: 2.5, lt: 10 } } },
          { entity: 'account', where: { revenue: { gt: '5' } } },
          { entity: 'account', where: { active: true } },
          { entity: 'account', where: { active: { ne: true } } },
          { entity: 'account', where: { name: { in: ['Alpha', 'Delta', 'nobody'] } } },
          { entity: 'account', where: { name: { in: [] } } },
          { entity: 'account', orderBy: [{ column: 'name' }] },
          { entity: 'account', orderBy: [{ column: 'revenue', direction: 'desc' }] },
          {
            entity: 'account',
            orderBy: [{ column: 'city' }, { column: 'revenue', direction: 'desc' }],
            limit: 3,
          },
          { entity: 'account', orderBy: [{ column: 'active' }], limit: 2, offset: 2 },
          { entity: 'account', offset: 4 },
          { entity: 'contact' },
        ];
        await inTx(store, async (tx) => {
          for (const row of rows) await tx.putRow(row);
        });
        await inTx(store, async (tx) => {
          if (!tx.queryRows) return;
          const all = await tx.listRows('account');
          for (const query of queries) {
            const checked = rowQuerySchema.parse(query);
            const expected = checked.entity === 'account' ? evaluateQuery(all, checked) : [];
            same(await tx.queryRows(checked), expected, `queryRows(${JSON.stringify(query)})`);
          }
        });
      }),
  },
  {
    name: 'the outbox keeps entries in the order added, with increasing seq; limit, per row, update, delete',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        const added = await inTx(store, async (tx) => [
          await tx.addOutbox(entry('op-1', 'a1', 'create')),
          await tx.addOutbox(entry('op-2', 'a2')),
          await tx.addOutbox({ ...entry('op-3', 'a1'), baseVersion: undefined, afterOpId: 'op-1' }),
          await tx.addOutbox(entry('op-4', 'a2', 'delete')),
        ]);
        check(
          added.every((e, i) => i === 0 || e.seq > added[i - 1]!.seq),
          `seq increases: ${added.map((e) => e.seq).join(', ')}`,
        );
        same(
          added[2],
          { ...entry('op-3', 'a1'), baseVersion: undefined, afterOpId: 'op-1', seq: added[2]!.seq },
          'addOutbox returns the entry with its seq',
        );
        same(await inTx(store, (tx) => tx.listOutbox()), added, 'listOutbox()');
        same(
          (await inTx(store, (tx) => tx.listOutbox(2))).map((e) => e.opId),
          ['op-1', 'op-2'],
          'listOutbox(2)',
        );
        same(
          (await inTx(store, (tx) => tx.outboxOf('account', 'a1'))).map((e) => e.opId),
          ['op-1', 'op-3'],
          'outboxOf(a1)',
        );
        same(await inTx(store, (tx) => tx.outboxOf('contact', 'a1')), [], 'outboxOf another entity');
        await inTx(store, (tx) =>
          tx.updateOutbox({ ...added[2]!, baseVersion: '9', afterOpId: undefined, row: { name: 'rebased' } }),
        );
        same(
          (await inTx(store, (tx) => tx.outboxOf('account', 'a1')))[1],
          { ...added[2]!, baseVersion: '9', afterOpId: undefined, row: { name: 'rebased' } },
          'updated entry',
        );
        await inTx(store, (tx) => tx.deleteOutbox('op-1'));
        same(
          (await inTx(store, (tx) => tx.listOutbox())).map((e) => e.opId),
          ['op-2', 'op-3', 'op-4'],
          'after deleteOutbox',
        );
        const later = await inTx(store, (tx) => tx.addOutbox(entry('op-5', 'a3')));
        check(later.seq > added[3]!.seq, 'a seq is never reused after a delete');
      }),
  },
  {
    name: 'sync errors: putSyncError adds or replaces by id, listed newest first; deleteSyncError',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        await inTx(store, async (tx) => {
          await tx.putSyncError(syncError('e1', '2026-01-01T00:00:00.000Z'));
          await tx.putSyncError(syncError('e2', '2026-01-03T00:00:00.000Z'));
          await tx.putSyncError(syncError('e3', '2026-01-02T00:00:00.000Z'));
        });
        same(
          (await inTx(store, (tx) => tx.listSyncErrors())).map((e) => e.id),
          ['e2', 'e3', 'e1'],
          'newest first',
        );
        const replaced = { ...syncError('e1', '2026-01-04T00:00:00.000Z'), status: 'conflict' as const };
        await inTx(store, (tx) => tx.putSyncError(replaced));
        same((await inTx(store, (tx) => tx.listSyncErrors()))[0], replaced, 'replaced error');
        await inTx(store, (tx) => tx.deleteSyncError('e2'));
        same(
          (await inTx(store, (tx) => tx.listSyncErrors())).map((e) => e.id),
          ['e1', 'e3'],
          'after delete',
        );
      }),
  },
  {
    name: 'a transaction that rejects writes nothing: rows, outbox, errors, checkpoint and metadata stay',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        await inTx(store, async (tx) => {
          await tx.putRow(account('a1', 'Before'));
          await tx.saveCheckpoint('cp-before');
        });
        const failure = new Error('work failed');
        let thrown: unknown;
        try {
          await inTx(store, async (tx) => {
            await tx.putRow(account('a1', 'After'));
            await tx.putRow(account('a2', 'New'));
            await tx.deleteRow('account', 'a1');
            await tx.addOutbox(entry('op-1', 'a1'));
            await tx.putSyncError(syncError('e1', '2026-01-01T00:00:00.000Z'));
            await tx.saveCheckpoint('cp-after');
            await tx.saveMetadata({ ...conformanceMetadata, metadataVersion: 5 });
            throw failure;
          });
        } catch (error) {
          thrown = error;
        }
        check(thrown === failure, 'transaction() rejects with the error its work threw');
        same(await inTx(store, (tx) => tx.listRows('account')), [account('a1', 'Before')], 'rows');
        same(await inTx(store, (tx) => tx.listOutbox()), [], 'outbox');
        same(await inTx(store, (tx) => tx.listSyncErrors()), [], 'errors');
        same(
          await inTx(store, (tx) => tx.readState()),
          { metadata: conformanceMetadata, checkpoint: 'cp-before' },
          'state',
        );
        // The store goes on working after a rollback.
        await inTx(store, (tx) => tx.putRow(account('a3', 'Later')));
        same((await inTx(store, (tx) => tx.listRows('account'))).length, 2, 'a write after the rollback');
      }),
  },
  {
    name: 'storage first created in a rejected transaction is there when a later one needs it',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        const lead = {
          ...conformanceMetadata.entities[0]!,
          logicalName: 'lead',
          primaryIdAttribute: 'leadid',
        };
        const withLead = {
          ...conformanceMetadata,
          metadataVersion: 2,
          entities: [...conformanceMetadata.entities, lead],
        };
        const row: LocalRow = {
          entity: 'lead',
          id: 'l1',
          row: { leadid: 'l1' },
          version: '1',
          pending: false,
        };
        const failure = new Error('work failed');
        let thrown: unknown;
        try {
          await inTx(store, async (tx) => {
            await tx.saveMetadata(withLead);
            await tx.putRow(row);
            throw failure;
          });
        } catch (error) {
          thrown = error;
        }
        check(thrown === failure, 'transaction() rejects with the error its work threw');
        same((await inTx(store, (tx) => tx.readState())).metadata, conformanceMetadata, 'metadata kept');
        same(await inTx(store, (tx) => tx.listRows('lead')), [], 'rows of lead after the rollback');
        await inTx(store, async (tx) => {
          await tx.saveMetadata(withLead);
          await tx.putRow(row);
        });
        same(
          await inTx(store, (tx) => tx.listRows('lead')),
          [row],
          'rows of lead written after the rollback',
        );
      }),
  },
  {
    name: 'transactions never overlap: concurrent ones run one after another and return their results',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        const order: string[] = [];
        const bump = (name: string) =>
          inTx(store, async (tx) => {
            order.push(`${name} start`);
            const held = await tx.getRow('account', 'counter');
            // Yield between the read and the write: an overlapping transaction would read the same value.
            await new Promise<void>((resolve) => setTimeout(resolve, 0));
            const n = Number(held?.row?.n ?? 0) + 1;
            await tx.putRow({
              entity: 'account',
              id: 'counter',
              row: { n },
              version: String(n),
              pending: false,
            });
            order.push(`${name} end`);
            return n;
          });
        const results = await Promise.all([bump('a'), bump('b'), bump('c')]);
        same(results, [1, 2, 3], 'each transaction saw the one before it');
        same(order, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end'], 'order of transactions');
      }),
  },
  {
    name: 'a rejected transaction does not stop the ones queued after it',
    applies: always,
    run: (factory) =>
      withStore(factory, async (store) => {
        const failing = inTx(store, async () => {
          throw new Error('first fails');
        });
        const next = inTx(store, async (tx) => {
          await tx.putRow(account('a1', 'Second'));
          return 'ok';
        });
        const [first, second] = await Promise.allSettled([failing, next]);
        check(first.status === 'rejected', 'the failing transaction rejects');
        same(second, { status: 'fulfilled', value: 'ok' }, 'the queued transaction');
      }),
  },
  {
    name: 'what was committed is there after close and reopen',
    applies: (factory) => factory.reopen !== undefined,
    async run(factory) {
      const store = await factory.open();
      await inTx(store, async (tx) => {
        await tx.saveMetadata(conformanceMetadata);
        await tx.saveCheckpoint('cp-kept');
        await tx.putRow(account('a1', 'Kept'));
        await tx.addOutbox(entry('op-1', 'a1'));
        await tx.putSyncError(syncError('e1', '2026-01-01T00:00:00.000Z'));
      });
      await store.close();
      const again = await factory.reopen!();
      try {
        same(
          await inTx(again, (tx) => tx.readState()),
          { metadata: conformanceMetadata, checkpoint: 'cp-kept' },
          'state after reopen',
        );
        same(await inTx(again, (tx) => tx.listRows('account')), [account('a1', 'Kept')], 'rows after reopen');
        same(
          (await inTx(again, (tx) => tx.listOutbox())).map((e) => e.opId),
          ['op-1'],
          'outbox after reopen',
        );
        same(
          (await inTx(again, (tx) => tx.listSyncErrors())).map((e) => e.id),
          ['e1'],
          'errors after reopen',
        );
        const next = await inTx(again, (tx) => tx.addOutbox(entry('op-2', 'a1')));
        const first = (await inTx(again, (tx) => tx.listOutbox()))[0]!;
        check(next.seq > first.seq, 'seq keeps increasing after reopen');
      } finally {
        await again.close();
      }
    },
  },
];

/** One case's outcome from {@link runLocalStoreConformance}. */
export interface ConformanceResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  error?: string;
}

/** Runs every case one after another (anywhere: no test framework needed) and reports each. */
export async function runLocalStoreConformance(factory: LocalStoreFactory): Promise<ConformanceResult[]> {
  const results: ConformanceResult[] = [];
  for (const c of localStoreConformanceCases) {
    if (!c.applies(factory)) {
      results.push({ name: c.name, status: 'skipped' });
      continue;
    }
    try {
      await c.run(factory);
      results.push({ name: c.name, status: 'passed' });
    } catch (error) {
      results.push({
        name: c.name,
        status: 'failed',
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return results;
}

/** The test framework's `describe` and `it` (jest, vitest, mocha and node:test all fit). */
export interface TestFramework {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
}

/** Declares the suite as one `describe` with an `it` per case that applies to the store. */
export function describeLocalStoreConformance(
  name: string,
  factory: LocalStoreFactory,
  framework: TestFramework,
): void {
  framework.describe(`LocalStore conformance: ${name}`, () => {
    for (const c of localStoreConformanceCases)
      if (c.applies(factory)) framework.it(c.name, () => c.run(factory));
  });
}
