import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { defineRoute, type RouteDefinition } from '../../functions/http/route-definition';
import type { HttpRuntime } from '../../functions/http/handle-request';
import type { AppServices } from '../../shared/app-services';
import type { TokenVerifier } from '../../shared/auth/token-verifier';
import { loadSettings } from '../../shared/config';
import { LOCAL_DEFAULTS } from '../../local/local-defaults';
import { createLocalHttpServer } from '../../local/http-server';

/**
 * Routes named like the device sync routes, whose handlers wait until the test lets them finish, and
 * one other route: the local server must run at most LOCAL_SYNC_CONCURRENCY sync answers at once, in
 * arrival order, and never hold other routes behind them.
 */
describe('the local HTTP server', () => {
  let server: Server;
  let url: string;
  const running: string[] = [];
  let mostAtOnce = 0;
  const releases: (() => void)[] = [];

  const waitingRoute = (name: string, route: string): RouteDefinition =>
    defineRoute({
      name,
      method: 'POST',
      route,
      auth: 'none',
      summary: name,
      async handler() {
        running.push(name);
        mostAtOnce = Math.max(mostAtOnce, running.length);
        await new Promise<void>((resolve) => releases.push(resolve));
        running.splice(running.indexOf(name), 1);
        return { body: { name } };
      },
    });

  beforeAll(async () => {
    const routes = [
      waitingRoute('syncDownload', 'api/sync/{org}/download'),
      waitingRoute('syncUpload', 'api/sync/{org}/upload'),
      defineRoute({
        name: 'health',
        method: 'GET',
        route: 'api/health',
        auth: 'none',
        summary: 'health',
        handler: () => Promise.resolve({ body: { ok: true } }),
      }),
    ];
    const settings = loadSettings({ ...LOCAL_DEFAULTS, LOCAL_SYNC_CONCURRENCY: '2' });
    const runtime: HttpRuntime = {
      services: { settings } as unknown as AppServices,
      verifier: {} as TokenVerifier,
    };
    server = createLocalHttpServer(routes, runtime, () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const until = async (condition: () => boolean): Promise<void> => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  };

  it('answers at most LOCAL_SYNC_CONCURRENCY device syncs at once, and other routes meanwhile', async () => {
    const answers = ['download', 'upload', 'download', 'upload', 'download'].map((kind) =>
      fetch(`${url}/api/sync/contoso/${kind}`, { method: 'POST' }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { name: string },
      })),
    );
    await until(() => running.length === 2);
    // Give the three others every chance to start too, had the gate let them.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(running).toHaveLength(2);

    // Health is not a sync route: it answers while both slots are taken.
    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);

    while (releases.length > 0 || running.length > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const done = await Promise.all(answers);
    expect(done.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(done.map((a) => a.body.name)).toEqual([
      'syncDownload',
      'syncUpload',
      'syncDownload',
      'syncUpload',
      'syncDownload',
    ]);
    // Never more than the limit, though five were asked for at once (the order is the gate's own test).
    expect(mostAtOnce).toBe(2);
  });
});
