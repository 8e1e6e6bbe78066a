/**
 * functions/index.ts registers every route of the route table with app.http, the replication queue's
 * Service Bus trigger and the provisioning orchestration: checked by capturing the registrations
 * (outside the Functions host, @azure/functions would skip them).
 */
const httpRegistrations: {
  name: string;
  options: { methods: string[]; route: string; authLevel: string; extraInputs: unknown[] };
}[] = [];
const queueRegistrations: {
  name: string;
  options: {
    connection: string;
    queueName: string;
    handler: (message: unknown, context: InvocationContext) => Promise<void>;
  };
}[] = [];

const timerRegistrations: {
  name: string;
  options: { schedule: string; handler: (timer: unknown, context: InvocationContext) => Promise<void> };
}[] = [];

jest.mock('@azure/functions', () => {
  const actual = jest.requireActual<typeof AzureFunctions>('@azure/functions');
  return {
    ...actual,
    app: {
      ...actual.app,
      http: (name: string, options: (typeof httpRegistrations)[number]['options']) =>
        httpRegistrations.push({ name, options }),
      serviceBusQueue: (name: string, options: (typeof queueRegistrations)[number]['options']) =>
        queueRegistrations.push({ name, options }),
      timer: (name: string, options: (typeof timerRegistrations)[number]['options']) =>
        timerRegistrations.push({ name, options }),
    },
  };
});

const orchestrations: string[] = [];
const activities: string[] = [];
jest.mock('durable-functions', () => {
  const actual = jest.requireActual<typeof DurableFunctions>('durable-functions');
  return {
    ...actual,
    app: {
      ...actual.app,
      orchestration: (name: string) => orchestrations.push(name),
      activity: (name: string) => activities.push(name),
    },
  };
});

// The trigger's runtime and handler, so the test sees what the trigger passes on.
const handleReplicationMessage = jest.fn(async () => undefined);
jest.mock('../../shared/replication', () => ({
  ...jest.requireActual<object>('../../shared/replication'),
  handleReplicationMessage: (...args: unknown[]) => handleReplicationMessage(...(args as [])),
}));
const healReplication = jest.fn(async () => [{ org: 'contoso', revived: ['account'], started: [] }]);
jest.mock('../../shared/replication/heal-replication', () => ({
  healReplication: (...args: unknown[]) => healReplication(...(args as [])),
}));
jest.mock('../../shared/config', () => ({
  ...jest.requireActual<object>('../../shared/config'),
  loadSettings: () => ({}),
}));
jest.mock('../../shared/create-app-runtime', () => ({
  createAppRuntime: async () => ({ services: { settings: { REPLICATION_QUEUE_MAX_DELIVERY_COUNT: 7 } } }),
}));

import { InvocationContext } from '@azure/functions';
import type * as AzureFunctions from '@azure/functions';
import type * as DurableFunctions from 'durable-functions';
import { routes } from '../../functions/routes';
import '../../functions/index';

describe('functions/index.ts registrations', () => {
  it('registers every route once, with its method and template, anonymous (the adapter authenticates)', () => {
    expect(httpRegistrations.map((r) => r.name).sort()).toEqual(routes.map((r) => r.name).sort());
    for (const route of routes) {
      const registration = httpRegistrations.find((r) => r.name === route.name)!;
      expect(registration.options.methods).toEqual([route.method]);
      expect(registration.options.route).toBe(route.route);
      expect(registration.options.authLevel).toBe('anonymous');
    }
  });

  it('never names a function or route starting with "admin" (Functions rejects them)', () => {
    for (const { name, options } of httpRegistrations) {
      expect(name.toLowerCase().startsWith('admin')).toBe(false);
      expect(options.route.startsWith('admin')).toBe(false);
    }
  });

  it('gives the durable client input only to routes that start orchestrations', () => {
    const withClient = httpRegistrations.filter((r) => r.options.extraInputs.length > 0).map((r) => r.name);
    expect(withClient).toEqual(routes.filter((r) => r.durableClient).map((r) => r.name));
    expect(withClient.length).toBeGreaterThan(0);
  });

  it('registers the replication queue trigger on the identity-based connection and the configured queue', () => {
    expect(queueRegistrations).toEqual([
      {
        name: 'replicationQueue',
        options: expect.objectContaining({
          connection: 'ServiceBusConnection',
          queueName: '%REPLICATION_QUEUE_NAME%',
        }),
      },
    ]);
  });

  it("passes each delivery on with the queue's max delivery count, poison retried by the host", async () => {
    const context = new InvocationContext({
      invocationId: 'inv-1',
      triggerMetadata: { messageId: 'm-1', deliveryCount: 2, enqueuedTimeUtc: '2026-03-01T10:00:00.000Z' },
    });
    await queueRegistrations[0]!.options.handler({ type: 'recordChanged' }, context);
    expect(handleReplicationMessage).toHaveBeenCalledWith(
      { settings: { REPLICATION_QUEUE_MAX_DELIVERY_COUNT: 7 } },
      { type: 'recordChanged' },
      {
        messageId: 'm-1',
        deliveryCount: 2,
        enqueuedAt: new Date('2026-03-01T10:00:00.000Z'),
        maxDeliveryCount: 7,
        poisonDeadLettersAtOnce: false,
      },
    );
  });

  it('registers the provisioning orchestrator and its activities', () => {
    expect(orchestrations).toHaveLength(1);
    expect(activities.length).toBeGreaterThan(0);
  });

  it('registers the replication healing timer every 5 minutes, running the shared healer', async () => {
    expect(timerRegistrations.map((r) => [r.name, r.options.schedule])).toEqual([
      ['replicationHealing', '0 */5 * * * *'],
    ]);
    await timerRegistrations[0]!.options.handler({}, new InvocationContext({ invocationId: 'inv-2' }));
    expect(healReplication).toHaveBeenCalledWith({ settings: { REPLICATION_QUEUE_MAX_DELIVERY_COUNT: 7 } });
  });
});
