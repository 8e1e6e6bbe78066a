import { atMost, figure } from './bench-figure';
import { HOST_STORE, ORG, type BenchContext } from './bench-context';
import { downloadUntilDone } from './device-download';
import { removeDataDir, startHostProcess } from './host-process';
import { BenchHttpClient } from './http-client';
import { putTenantSettings } from './sync-upload';

/** The manager `bob` sees about 52.8% of the demo rows (his business unit's, plus related rows). */
const BOB_SHARE = 0.528;
const SAMPLE_MS = 50;

/**
 * Workload 2: one user's initial download of `targetRows` rows, with the host's peak RSS while it
 * streams. The host seeds in one process and serves from a second one over the same folder, so the
 * peak is that of serving, not of generating the demo.
 */
export async function runLargeDownload(
  context: BenchContext,
  options: { targetRows?: number; dataDir?: string; tenantRows?: number },
): Promise<void> {
  const tenantRows = options.tenantRows ?? Math.round((options.targetRows ?? 0) / BOB_SHARE);
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    context.log(`Workload 2: seeding a ${tenantRows}-row demo tenant…`);
    const seeding = await startHostProcess({ demoRows: tenantRows });
    dataDir = seeding.dataDir;
    const client = new BenchHttpClient(seeding.url);
    await putTenantSettings(client, {
      adminToken: await seeding.token('alice', { admin: true }),
      org: ORG,
      settings: { softRowLimit: 2_000_000, hardRowLimit: 2_000_000 },
    });
    client.close();
    await seeding.stop();
  }
  const host = await startHostProcess({ demoRows: tenantRows, dataDir });
  const client = new BenchHttpClient(host.url);
  let sampledPeak = 0;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, host.memory()?.rssMiB ?? 0);
  }, SAMPLE_MS);
  try {
    const idle = host.memory();
    context.log(`Workload 2: downloading bob's rows of the ${tenantRows}-row tenant…`);
    const run = await downloadUntilDone(client, {
      token: await host.token('bob'),
      org: ORG,
      deviceId: `bench-w2-${tenantRows}`,
      acceptEncoding: 'br, gzip',
    });
    const peak = Math.max(sampledPeak, host.memory()?.peakRssMiB ?? 0);
    const workload = `2 initial download, ${Math.round(run.rows / 1000)}k rows`;
    const note = `user bob holds ${run.rows} rows of a ${tenantRows}-row demo tenant; compressed; ${run.pages} pages of 5,000; host RSS idle ${idle ? idle.rssMiB.toFixed(0) : 'n/a'} MiB`;
    context.figures.push(
      figure({ workload, name: 'server time', value: run.serverMs, unit: 'ms', store: HOST_STORE, note }),
      figure({
        workload,
        name: 'rows per second (server time)',
        value: (run.rows / run.serverMs) * 1000,
        unit: 'rows/s',
        store: HOST_STORE,
      }),
      figure({ workload, name: 'client wall time', value: run.clientMs, unit: 'ms', store: HOST_STORE }),
      figure({
        workload,
        name: 'host peak RSS while streaming',
        value: peak,
        unit: 'MiB',
        store: HOST_STORE,
        goal: atMost(256, 'under 256 MB'),
      }),
    );
  } finally {
    clearInterval(sampler);
    client.close();
    await host.stop();
    if (options.dataDir === undefined) removeDataDir(dataDir);
  }
}
