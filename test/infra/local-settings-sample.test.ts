import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadSettings, settingsSchema } from '../../shared/config';
import { repoRoot } from './bicep-source';

/**
 * local.settings.sample.json (the Functions Core Tools format) lists every setting the product
 * reads, so a developer copying it to local.settings.json sees them all, and its values start.
 */

const sampleSchema = z.object({
  IsEncrypted: z.literal(false),
  Values: z.record(z.string(), z.string()),
});

const sample = sampleSchema.parse(
  JSON.parse(readFileSync(join(repoRoot, 'local.settings.sample.json'), 'utf8')),
);

/** Settings of the Functions host itself that a local.settings.json needs. */
const hostSettings = ['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage'];

describe('local.settings.sample.json', () => {
  const keys = Object.keys(sample.Values);
  const schemaKeys = Object.keys(settingsSchema.shape);

  it('lists every setting the schema reads', () => {
    expect(schemaKeys.filter((key) => !keys.includes(key))).toEqual([]);
  });

  it('lists nothing else but the Functions host settings', () => {
    expect(keys.filter((key) => !schemaKeys.includes(key) && !hostSettings.includes(key))).toEqual([]);
  });

  it('runs the Node.js worker against the storage emulator', () => {
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(sample.Values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
  });

  it('holds values the settings schema accepts', () => {
    expect(() => loadSettings(sample.Values)).not.toThrow();
  });
});
