import type { BenchFigure } from './bench-figure';
import type { MachineInfo } from './machine';

/** Everything one run measured, as `bench-results.json` holds it. */
export interface BenchResults {
  startedAt: string;
  mode: 'quick' | 'full' | 'partial';
  command: string;
  durationSeconds: number;
  machine: MachineInfo;
  figures: BenchFigure[];
  notes: string[];
}

function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })} ${unit}`;
}

/** The results as a plain-text table a person can read, figure beside goal, then the notes. */
export function formatReport(results: BenchResults): string {
  const m = results.machine;
  const header = [
    `Benchmark (${results.mode}) ${results.startedAt}, ${Math.round(results.durationSeconds)} s: ${results.command}`,
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}`,
    '',
  ];
  const rows = results.figures.map((f) => [
    f.workload,
    f.name,
    formatValue(f.value, f.unit),
    f.goal?.text ?? '',
    f.verdict ?? '',
    f.store,
  ]);
  const titles = ['workload', 'figure', 'value', 'goal', 'verdict', 'store'];
  const widths = titles.map((t, i) => Math.max(t.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const notes = results.figures
    .filter((f) => f.note !== undefined)
    .map((f) => `- ${f.workload} / ${f.name}: ${f.note}`);
  return [
    ...header,
    line(titles),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    'What ran:',
    ...notes,
    ...results.notes.map((n) => `- ${n}`),
  ].join('\n');
}

/** The figures as a Markdown table (for docs/performance.md). */
export function formatMarkdownTable(figures: readonly BenchFigure[]): string {
  const lines = ['| workload | figure | value | goal | verdict |', '|---|---|---:|---|---|'];
  for (const f of figures)
    lines.push(
      `| ${f.workload} | ${f.name} | ${formatValue(f.value, f.unit)} | ${f.goal?.text ?? ''} | ${f.verdict ?? ''} |`,
    );
  return lines.join('\n');
}
