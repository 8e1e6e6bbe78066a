import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runDeviceCommand } from '../../local/device-command';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

/** The device simulator (`npm run device`) against the local host. */
describe('device simulator', () => {
  let f: HostFixture;

  beforeAll(async () => {
    f = await startHostFixture();
  });
  afterAll(() => f.close());

  function capture() {
    const out: string[] = [];
    let err = '';
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        err += chunk.toString();
        done();
      },
    });
    return { out, stderr: () => err, io: { out: (line: string) => void out.push(line), err: stream } };
  }

  const base = () => ['--org', 'contoso', '--data', f.dataDir, '--url', f.host.url];

  it('syncs a user into DATA/devices/USER.db with a progress bar, then uploads random offline edits', async () => {
    const first = capture();
    expect(
      await runDeviceCommand([...base(), '--user', 'frank', '--page-size', '20'], f.host.settings, first.io),
    ).toBe(0);
    expect(existsSync(join(f.dataDir, 'devices', 'frank.db'))).toBe(true);
    expect(first.stderr()).toMatch(/100% (\d+)\/\1 rows/);
    const [summary] = first.out;
    expect(summary).toMatch(
      /^Synced frank \(device sim-frank\) .* uploaded 0, conflicts 0, rejected 0, downloaded [1-9]\d*/,
    );

    const second = capture();
    expect(
      await runDeviceCommand([...base(), '--user', 'frank', '--edit', '3'], f.host.settings, second.io),
    ).toBe(0);
    expect(second.out[0]).toBe('Made 3 offline edit(s) on sim-frank.');
    expect(second.out[1]).toMatch(/uploaded 3, conflicts 0, rejected 0/);
    // Not the initial download: no progress bar this time.
    expect(second.stderr()).toBe('');
  });

  it('--watch syncs, then stops when asked', async () => {
    const run = capture();
    const code = await runDeviceCommand([...base(), '--user', 'heidi', '--watch'], f.host.settings, {
      ...run.io,
      stopSignal: Promise.resolve(),
    });
    expect(code).toBe(0);
    expect(run.out[0]).toMatch(/^Synced heidi/);
    expect(run.out[1]).toMatch(/^Watching: syncing every \d+ s/);
  });

  it('refuses an unknown user', async () => {
    await expect(
      runDeviceCommand([...base(), '--user', 'nobody'], f.host.settings, capture().io),
    ).rejects.toThrow(/No user 'nobody'/);
  });
});
