import type { Server } from 'node:https';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __cosmosServer?: Server }).__cosmosServer;
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
