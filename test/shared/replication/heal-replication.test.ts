import { declareEntityMetadata, publishCustomizations } from '../../../shared/admin/entity-config';
import type { EntityMetadata } from '../../../shared/model/entity';
import type { QueueHandler } from '../../../shared/queue/port';
import { processReplicationMessage, syncEntityMessage } from '../../../shared/replication';
import { HEALING_SLACK_MS, healReplication } from '../../../shared/replication/heal-replication';
import { readSyncSchedule } from '../../../shared/replication/sync-schedule';
import type { TenantStore } from '../../../shared/store/port';
import { setTenantState } from '../../../shared/tenants/tenant-registry';
import { testEntities } from '../../support/offline-config-fixtures';
import { createReplicationFixture, ORG, type ReplicationFixture } from './replication-fixture';

/**
 * Replication heals itself (issue 14): a chain whose run died before scheduling the next is revived,
 * an entity enabled after provisioning gets its chain without re-provisioning, and a publish is
 * followed by a metadataRefresh.
 */

const CONTACT = testEntities().find((e) => e.logicalName === 'contact')!;
const ACCOUNT = testEntities().find((e) => e.logicalName === 'account')!;
/** The entity without its relationships, so it publishes without the entities they name. */
const alone = (entity: EntityMetadata): EntityMetadata => ({ ...entity, relationships: [] });
const INTERVAL_MS = 900_000;

describe('healReplication', () => {
  let fixture: ReplicationFixture;
  let store: TenantStore;
  let bodies: { type: string; entity?: string; runId?: string }[];
  const run: QueueHandler = async (body, delivery) => {
    bodies.push(body as (typeof bodies)[number]);
    await processReplicationMessage(fixture.services, body, delivery);
  };

  beforeEach(async () => {
    fixture = await createReplicationFixture({ maxDeliveryCount: 1 });
    store = fixture.store.tenant(ORG);
    bodies = [];
    await declareEntityMetadata(store, fixture.clock, alone(ACCOUNT));
    await publishCustomizations(store, fixture.clock);
    fixture.source.upsert('a', { name: 'A' });
    // Provisioned: account's chain runs.
    await fixture.queue.send(syncEntityMessage(ORG, 'account'));
    await fixture.queue.drain(run);
  });
  afterEach(() => fixture.close());

  it('revives a chain whose run dead-lettered before it scheduled the next one, once it is past due plus slack', async () => {
    const { queue, clock, source } = fixture;
    expect(queue.counts()).toMatchObject({ scheduled: 1 });
    // The scheduled run dies before it schedules (a crash on its only delivery): the chain ends.
    clock.advance(INTERVAL_MS);
    await queue.drain(async () => {
      throw new Error('host died');
    });
    expect(queue.counts()).toMatchObject({ scheduled: 0, pending: 0, deadLettered: 1 });
    const due = (await readSyncSchedule(store, 'account'))!;

    // Not yet: a delivery may still be on its way.
    clock.advance(HEALING_SLACK_MS);
    expect(await healReplication(fixture.services)).toEqual([{ org: ORG, revived: [], started: [] }]);

    clock.advance(1);
    source.upsert('b', { name: 'B' });
    expect(await healReplication(fixture.services)).toEqual([
      { org: ORG, revived: ['account'], started: [] },
    ]);
    await queue.drain(run);
    // The revived message is the run that was due, so it schedules the next one: the chain lives again.
    expect(bodies.at(-1)).toMatchObject({ type: 'syncEntity', entity: 'account', runId: due.nextRunId });
    expect(await store.getRecord('account', 'b')).toMatchObject({ attributes: { name: 'B' } });
    const next = (await readSyncSchedule(store, 'account'))!;
    expect(next.nextRunAt.getTime()).toBe(clock.now().getTime() + INTERVAL_MS);
    expect(queue.counts()).toMatchObject({ scheduled: 1 });
    expect(await healReplication(fixture.services)).toEqual([{ org: ORG, revived: [], started: [] }]);
  });

  it('starts a chain for an entity enabled after provisioning, which is then replicated without re-provisioning', async () => {
    await declareEntityMetadata(store, fixture.clock, alone(CONTACT));
    await publishCustomizations(store, fixture.clock);
    expect(await readSyncSchedule(store, 'contact')).toBeUndefined();

    expect(await healReplication(fixture.services)).toMatchObject([{ revived: [], started: ['contact'] }]);
    await fixture.queue.drain(run);
    expect(await store.countRecords('contact')).toBe(1);
    expect(await readSyncSchedule(store, 'contact')).toBeDefined();
    expect(fixture.queue.counts()).toMatchObject({ scheduled: 2 });
    expect(await healReplication(fixture.services)).toMatchObject([{ started: [] }]);
  });

  it('sends a metadataRefresh once after each publish', async () => {
    // The first healing takes the publishes provisioning made as read.
    expect((await healReplication(fixture.services))[0]).not.toHaveProperty('metadataRefreshFor');
    await publishCustomizations(store, fixture.clock);
    expect((await healReplication(fixture.services))[0]).toMatchObject({ metadataRefreshFor: 2 });
    expect((await healReplication(fixture.services))[0]).not.toHaveProperty('metadataRefreshFor');
    const sent: unknown[] = [];
    await fixture.queue.drain(async (body) => void sent.push(body));
    expect(sent).toEqual([{ type: 'metadataRefresh', v: 1, org: ORG }]);
  });

  it('leaves a tenant whose provisioning has not completed to provisioning', async () => {
    await setTenantState(fixture.store, fixture.clock, ORG, 'provisioning');
    fixture.clock.advance(INTERVAL_MS + HEALING_SLACK_MS + 1);
    expect(await healReplication(fixture.services)).toEqual([]);
  });
});
