import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { settingsSchema } from '../../shared/config';
import { repoRoot } from './bicep-source';

/**
 * host.json as the Functions host needs it for this app: the extension bundle that carries Durable
 * Functions and the Service Bus extension, an empty route prefix (the route table writes `api/`
 * itself, because Functions refuses routes starting with `admin` under the default prefix), a
 * Durable task hub name, bounded Service Bus concurrency, and sampling that never drops requests;
 * an explicit function timeout that Service Bus lock renewal covers, and that one replication
 * message's read budget fits inside.
 */

/** A host.json time span, `hh:mm:ss`, in seconds. */
const timeSpan = z
  .string()
  .regex(/^\d{2}:\d{2}:\d{2}$/)
  .transform((span) => {
    const [h, m, s] = span.split(':').map(Number) as [number, number, number];
    return h * 3600 + m * 60 + s;
  });

const hostJsonSchema = z.object({
  version: z.literal('2.0'),
  functionTimeout: timeSpan,
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
      maxAutoLockRenewalDuration: timeSpan,
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

  it('sets the function timeout explicitly, with Service Bus lock renewal at or above it', () => {
    // Flex Consumption's default is 30 min, and a timeout restarts the whole Node worker: every
    // invocation is split to end well before the explicit one instead (REPLICATION_READ_MAX_SECONDS,
    // provisioning's chunks).
    expect(hostJson.functionTimeout).toBe(600);
    // A message whose handler may still run keeps its lock: it is never redelivered beside itself.
    expect(hostJson.extensions.serviceBus.maxAutoLockRenewalDuration).toBeGreaterThanOrEqual(
      hostJson.functionTimeout,
    );
  });

  it('keeps one replication message’s read budget inside the function timeout, with a page to spare', () => {
    const budget = settingsSchema.shape.REPLICATION_READ_MAX_SECONDS;
    const defaultSeconds = budget.parse(undefined);
    expect(defaultSeconds).toBeLessThanOrEqual(hostJson.functionTimeout / 2);
    // The largest budget the settings accept still leaves two minutes for the page in hand.
    expect(budget.safeParse(String(hostJson.functionTimeout - 120)).success).toBe(true);
    expect(budget.safeParse(String(hostJson.functionTimeout - 119)).success).toBe(false);
  });
});
