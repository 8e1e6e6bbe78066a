import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { repoRoot } from './bicep-source';

/**
 * host.json as the Functions host needs it for this app: the extension bundle that carries Durable
 * Functions and the Service Bus extension, an empty route prefix (the route table writes `api/`
 * itself, because Functions refuses routes starting with `admin` under the default prefix), a
 * Durable task hub name, bounded Service Bus concurrency, and sampling that never drops requests.
 */

const hostJsonSchema = z.object({
  version: z.literal('2.0'),
  extensionBundle: z.object({
    id: z.literal('Microsoft.Azure.Functions.ExtensionBundle'),
    version: z.string(),
  }),
  extensions: z.object({
    http: z.object({ routePrefix: z.literal('') }),
    durableTask: z.object({
      // Task hub names: a letter, then letters and digits, 3 to 45 characters (or an app setting).
      hubName: z.string().regex(/^([A-Za-z][A-Za-z0-9]{2,44}|%[A-Za-z_][A-Za-z0-9_]*%)$/),
    }),
    serviceBus: z.object({
      maxConcurrentCalls: z.number().int().positive(),
      prefetchCount: z.number().int().min(0),
      autoCompleteMessages: z.boolean(),
    }),
  }),
  logging: z.object({
    applicationInsights: z.object({
      samplingSettings: z.object({ isEnabled: z.boolean(), excludedTypes: z.string() }),
    }),
  }),
});

const hostJson = hostJsonSchema.parse(JSON.parse(readFileSync(join(repoRoot, 'host.json'), 'utf8')));

describe('host.json', () => {
  it('uses extension bundle 4.x, which has Durable Functions and identity-based Service Bus', () => {
    const range = /^\[(\d+)\.\*,\s*(\d+)\.0\.0\)$/.exec(hostJson.extensionBundle.version);
    expect(range).not.toBeNull();
    expect(Number(range![1])).toBe(4);
    expect(Number(range![2])).toBe(5);
  });

  it('lets the route table own the api/ prefix', () => {
    expect(hostJson.extensions.http.routePrefix).toBe('');
  });

  it('names the Durable task hub', () => {
    expect(hostJson.extensions.durableTask.hubName.length).toBeGreaterThanOrEqual(3);
  });

  it('bounds Service Bus concurrency and lets failures reach the dead-letter queue', () => {
    const serviceBus = hostJson.extensions.serviceBus;
    expect(serviceBus.maxConcurrentCalls).toBeLessThanOrEqual(64);
    // Completing on success and abandoning on throw is what makes maxDeliveryCount count failures.
    expect(serviceBus.autoCompleteMessages).toBe(true);
  });

  it('never samples away requests', () => {
    expect(hostJson.logging.applicationInsights.samplingSettings.excludedTypes.split(';')).toContain(
      'Request',
    );
  });
});
