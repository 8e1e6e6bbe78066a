import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSyncClient, type SyncClient, type SyncProgress, type SyncSummary } from '../client';
import { createSqliteLocalStore, type SqliteLocalStore } from '../client/sqlite';
import { loadDirectory } from '../shared/admin/directory-store';
import type { Settings } from '../shared/config';
import { AppError } from '../shared/errors';
import { createSqliteStore } from '../shared/store/sqlite';
import { DEMO_APP_ID } from './demo/seed-demo-tenant';
import { createToken } from './token-command';

export const DEVICE_USAGE = `Usage:
  npm run device -- --org ORG --user USER [--app APP] [--data DIR] [--edit N] [--watch] [--url URL]
Simulates a device of USER: syncs into DIR/devices/USER.db with the device SDK and prints a summary.
Options:
  --app APP        the app module (default ${DEMO_APP_ID})
  --data DIR       the local host's data folder (default DATA_DIR or .data): tokens are signed with its key
  --edit N         make N random offline edits of rows the user owns before syncing
  --watch          keep syncing at the interval the server asks for, until Ctrl-C or SIGTERM
  --url URL        the backend (default http://127.0.0.1:PORT)
  --page-size N    download page size`;

/** Where the simulator writes; stderr gets the progress bar, stdout the summaries. */
export interface DeviceCommandIo {
  out: (line: string) => void;
  err: NodeJS.WritableStream & { isTTY?: boolean };
  /** Resolves when the user asks to stop (Ctrl-C). */
  stopSignal?: Promise<void>;
}

/** Entities a seller edits offline, with the column the simulator changes. */
const EDITABLE_COLUMN = 'description';
/** Tokens are re-minted this often in `--watch` (they live 12 hours). */
const TOKEN_REFRESH_MS = 60 * 60 * 1000;

/**
 * The device simulator (`npm run device`): mints a development token for a directory user the way
 * `npm run token` does, syncs a device database with the SDK (`client/`), optionally after random
 * offline edits, and in `--watch` keeps syncing at the server's interval.
 */
export async function runDeviceCommand(
  argv: string[],
  settings: Settings,
  io: DeviceCommandIo = { out: (line) => console.log(line), err: process.stderr },
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      org: { type: 'string' },
      user: { type: 'string' },
      app: { type: 'string', default: DEMO_APP_ID },
      data: { type: 'string' },
      edit: { type: 'string', default: '0' },
      watch: { type: 'boolean', default: false },
      url: { type: 'string' },
      'page-size': { type: 'string' },
    },
    strict: true,
  });
  if (!values.org || !values.user)
    throw new AppError('BadRequest', `--org and --user are required.\n${DEVICE_USAGE}`);
  const edits = Number(values.edit);
  if (!Number.isInteger(edits) || edits < 0)
    throw new AppError('BadRequest', '--edit must be a whole number.');
  const pageSize = values['page-size'] === undefined ? undefined : Number(values['page-size']);
  const dataDir = values.data ?? settings.DATA_DIR;
  const hostSettings: Settings = { ...settings, DATA_DIR: dataDir };
  const org = values.org;
  const userName = values.user;

  const userId = await findUserId(hostSettings, org, userName);
  let token: { value: string; at: number } | undefined;
  const getToken = async (): Promise<string> => {
    if (!token || Date.now() - token.at > TOKEN_REFRESH_MS) {
      const store = createSqliteStore({ dataDir });
      try {
        token = {
          value: await createToken(['--org', org, '--user', userName], hostSettings, store),
          at: Date.now(),
        };
      } finally {
        await store.close();
      }
    }
    return token.value;
  };

  mkdirSync(join(dataDir, 'devices'), { recursive: true });
  const safeName = userName.replace(/[^A-Za-z0-9_.-]/g, '_');
  const path = join(dataDir, 'devices', `${safeName}.db`);
  const deviceId = `sim-${safeName}`.slice(0, 128);
  const store = createSqliteLocalStore(path);
  const bar = progressBar(io.err);
  const client = createSyncClient({
    baseUrl: values.url ?? `http://127.0.0.1:${settings.PORT}`,
    org,
    app: values.app,
    deviceId,
    getToken,
    store,
    onProgress: bar.update,
    ...(pageSize === undefined ? {} : { pageSize }),
  });

  const syncOnce = async (): Promise<SyncSummary> => {
    const summary = await client.sync();
    bar.finish();
    io.out(await describeSync(summary, store, deviceId, userName));
    return summary;
  };

  try {
    if (edits > 0) {
      if ((await client.metadata()) === undefined) await syncOnce();
      const made = await makeRandomEdits(client, store, userId, edits, deviceId);
      io.out(`Made ${made} offline edit(s) on ${deviceId}.`);
    }
    let summary = await syncOnce();
    if (!values.watch) return 0;
    io.out(`Watching: syncing every ${summary.nextSyncSeconds} s (Ctrl-C stops).`);
    const interrupted = io.stopSignal === undefined ? onceInterrupted() : undefined;
    const stop = io.stopSignal ?? interrupted!.signal;
    let stopped = false;
    void stop.then(() => (stopped = true));
    try {
      for (;;) {
        // The wait is what keeps the process alive between syncs: its timer stays referenced (an
        // unref'd one let the process exit at once), and the stop signal clears it.
        await untilStoppedOr(stop, summary.nextSyncSeconds * 1000);
        if (stopped) return 0;
        summary = await syncOnce();
        if (stopped) return 0;
      }
    } finally {
      interrupted?.dispose();
    }
  } finally {
    await store.close();
  }
}

/** Resolves after `ms`, or as soon as `stop` resolves (then the timer is cleared). */
function untilStoppedOr(stop: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void stop.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Ctrl-C (SIGINT) or SIGTERM: a sync in progress finishes, then the command returns. */
function onceInterrupted(): { signal: Promise<void>; dispose: () => void } {
  let dispose = (): void => undefined;
  const signal = new Promise<void>((resolve) => {
    const onSignal = (): void => resolve();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    dispose = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  });
  return { signal, dispose };
}

async function findUserId(settings: Settings, org: string, userName: string): Promise<string> {
  const store = createSqliteStore({ dataDir: settings.DATA_DIR });
  try {
    const wanted = userName.toLowerCase();
    const directory = await loadDirectory(store.tenant(org));
    const user = directory.users.find(
      (u) =>
        u.id.toLowerCase() === wanted || u.userName.toLowerCase() === wanted || u.entraObjectId === wanted,
    );
    if (!user) throw new AppError('NotFound', `No user '${userName}' in ${org}'s directory.`);
    return user.id;
  } finally {
    await store.close();
  }
}

/** Changes the description of N random rows the user owns (any row of an editable entity if none). */
async function makeRandomEdits(
  client: SyncClient,
  store: SqliteLocalStore,
  userId: string,
  count: number,
  deviceId: string,
): Promise<number> {
  const metadata = await client.metadata();
  const candidates: Array<{ entity: string; id: string; owned: boolean }> = [];
  for (const entity of metadata?.entities ?? []) {
    if (!entity.attributes.some((a) => a.name === EDITABLE_COLUMN && a.readable)) continue;
    const rows = await store.transaction((tx) => tx.listRows(entity.logicalName));
    for (const r of rows) {
      if (r.row) candidates.push({ entity: entity.logicalName, id: r.id, owned: r.row.ownerid === userId });
    }
  }
  const owned = candidates.filter((c) => c.owned);
  const pool = owned.length > 0 ? owned : candidates;
  let made = 0;
  for (let i = 0; i < count && pool.length > 0; i++) {
    const [pick] = pool.splice(Math.floor(Math.random() * pool.length), 1);
    if (!pick) break;
    await client.update(pick.entity, pick.id, {
      [EDITABLE_COLUMN]: `Edited offline on ${deviceId} at ${new Date().toISOString()}`,
    });
    made++;
  }
  return made;
}

async function describeSync(
  summary: SyncSummary,
  store: SqliteLocalStore,
  deviceId: string,
  userName: string,
): Promise<string> {
  const held = await store.transaction(async (tx) => {
    const { metadata } = await tx.readState();
    let rows = 0;
    for (const entity of metadata?.entities ?? []) rows += (await tx.listRows(entity.logicalName)).length;
    return { rows, errors: (await tx.listSyncErrors()).length };
  });
  const lines = [
    `Synced ${userName} (device ${deviceId}) in ${summary.durationMs} ms: uploaded ${summary.uploaded}, ` +
      `conflicts ${summary.conflicts}, rejected ${summary.rejected}, downloaded ${summary.downloaded}, ` +
      `removed ${summary.removed}. ${held.rows} rows on the device; next sync in ${summary.nextSyncSeconds} s.`,
  ];
  if (held.errors > 0) lines.push(`${held.errors} sync error(s) kept on the device.`);
  for (const warning of summary.warnings) lines.push(`warning ${warning.code}: ${warning.message}`);
  return lines.join('\n');
}

/** A progress bar on stderr for the initial download (one line per 10% when stderr is no terminal). */
function progressBar(err: DeviceCommandIo['err']): { update: (p: SyncProgress) => void; finish: () => void } {
  let drawn = false;
  let lastTenth = -1;
  return {
    update(p) {
      if (p.phase !== 'download' || !p.initial) return;
      const width = 30;
      const filled = Math.round((p.percent / 100) * width);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(p.percent).padStart(3)}% ${p.done}/${p.total} rows`;
      if (err.isTTY) {
        err.write(`\r${line}`);
        drawn = true;
      } else if (Math.floor(p.percent / 10) !== lastTenth) {
        lastTenth = Math.floor(p.percent / 10);
        err.write(`${line}\n`);
      }
    },
    finish() {
      if (drawn) err.write('\n');
      drawn = false;
      lastTenth = -1;
    },
  };
}
