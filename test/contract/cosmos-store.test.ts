import { CosmosClient } from '@azure/cosmos';
import { Agent } from 'node:https';
import { createCosmosStore } from '../../shared/store/cosmos';
import type { CosmosStoreOptions } from '../../shared/store/cosmos';
import { cosmosTestOptions } from '../support/cosmos-test-options';
import { describeStoreContract } from './store-contract';

/** Deletes the control database a test store created (tenant databases are dropped by the suite). */
async function deleteControlDatabase(options: CosmosStoreOptions): Promise<void> {
  const client = new CosmosClient({
    endpoint: options.endpoint,
    key: options.key ?? '',
    ...(options.allowInsecureTls === true ? { agent: new Agent({ rejectUnauthorized: false }) } : {}),
  });
  try {
    await client.database(options.controlDatabase).delete();
  } catch (error) {
    if ((error as { code?: unknown }).code !== 404) throw error;
  } finally {
    client.dispose();
  }
}

describeStoreContract('Cosmos store', () => {
  const options = cosmosTestOptions();
  const store = createCosmosStore(options);
  return Promise.resolve({
    store,
    cleanup: async () => {
      await store.close();
      await deleteControlDatabase(options);
    },
  });
});
