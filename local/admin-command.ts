import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Settings } from '../shared/config';
import type { ProvisioningStatus } from '../shared/provisioning/provisioning-status';
import { createSqliteStore } from '../shared/store/sqlite';
import type { ProfilePreview } from '../shared/sync/publish-preview';
import { USAGE_DAYS_KEPT, type TenantUsage } from '../shared/sync/sync-usage';
import { issueDevelopmentToken } from '../shared/auth/development-token';
import type { DirectoryList } from '../shared/admin/directory-listing';
import type { AppConfig } from '../shared/model/app';

export const ADMIN_USAGE = `Admin commands (against any URL; the admin page's API):
  npm run cli -- provision|stop|deprovision|retry --org ORG [--follow]
  npm run cli -- status --org ORG [--follow]        the provisioning status; --follow: live until the run ends
  npm run cli -- export --org ORG --out FILE         the configuration document, to a file
  npm run cli -- import --org ORG --file FILE        import a configuration document
  npm run cli -- publish --org ORG --profile ID      publish a profile (every violation listed when refused)
  npm run cli -- preview --org ORG --profile ID [--json]   what each user of the draft would download
  npm run cli -- usage --org ORG [--days N] [--json] the tenant's sync usage (operator): active devices,
                                                     rows held, syncs per day
  npm run cli -- directory --org ORG [--search Q] [--kind users,teams,businessUnits] [--json]
                                                     the tenant's users, teams, business units (ids, names)
  npm run cli -- apps --org ORG [--json]             the tenant's apps and their offline profiles
Options:
  --url URL        the backend (default OFFLINE_SYNC_URL or http://127.0.0.1:PORT)
  --token TOKEN    a bearer token (default OFFLINE_SYNC_TOKEN; against the local host without one, a
                   development admin token signed with DATA_DIR's key; an operator token for usage)
  --interval MS    how often --follow reads the status (default 1000)`;

/** The admin commands `cli.ts` hands here. */
export const ADMIN_COMMANDS = new Set([
  'provision',
  'stop',
  'deprovision',
  'retry',
  'status',
  'export',
  'import',
  'publish',
  'preview',
  'usage',
  'directory',
  'apps',
]);

/** A failure the CLI prints as one line (exit code 1), never with a stack. */
export class CliFailure extends Error {}

/** Where the commands write: results on `out`, progress on `err` (redrawn in place on a terminal). */
export interface AdminCommandIo {
  out: (line: string) => void;
  err: NodeJS.WritableStream & { isTTY?: boolean };
  /** Waits between status reads (tests pass one that does not sleep). */
  sleep?: (ms: number) => Promise<void>;
}

const RUNNING = new Set(['provisioning', 'stopping', 'deprovisioning']);

/** Runs an admin command; answers the exit code (0 done, 1 failed or refused, 2 usage). */
export async function runAdminCommand(
  command: string,
  argv: string[],
  settings: Settings,
  io: AdminCommandIo,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      org: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      profile: { type: 'string' },
      out: { type: 'string' },
      file: { type: 'string' },
      follow: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      interval: { type: 'string', default: '1000' },
      days: { type: 'string', default: '7' },
      search: { type: 'string' },
      kind: { type: 'string' },
    },
    strict: true,
  });
  if (!values.org) return usage(io, '--org is required.');
  const needs = (name: 'profile' | 'out' | 'file'): string | undefined => values[name];
  if ((command === 'publish' || command === 'preview') && !needs('profile'))
    return usage(io, '--profile is required.');
  if (command === 'export' && !needs('out')) return usage(io, '--out is required.');
  if (command === 'import' && !needs('file')) return usage(io, '--file is required.');
  const interval = Number(values.interval);
  if (!Number.isFinite(interval) || interval < 0) return usage(io, '--interval must be milliseconds.');
  const days = Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > USAGE_DAYS_KEPT)
    return usage(io, `--days must be a whole number from 1 to ${USAGE_DAYS_KEPT}.`);

  const url = (
    values.url ??
    (process.env.OFFLINE_SYNC_URL || undefined) ??
    `http://127.0.0.1:${settings.PORT}`
  ).replace(/\/+$/, '');
  const token =
    values.token ??
    (process.env.OFFLINE_SYNC_TOKEN || undefined) ??
    (await localToken(settings, command === 'usage' ? { operator: true } : { org: values.org, admin: true }));
  const api = apiClient(url, token);
  const org = encodeURIComponent(values.org);

  switch (command) {
    case 'provision':
    case 'stop':
    case 'deprovision':
    case 'retry': {
      const status = await api<ProvisioningStatus>('POST', `admin/${org}/provisioning`, { action: command });
      io.out(
        `${command}: accepted; ${status.state}${status.currentStep === null ? '' : `, step ${status.currentStep}`}.`,
      );
      if (!values.follow) return 0;
      return follow(api, org, interval, io);
    }
    case 'status': {
      if (values.follow) return follow(api, org, interval, io);
      const status = await api<ProvisioningStatus>('GET', `admin/${org}/provisioning`);
      for (const line of statusLines(status)) io.out(line);
      return status.state === 'failed' ? 1 : 0;
    }
    case 'export': {
      const document = await api<unknown>('GET', `admin/${org}/export`);
      await writeFile(values.out!, `${JSON.stringify(document, null, 2)}\n`);
      io.out(`Exported ${values.org}'s configuration to ${values.out}.`);
      return 0;
    }
    case 'import': {
      let document: unknown;
      try {
        document = JSON.parse(await readFile(values.file!, 'utf8'));
      } catch (error) {
        throw new CliFailure(`Cannot read ${values.file} as JSON: ${(error as Error).message}`);
      }
      const result = await api<{
        profiles: { id: string; outcome: string }[];
        entities: { entity: string; outcome: string }[];
      }>('POST', `admin/${org}/import`, document);
      for (const p of result.profiles) io.out(`profile ${p.id}: ${p.outcome}`);
      for (const e of result.entities) io.out(`entity ${e.entity}: ${e.outcome}`);
      return 0;
    }
    case 'publish': {
      const { version } = await api<{ version: number }>(
        'POST',
        `admin/${org}/profiles/${encodeURIComponent(values.profile!)}/publish`,
      );
      io.out(`Published ${values.profile} version ${version}.`);
      return 0;
    }
    case 'preview': {
      const preview = await api<ProfilePreview>(
        'POST',
        `admin/${org}/profiles/${encodeURIComponent(values.profile!)}/preview`,
        {},
      );
      if (values.json) io.out(JSON.stringify(preview, null, 2));
      else for (const line of previewLines(preview)) io.out(line);
      return preview.users.some((u) => u.limit === 'hard') ? 1 : 0;
    }
    case 'usage': {
      const report = await api<TenantUsage>('GET', `admin/tenants/${org}/usage?days=${days}`);
      if (values.json) io.out(JSON.stringify(report, null, 2));
      else for (const line of usageLines(report)) io.out(line);
      return 0;
    }
    case 'directory': {
      const query = new URLSearchParams({ limit: '200' });
      if (values.search !== undefined) query.set('q', values.search);
      if (values.kind !== undefined) query.set('kind', values.kind);
      const list = await api<DirectoryList>('GET', `admin/${org}/directory?${query.toString()}`);
      if (values.json) io.out(JSON.stringify(list, null, 2));
      else for (const line of directoryLines(list)) io.out(line);
      return 0;
    }
    case 'apps': {
      const { apps } = await api<{ apps: AppConfig[] }>('GET', `admin/${org}/apps`);
      if (values.json) io.out(JSON.stringify(apps, null, 2));
      else
        for (const app of apps)
          io.out(
            `${app.id.padEnd(20)} ${app.name}  (offline ${app.offlineEnabled ? 'on' : 'off'}; profiles: ${app.profiles.join(', ') || 'none'})`,
          );
      return 0;
    }
    default:
      return usage(io, `Unknown command '${command}'.`);
  }
}

function usage(io: AdminCommandIo, problem: string): number {
  io.err.write(`${problem}\n${ADMIN_USAGE}\n`);
  return 2;
}

/**
 * A development token — the tenant's admin, or for operator commands the operator — signed with the
 * data folder's key (the local host's).
 */
async function localToken(
  settings: Settings,
  who: { operator: true } | { org: string; admin: true },
): Promise<string> {
  const store = createSqliteStore({ dataDir: settings.DATA_DIR });
  try {
    return await issueDevelopmentToken(settings, store, { ...who, hours: 1 });
  } catch (error) {
    throw new CliFailure(
      `No token given (--token or OFFLINE_SYNC_TOKEN) and none could be made from ${settings.DATA_DIR}: ${(error as Error).message}`,
    );
  } finally {
    await store.close();
  }
}

type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** Calls the API; every failure is a {@link CliFailure} of one line (unreachable host, 4xx/5xx body). */
function apiClient(url: string, token: string): Api {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${url}/api/${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new CliFailure(`Cannot reach ${url} (${why}): is the host running (npm start) at that URL?`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
        ?.error;
      const details = Array.isArray(error?.details)
        ? (error.details as { path?: unknown; message?: unknown }[])
            .filter((d) => typeof d.path === 'string')
            .map((d) => `${String(d.path)}: ${String(d.message)}`)
        : [];
      const head = `${response.status} ${error?.code ?? response.statusText}: ${error?.message ?? (text.slice(0, 200) || 'no body')}`;
      throw new CliFailure([head, ...details.map((d) => `  ${d}`)].join('\n'));
    }
    return parsed as T;
  };
}

/** Follows the status until the run ends, with a progress bar per step and entity. */
async function follow(api: Api, org: string, interval: number, io: AdminCommandIo): Promise<number> {
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const tty = io.err.isTTY === true;
  let drawn = 0;
  let last = '';
  for (;;) {
    const status = await api<ProvisioningStatus>('GET', `admin/${org}/provisioning`);
    const lines = statusLines(status);
    const frame = lines.join('\n');
    if (tty) {
      // Redraw in place: up over the last frame, clear to the end.
      if (drawn > 0) io.err.write(`\u001b[${drawn}A\u001b[J`);
      io.err.write(`${frame}\n`);
      drawn = lines.length;
    } else if (frame !== last) {
      io.err.write(`${frame}\n\n`);
    }
    last = frame;
    if (!RUNNING.has(status.state)) {
      io.out(`${status.org}: ${status.state}.`);
      return status.state === 'failed' ? 1 : 0;
    }
    await sleep(interval);
  }
}

function bar(percent: number, width = 20): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent.toFixed(1).padStart(5)}%`;
}

function eta(seconds: number | null): string {
  if (seconds === null) return '';
  const s = Math.round(seconds);
  return s >= 60 ? ` ETA ${Math.floor(s / 60)} min ${s % 60} s` : ` ETA ${s} s`;
}

/** The status as lines: state, each step, the download's progress, the last messages. */
export function statusLines(status: ProvisioningStatus): string[] {
  const lines = [
    `${status.org}: ${status.state}${status.currentStep === null ? '' : ` (step ${status.currentStep} of ${status.steps.length})`}`,
  ];
  for (const step of status.steps) {
    lines.push(
      `  ${step.number}. ${step.name.padEnd(46)} ${step.status}${step.message ? ` — ${step.message}` : ''}`,
    );
  }
  const progress = status.progress;
  if (progress !== null) {
    lines.push(
      `  download ${bar(progress.percent)} ${progress.rowsDone}/${progress.rowsExpected} rows${eta(progress.etaSeconds)}`,
    );
    for (const e of progress.entities) {
      lines.push(
        `    ${e.entity.padEnd(14)} ${bar(e.percent, 14)} ${e.rowsDone}/${e.rowsExpected}${e.done ? ' done' : eta(e.etaSeconds)}`,
      );
    }
  }
  for (const m of status.messages.slice(-3)) lines.push(`  ${m.level}: ${m.text}`);
  return lines;
}

/** The preview as a table: one line per user, past a limit marked. */
export function previewLines(preview: ProfilePreview): string[] {
  const lines = [
    `${preview.profileId}: ${preview.users.length} user(s); soft row limit ${preview.softRowLimit}, hard ${preview.hardRowLimit}`,
  ];
  for (const u of preview.users) {
    const mark =
      u.limit === 'hard' ? '  PAST THE HARD LIMIT' : u.limit === 'soft' ? '  past the soft limit' : '';
    const per = u.entities
      .filter((e) => e.rows > 0)
      .map((e) => `${e.entity} ${e.rows}`)
      .join(', ');
    lines.push(
      `  ${(u.userName ?? u.userId).padEnd(16)} ${String(u.rows).padStart(8)} rows ${String(Math.round(u.bytes / 1024)).padStart(8)} KB${mark}${u.problem ? `  (${u.problem})` : ''}${per ? `  — ${per}` : ''}`,
    );
  }
  for (const v of preview.violations) lines.push(`  violation ${v.path}: ${v.message}`);
  return lines;
}

/** The usage as lines: active devices, rows held, one line per day of syncs. */
export function usageLines(report: TenantUsage): string[] {
  const { activeDevices: active, rowsHeld } = report;
  return [
    `${report.org}: ${active.lastDay} device(s) synced in the last day, ${active.last30Days} in 30 days, ${active.last90Days} in 90`,
    `  rows held: ${rowsHeld.total} in all, at most ${rowsHeld.maxPerDevice} on one device`,
    ...report.syncsPerDay.map((d) => `  ${d.day} ${String(d.syncs).padStart(8)} sync(s)`),
  ];
}

/** The directory listing as lines: a heading per kind, an item a line, and a note where more matched. */
export function directoryLines(list: DirectoryList): string[] {
  const lines: string[] = [];
  const kinds = [
    ['users', 'Users'],
    ['teams', 'Teams'],
    ['businessUnits', 'Business units'],
  ] as const;
  for (const [kind, title] of kinds) {
    const page = list[kind];
    if (page === undefined) continue;
    lines.push(`${title} (${page.items.length}${page.more ? `, more match: narrow with --search` : ''}):`);
    for (const item of page.items)
      lines.push(`  ${item.id.padEnd(40)} ${item.name}${item.userName ? ` (${item.userName})` : ''}`);
  }
  return lines;
}
