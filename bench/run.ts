import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BenchContext } from './bench-context';
import { formatMarkdownTable, formatReport, type BenchResults } from './bench-report';
import { runConcurrentIncremental } from './concurrent-incremental-workload';
import { runCosmosReads } from './cosmos-reads-workload';
import { removeDataDir } from './host-process';
import { INITIAL_DOWNLOAD_DEMO_ROWS, runInitialDownloadAndUpload } from './initial-download-workload';
import { runIngest } from './ingest-workload';
import { runPouchDbPeer } from './pouchdb-peer-workload';
import { runProvisioningResponsiveness } from './provisioning-responsiveness-workload';
import { runLargeDownload } from './large-download-workload';
import { runMidnight } from './midnight-workload';
import { runScale } from './scale-workload';
import { runSdkInitialSync } from './sdk-initial-sync-workload';
import { describeMachine } from './machine';

/**
 * `npm run bench [-- --quick] [-- --only=3,10]`: runs the workloads of issues 8, 9, 13 and 14 against the
 * local host over loopback (and, where the host cannot do it, in this process), prints a table of
 * each figure beside its goal, and writes `bench-results.json`. `--only` runs the workloads whose
 * numbers it lists (1 and 5 run together, 7 needs them, 9 runs with 3, 2 with 2's 1,000,000-row
 * tenant with 4), for working on one of them; the README's figures come from a full run.
 */
async function main(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const only = onlyOption(argv);
  const runs = (...numbers: number[]): boolean => only === undefined || numbers.some((n) => only.has(n));
  const started = performance.now();
  const context: BenchContext = {
    quick,
    figures: [],
    notes: [],
    log: (line) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`),
  };
  const startedAt = new Date().toISOString();

  if (runs(1, 5, 7)) {
    const ours = await runInitialDownloadAndUpload(context);
    if (runs(7)) await runPouchDbPeer(context, { tenantRows: INITIAL_DOWNLOAD_DEMO_ROWS, ours });
  }
  if (runs(8)) await runSdkInitialSync(context, { runs: quick ? 3 : 7 });
  if (runs(2)) await runLargeDownload(context, { targetRows: quick ? 30_000 : 200_000 });
  if (quick && runs(2))
    context.notes.push(
      'Quick mode: workload 2 downloads about 30,000 rows (full: 200,000, then a 1,000,000-row tenant).',
    );
  if (runs(3, 9))
    await runConcurrentIncremental(context, { tenantRows: quick ? 3000 : 20_000, seconds: quick ? 5 : 30 });
  if (quick && runs(3, 9))
    context.notes.push(
      'Quick mode: workload 3 runs 5 s per phase on a 3,000-row tenant (full: 30 s, 20,000 rows).',
    );
  const largeDir = runs(4)
    ? await runScale(context, {
        smallRows: 10_000,
        largeRows: quick ? 100_000 : 1_000_000,
        keepLarge: !quick && runs(2),
      })
    : undefined;
  if (quick && runs(4))
    context.notes.push(
      'Quick mode: workload 4 compares tenants of 10,000 and 100,000 rows (full: 1,000,000).',
    );
  if (largeDir !== undefined) {
    try {
      await runLargeDownload(context, { dataDir: largeDir, tenantRows: 1_000_000 });
    } finally {
      removeDataDir(largeDir);
    }
  }

  if (runs(6)) await runIngest(context, { sqliteRows: quick ? 3000 : 10_000, cosmosRows: quick ? 60 : 500 });
  if (runs(10)) await runMidnight(context, { tenantSizes: quick ? [10_000, 30_000] : [10_000, 100_000] });
  if (quick && runs(10))
    context.notes.push(
      'Quick mode: workload 10 compares tenants of 10,000 and 30,000 rows (full: 10,000 and 100,000).',
    );
  if (runs(11))
    await runCosmosReads(context, { tenantRows: quick ? 1500 : 3000, userRows: quick ? 500 : 1000 });
  if (quick && runs(11))
    context.notes.push(
      'Quick mode: workload 11 runs on a 1,500-row tenant, the user holding 500 (full: 3,000 and 1,000).',
    );

  if (runs(12)) await runProvisioningResponsiveness(context, { tenantRows: quick ? 30_000 : 200_000 });
  if (quick && runs(12))
    context.notes.push('Quick mode: workload 12 provisions a 30,000-row demo tenant (full: 200,000).');

  const results: BenchResults = {
    startedAt,
    mode: only !== undefined ? 'partial' : quick ? 'quick' : 'full',
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    durationSeconds: (performance.now() - started) / 1000,
    machine: describeMachine(),
    figures: context.figures,
    notes: context.notes,
  };
  const file = resolve(process.cwd(), 'bench-results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(formatReport(results));
  console.log(`\nMarkdown:\n\n${formatMarkdownTable(results.figures)}\n`);
  console.log(`Written ${file}`);
}

/** The workload numbers of `--only=3,10`, or undefined to run them all. */
function onlyOption(argv: readonly string[]): Set<number> | undefined {
  const option = argv.find((arg) => arg.startsWith('--only='));
  if (option === undefined) return undefined;
  const numbers = option.slice('--only='.length).split(',').map(Number);
  if (numbers.some((n) => !Number.isInteger(n) || n < 1 || n > 12))
    throw new Error(`--only takes workload numbers 1 to 12 separated by commas, not '${option}'.`);
  return new Set(numbers);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
