import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import cosmosServer from '@vercel/cosmosdb-server';

/** The key @vercel/cosmosdb-server accepts (the emulator's well-known key). */
export const EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/** A Cosmos DB API-compatible server in this process (what the tests start), on a loopback port. */
export interface LocalCosmosServer {
  /** `https://127.0.0.1:<port>` (a self-signed certificate: allow insecure TLS). */
  endpoint: string;
  close(): Promise<void>;
}

/** Starts @vercel/cosmosdb-server on a free loopback port. */
export async function startCosmosServer(): Promise<LocalCosmosServer> {
  const server: Server = cosmosServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
