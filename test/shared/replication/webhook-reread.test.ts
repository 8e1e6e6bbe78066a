import { ingestDataverseContext } from '../../../shared/ingest/ingest-changes';
import type { QueueSender, SendOptions } from '../../../shared/queue/port';
import {
  MAX_MESSAGE_BODY_BYTES,
  processReplicationMessage,
  recordChangedMessage,
  replicationMessageSchema,
} from '../../../shared/replication';
import { createLocalSource } from '../../../shared/sources/local';
import type { DataverseFixture } from '../sources/dataverse/dataverse-fixture';
import { startDataverseFixture } from '../sources/dataverse/dataverse-fixture';
import { createReplicationFixture, ORG, type ReplicationFixture } from './replication-fixture';

/**
 * A Dataverse webhook whose row is too large for a 256 KB Service Bus message (issue 14): the message
 * carries the row's id, not the row, and the handler reads the row back from the source.
 */

const ID = '6d81597f-0f9f-e711-8122-000d3aa2331c';
const CONTRACTS = 'http://schemas.microsoft.com/xrm/2011/Contracts';

/** A Dataverse Update context (JSON as the webhook posts it) whose Target and post image carry `pairs`. */
function updateContext(pairs: Record<string, unknown>, rowVersion: string): unknown {
  const entity = {
    __type: `Entity:${CONTRACTS}`,
    LogicalName: 'account',
    Id: ID,
    Attributes: Object.entries(pairs).map(([key, value]) => ({ key, value })),
    RowVersion: rowVersion,
  };
  return {
    MessageName: 'Update',
    PrimaryEntityName: 'account',
    PrimaryEntityId: ID,
    InitiatingUserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
    Depth: 1,
    InputParameters: [{ key: 'Target', value: entity }],
    OutputParameters: [],
    PreEntityImages: [],
    PostEntityImages: [{ key: 'PostImage', value: entity }],
  };
}

/** What a queue would carry: each body as it would be sent, checked against the message size. */
class CapturingQueue implements QueueSender {
  readonly sent: { body: unknown; bytes: number; options?: SendOptions }[] = [];
  send(body: unknown, options?: SendOptions): Promise<void> {
    this.sent.push({ body, bytes: Buffer.byteLength(JSON.stringify(body)), ...(options ? { options } : {}) });
    return Promise.resolve();
  }
  async sendBatch(bodies: readonly unknown[]): Promise<void> {
    for (const body of bodies) await this.send(body);
  }
}

const delivery = { messageId: 'm1', deliveryCount: 1, enqueuedAt: new Date('2026-03-01T10:00:00Z') };

describe('webhook rows too large for a queue message', () => {
  let fixture: ReplicationFixture;
  let dataverse: DataverseFixture;

  beforeEach(async () => {
    fixture = await createReplicationFixture();
    dataverse = await startDataverseFixture();
  });
  afterEach(async () => {
    await dataverse.server.close();
    await fixture.close();
  });

  it('queues the id only, and the handler reads the row back from Dataverse', async () => {
    const notes = 'n'.repeat(300_000);
    const version = dataverse.server.tables.upsert('accounts', {
      accountid: ID,
      name: 'Fabrikam',
      revenue: 42,
      description: notes,
    });
    const queue = new CapturingQueue();
    const accepted = await ingestDataverseContext(
      queue,
      ORG,
      updateContext({ accountid: ID, name: 'Fabrikam', description: notes }, String(version)),
    );
    expect(accepted).toEqual({ accepted: 1, queued: 1 });
    const [message] = queue.sent;
    expect(message!.bytes).toBeLessThan(MAX_MESSAGE_BODY_BYTES);
    expect(message!.body).toEqual({
      type: 'recordChanged',
      v: 1,
      org: ORG,
      entity: 'account',
      id: ID,
      op: 'upsert',
      attributes: {},
      version: String(version),
      origin: 'dataverse',
      reread: true,
    });
    expect(replicationMessageSchema.safeParse(message!.body).success).toBe(true);

    dataverse.server.requests.length = 0;
    const services = { ...fixture.services, sourceFor: () => dataverse.source };
    const outcome = await processReplicationMessage(services, message!.body, delivery);
    expect(outcome).toEqual({ outcome: 'applied', applied: 1, stale: 0, skipped: 0 });
    // One read of the row (after the entity set's name), with the columns of the tenant's metadata.
    const rowReads = dataverse.server.requests.filter((r) => r.url.startsWith('/api/data/v9.2/accounts'));
    expect(rowReads.map((r) => r.url.split('?')[0])).toEqual([`/api/data/v9.2/accounts(${ID})`]);
    expect(rowReads[0]!.url).toContain('$select=accountid,name,revenue,');
    const stored = await fixture.store.tenant(ORG).getRecord('account', ID);
    expect(stored).toMatchObject({ version: String(version), attributes: { name: 'Fabrikam', revenue: 42 } });
    // `description` is not a column of the tenant's account metadata: not read, not stored.
    expect(stored!.attributes).not.toHaveProperty('description');
  });

  it('keeps rows that fit in the message whole', () => {
    const small = recordChangedMessage({
      org: ORG,
      entity: 'account',
      id: ID,
      op: 'upsert',
      attributes: { name: 'x'.repeat(1000) },
      version: '7',
      origin: 'dataverse',
      partial: true,
    });
    expect(small).toMatchObject({ attributes: { name: 'x'.repeat(1000) }, partial: true });
    expect(small).not.toHaveProperty('reread');
  });

  it('counts a row the source no longer has as skipped (its delete comes by change tracking)', async () => {
    const message = recordChangedMessage({
      org: ORG,
      entity: 'account',
      id: ID,
      op: 'upsert',
      attributes: { description: 'd'.repeat(MAX_MESSAGE_BODY_BYTES) },
      version: '7',
      origin: 'dataverse',
    });
    expect(message.reread).toBe(true);
    const services = { ...fixture.services, sourceFor: () => dataverse.source };
    expect(await processReplicationMessage(services, message, delivery)).toEqual({
      outcome: 'applied',
      applied: 0,
      stale: 0,
      skipped: 1,
    });
    expect(await fixture.store.tenant(ORG).getRecord('account', ID)).toBeUndefined();
  });

  it('asks for a change-tracking read of the entity when the source cannot read rows by id', async () => {
    const queue = new CapturingQueue();
    const local = createLocalSource(fixture.store.tenant(ORG));
    const { readRows, ...withoutRowReads } = local;
    void readRows;
    const services = { ...fixture.services, queue, sourceFor: () => withoutRowReads };
    const message = recordChangedMessage({
      org: ORG,
      entity: 'account',
      id: ID,
      op: 'upsert',
      attributes: { description: 'd'.repeat(MAX_MESSAGE_BODY_BYTES) },
      version: '7',
      origin: 'dataverse',
    });
    expect(await processReplicationMessage(services, message, delivery)).toMatchObject({
      outcome: 'applied',
    });
    expect(queue.sent.map((m) => m.body)).toEqual([
      { type: 'syncEntity', v: 1, org: ORG, entity: 'account' },
    ]);
  });

  it('trims what a webhook row carries to the columns replication reads', async () => {
    const settings = { ...fixture.services.settings, REPLICATION_EXCLUDED_COLUMNS: ['account.revenue'] };
    const message = recordChangedMessage({
      org: ORG,
      entity: 'account',
      id: ID,
      op: 'upsert',
      attributes: { name: 'Trimmed', revenue: 5 },
      version: '3',
      origin: 'dataverse',
    });
    await processReplicationMessage({ ...fixture.services, settings }, message, delivery);
    expect((await fixture.store.tenant(ORG).getRecord('account', ID))!.attributes).toEqual({
      name: 'Trimmed',
    });
  });
});
