import { atMost, figure } from './bench-figure';
import { HOST_STORE, ORG, type BenchContext } from './bench-context';
import { downloadUntilDone } from './device-download';
import { removeDataDir, startHostProcess } from './host-process';
import { BenchHttpClient } from './http-client';
import { median, quantile } from './statistics';
import { putTenantSettings, uploadBatch } from './sync-upload';
import { runUnrelatedEdits, type IncrementalDevice } from './unrelated-edits-workload';

const DEVICES = 50;
/** Sellers of the east business unit: each sees the rows the East Sales Team owns. */
const EAST_SELLERS = ['dave', 'frank', 'heidi', 'judy', 'niaj', 'peggy', 'sybil', 'ursula', 'wendy'];
const CHANGES = 100;
/** In the paced phase, each device starts a sync every this many ms (50 devices: 500 syncs/s offered). */
const PACED_INTERVAL_MS = 100;

interface Sample {
  clientMs: number;
  serverMs: number;
  changes: number;
  /** Rows the sync read from the store (the route's `x-store-reads`). */
  rowsRead: number;
}

/**
 * Workload 3: 50 devices (spread over the east sellers) sync incrementally at once for `seconds`:
 * first with nothing changed, then in rounds where the manager `bob` changes 100 rows every device
 * sees (team-owned) and every device downloads them. Latency is the device's round trip. Workload 9
 * (unrelated-edits-workload.ts) runs on the same host and devices afterwards.
 */
export async function runConcurrentIncremental(
  context: BenchContext,
  options: { tenantRows: number; seconds: number },
): Promise<void> {
  context.log(`Workload 3: ${DEVICES} devices on a ${options.tenantRows}-row tenant…`);
  const host = await startHostProcess({ demoRows: options.tenantRows });
  const client = new BenchHttpClient(host.url, DEVICES + 4);
  try {
    await putTenantSettings(client, {
      adminToken: await host.token('alice', { admin: true }),
      org: ORG,
      settings: { softRowLimit: 2_000_000, hardRowLimit: 2_000_000 },
    });
    const writerToken = await host.token('bob');
    const shared = await downloadUntilDone(client, {
      token: writerToken,
      org: ORG,
      deviceId: 'bench-w3-writer',
      acceptEncoding: 'br, gzip',
      // Sellers see team rows of every entity but task (their task item is "mine" only).
      keep: (c) => c.op === 'upsert' && c.row?.ownerid === 'team-east' && c.entity !== 'task',
    });
    if (shared.kept.length < CHANGES)
      throw new Error(`Workload 3 needs ${CHANGES} team-owned rows; the tenant has ${shared.kept.length}.`);
    const targets = shared.kept.slice(0, CHANGES);

    const tokens = await Promise.all(EAST_SELLERS.map((user) => host.token(user)));
    const devices: IncrementalDevice[] = Array.from({ length: DEVICES }, (_, i) => ({
      id: `bench-w3-device-${i}`,
      token: tokens[i % tokens.length]!,
      checkpoint: undefined,
    }));
    const initialRows = await Promise.all(
      devices.map(async (device) => {
        const run = await downloadUntilDone(client, {
          token: device.token,
          org: ORG,
          deviceId: device.id,
          acceptEncoding: 'br, gzip',
        });
        device.checkpoint = run.checkpoint;
        return run.rows;
      }),
    );

    let errors = 0;
    const sync = async (device: (typeof devices)[number]): Promise<Sample | undefined> => {
      try {
        const run = await downloadUntilDone(client, {
          token: device.token,
          org: ORG,
          deviceId: device.id,
          checkpoint: device.checkpoint,
          acceptEncoding: 'br, gzip',
        });
        device.checkpoint = run.checkpoint;
        return {
          clientMs: run.clientMs,
          serverMs: run.serverMs,
          changes: run.rows + run.removals,
          rowsRead: run.reads.rows,
        };
      } catch (error) {
        errors += 1;
        context.log(`Workload 3: ${device.id}: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      }
    };

    context.log(`Workload 3: nothing changed, ${options.seconds} s…`);
    const idle: Sample[] = [];
    const idleDeadline = performance.now() + options.seconds * 1000;
    await Promise.all(
      devices.map(async (device) => {
        while (performance.now() < idleDeadline) {
          const sample = await sync(device);
          if (sample) idle.push(sample);
        }
      }),
    );

    // The closed loop above measures how many syncs the host serves (each device asks again the moment
    // it has an answer, so latency is mostly queueing). Paced, each device syncs on a fixed beat, as
    // real devices do on their interval, and latency is what one sync costs under a steady load.
    const pacedSeconds = Math.min(options.seconds, 10);
    context.log(`Workload 3: nothing changed, paced every ${PACED_INTERVAL_MS} ms, ${pacedSeconds} s…`);
    const paced: Sample[] = [];
    const pacedStart = performance.now();
    await Promise.all(
      devices.map(async (device, i) => {
        // Devices start spread over one interval, so the load is even rather than in bursts.
        let next = pacedStart + (i * PACED_INTERVAL_MS) / DEVICES;
        while (next < pacedStart + pacedSeconds * 1000) {
          const wait = next - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          const sample = await sync(device);
          if (sample) paced.push(sample);
          next += PACED_INTERVAL_MS;
        }
      }),
    );

    context.log(`Workload 3: rounds of ${CHANGES} changes, ${options.seconds} s…`);
    const changed: Sample[] = [];
    const changedDeadline = performance.now() + options.seconds * 1000;
    let round = 0;
    while (performance.now() < changedDeadline || round === 0) {
      round += 1;
      await uploadBatch(client, {
        token: writerToken,
        org: ORG,
        deviceId: 'bench-w3-writer',
        operations: targets.map((t) => ({
          opId: `w3-${round}-${t.id}`,
          entity: t.entity,
          id: t.id,
          op: 'update' as const,
          row: { description: `round ${round}` },
        })),
      });
      const samples = await Promise.all(devices.map(sync));
      for (const s of samples) if (s) changed.push(s);
    }

    const workload = '3 incremental, 50 devices';
    const note = `${DEVICES} devices of ${EAST_SELLERS.length} east sellers (field-sellers profile), ${Math.round(median(initialRows))} rows each, ${options.tenantRows}-row demo tenant; ${idle.length} idle syncs in ${options.seconds} s (server time median ${median(idle.map((s) => s.serverMs)).toFixed(1)} ms); ${round} rounds of ${CHANGES} changed team rows (${changed.length} syncs, median ${median(changed.map((s) => s.changes))} changes each, server time median ${median(changed.map((s) => s.serverMs)).toFixed(1)} ms, rows read median ${median(changed.map((s) => s.rowsRead))}, max ${Math.max(...changed.map((s) => s.rowsRead))}); idle syncs read at most ${Math.max(...idle.map((s) => s.rowsRead))} rows`;
    const latency = (samples: Sample[], q: number): number =>
      quantile(
        samples.map((s) => s.clientMs),
        q,
      );
    context.figures.push(
      figure({
        workload,
        name: 'nothing changed, closed loop, median latency',
        value: latency(idle, 0.5),
        unit: 'ms',
        store: HOST_STORE,
        goal: atMost(5, 'median under 5 ms'),
        note,
      }),
      figure({
        workload,
        name: 'nothing changed, closed loop, p99 latency',
        value: latency(idle, 0.99),
        unit: 'ms',
        store: HOST_STORE,
        goal: atMost(20, 'p99 under 20 ms'),
      }),
      figure({
        workload,
        name: 'nothing changed, closed loop, syncs per second',
        value: idle.length / options.seconds,
        unit: '/s',
        store: HOST_STORE,
      }),
      figure({
        workload,
        name: `nothing changed, paced, median latency`,
        value: latency(paced, 0.5),
        unit: 'ms',
        store: HOST_STORE,
        goal: atMost(5, 'median under 5 ms'),
        note: `each device syncs every ${PACED_INTERVAL_MS} ms (${(DEVICES * 1000) / PACED_INTERVAL_MS} syncs/s offered) for ${pacedSeconds} s: ${paced.length} syncs`,
      }),
      figure({
        workload,
        name: `nothing changed, paced, p99 latency`,
        value: latency(paced, 0.99),
        unit: 'ms',
        store: HOST_STORE,
        goal: atMost(20, 'p99 under 20 ms'),
      }),
      figure({
        workload,
        name: `${CHANGES} changes, median latency`,
        value: latency(changed, 0.5),
        unit: 'ms',
        store: HOST_STORE,
        goal: atMost(150, 'median under 150 ms'),
        note: `all ${DEVICES} devices download the ${CHANGES} changed team rows at once, each round`,
      }),
      figure({
        workload,
        name: `${CHANGES} changes, p99 latency`,
        value: latency(changed, 0.99),
        unit: 'ms',
        store: HOST_STORE,
      }),
      figure({
        workload,
        name: 'errors',
        value: errors,
        unit: '',
        store: HOST_STORE,
        goal: atMost(0, 'zero'),
      }),
    );
    await runUnrelatedEdits(context, {
      host,
      client,
      devices,
      deviceUsers: EAST_SELLERS,
      tenantRows: options.tenantRows,
    });
  } finally {
    client.close();
    await host.stop();
    removeDataDir(host.dataDir);
  }
}
