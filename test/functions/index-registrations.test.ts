/**
 * functions/index.ts registers every route of the route table with app.http, the replication queue's
 * Service Bus trigger and the provisioning orchestration: checked by capturing the registrations
 * (outside the Functions host, @azure/functions would skip them).
 */
const httpRegistrations: {
  name: string;
  options: { methods: string[]; route: string; authLevel: string; extraInputs: unknown[] };
}[] = [];
const queueRegistrations: { name: string; options: { connection: string; queueName: string } }[] = [];

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

  it('registers the provisioning orchestrator and its activities', () => {
    expect(orchestrations).toHaveLength(1);
    expect(activities.length).toBeGreaterThan(0);
  });
});
