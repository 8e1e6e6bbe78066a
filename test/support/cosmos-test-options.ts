import { randomBytes } from 'node:crypto';
import type { CosmosStoreOptions } from '../../shared/store/cosmos';

/**
 * Options for a Cosmos store against the test endpoint (the in-process server of the global setup,
 * or COSMOS_ENDPOINT), with a control database and tenant prefix of its own so that runs sharing an
 * account never meet.
 */
export function cosmosTestOptions(overrides: Partial<CosmosStoreOptions> = {}): CosmosStoreOptions {
  const endpoint = process.env.COSMOS_TEST_ENDPOINT;
  if (endpoint === undefined || endpoint === '')
    throw new Error('COSMOS_TEST_ENDPOINT is not set (jest global setup)');
  const run = randomBytes(4).toString('hex');
  return {
    endpoint,
    key: process.env.COSMOS_TEST_KEY ?? '',
    allowInsecureTls: process.env.COSMOS_TEST_INSECURE === 'true',
    controlDatabase: `test-control-${run}`,
    databasePrefix: `test-${run}-`,
    ...overrides,
  };
}
