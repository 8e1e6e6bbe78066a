import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import cosmosServer from '@vercel/cosmosdb-server';

/**
 * Starts a Cosmos DB API-compatible server in-process on a free loopback port for the Cosmos
 * adapter's tests, unless COSMOS_ENDPOINT points the suite at a real emulator or account.
 * Workers inherit the endpoint through the environment.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.COSMOS_ENDPOINT) {
    process.env.COSMOS_TEST_ENDPOINT = process.env.COSMOS_ENDPOINT;
    process.env.COSMOS_TEST_KEY = process.env.COSMOS_KEY ?? '';
    // The Cosmos DB emulator serves a self-signed certificate too.
    process.env.COSMOS_TEST_INSECURE = process.env.COSMOS_ALLOW_INSECURE_TLS ?? 'false';
    return;
  }
  const server: Server = cosmosServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  (globalThis as { __cosmosServer?: Server }).__cosmosServer = server;
  process.env.COSMOS_TEST_ENDPOINT = `https://127.0.0.1:${port}`;
  process.env.COSMOS_TEST_KEY =
    'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';
  process.env.COSMOS_TEST_INSECURE = 'true';
}
