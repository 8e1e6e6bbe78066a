import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BenchContext } from './bench-context';
import { formatMarkdownTable, formatReport, type BenchResults } from './bench-report';
import { runInitialDownloadAndUpload } from './initial-download-workload';
import { describeMachine } from './machine';

/**
 * `npm run bench [-- --quick]`: runs the workloads of issue 8 against the local host over loopback,
 * prints a table of each figure beside its goal, and writes `bench-results.json`.
 */
async function main(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const started = performance.now();
  const context: BenchContext = {
    quick,
    figures: [],
    notes: [],
    log: (line) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`),
  };
  const startedAt = new Date().toISOString();

  await runInitialDownloadAndUpload(context);

  const results: BenchResults = {
    startedAt,
    mode: quick ? 'quick' : 'full',
    command: quick ? 'npm run bench -- --quick' : 'npm run bench',
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

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
