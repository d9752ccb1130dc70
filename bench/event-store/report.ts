import { readFileSync, writeFileSync } from 'node:fs';
import type { MachineDescription } from './machine.ts';
import { formatRate, median, round, spread } from './stats.ts';
import type { WorkloadName, WorkloadResult } from './workloads.ts';

export type StoreName = 'khata' | 'emmett' | 'pglite';

/** SPEC §14: Khata's PostgreSQL adapter must be at least this many times Emmett's rate on each workload. */
export const RATIO_TARGET = 1.5;

/** Runs whose fastest and slowest differ by more than this are called noisy in the report. */
const NOISY_SPREAD = 1.2;

export interface StoreRun {
  readonly store: StoreName;
  readonly run: number;
  /** 1-based place of this store within its run (the PostgreSQL stores alternate). */
  readonly place: number;
  /** Share of all cores busy during the second before the store started, while the benchmark was idle. */
  readonly backgroundCpuPercent: number;
  readonly loadAverageBefore: number;
  readonly loadAverageAfter: number;
  readonly warmUpSeconds: number;
  readonly results: readonly WorkloadResult[];
}

export interface StoreFigures {
  readonly perSecond: number;
  readonly runsPerSecond: readonly number[];
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly clientCpuMsPer1000Events: number;
  readonly serverCpuMsPer1000Events: number;
  readonly spread: number;
}

export interface WorkloadSummary {
  readonly workload: WorkloadName;
  readonly events: number;
  readonly khata: StoreFigures;
  readonly emmett: StoreFigures;
  readonly pglite: StoreFigures | null;
  readonly ratio: number;
}

export const WORKLOAD_DESCRIPTIONS: Readonly<Record<WorkloadName, string>> = {
  'append-sequential-1':
    'Sequential single-event appends to one existing stream, each with the exact expected version (CAS)',
  'append-concurrent-32x1': '32 concurrent writers, single-event CAS appends, one stream each',
  'append-concurrent-32x100': '32 concurrent writers, 100-event CAS appends, one stream each',
  'read-stream-10k': 'Read one 10,000-event stream whole (Khata `readStream`, Emmett `readStream`)',
  'catch-up-100k':
    'Catch-up read of a 100,000-event global log in 1,000-event pages (Khata `readAll`, Emmett `readMessagesBatch`)',
};

function figures(runs: readonly StoreRun[], store: StoreName, workload: WorkloadName): StoreFigures | null {
  const results = runs
    .filter((run) => run.store === store)
    .map((run) => run.results.find((result) => result.workload === workload))
    .filter((result): result is WorkloadResult => result !== undefined);
  if (results.length === 0) return null;
  const runsPerSecond = results.map((result) => result.perSecond);
  return {
    perSecond: median(runsPerSecond),
    runsPerSecond,
    latencyP50Ms: median(results.map((result) => result.latencyP50Ms)),
    latencyP99Ms: median(results.map((result) => result.latencyP99Ms)),
    clientCpuMsPer1000Events: median(results.map((result) => result.clientCpuMsPer1000Events)),
    serverCpuMsPer1000Events: median(results.map((result) => result.serverCpuMsPer1000Events)),
    spread: spread(runsPerSecond),
  };
}

export function summarise(runs: readonly StoreRun[]): WorkloadSummary[] {
  const workloads = Object.keys(WORKLOAD_DESCRIPTIONS) as WorkloadName[];
  return workloads.flatMap((workload) => {
    const khata = figures(runs, 'khata', workload);
    const emmett = figures(runs, 'emmett', workload);
    if (khata === null || emmett === null) return [];
    const sample = runs.find((run) => run.store === 'khata')?.results.find((result) => result.workload === workload);
    return [
      {
        workload,
        events: sample?.events ?? 0,
        khata,
        emmett,
        pglite: figures(runs, 'pglite', workload),
        ratio: khata.perSecond / emmett.perSecond,
      },
    ];
  });
}

function cpu(store: StoreFigures): { client: number; server: number } {
  return { client: round(store.clientCpuMsPer1000Events, 1), server: round(store.serverCpuMsPer1000Events, 1) };
}

/** The machine-readable line per workload that `pnpm bench:event-store` prints. */
export function jsonLine(summary: WorkloadSummary, machine: MachineDescription): string {
  const rates = (values: readonly number[]): number[] => values.map((value) => Math.round(value));
  return JSON.stringify({
    workload: summary.workload,
    khataPerSec: Math.round(summary.khata.perSecond),
    baselinePerSec: Math.round(summary.emmett.perSecond),
    ratio: round(summary.ratio, 2),
    pglitePerSec: summary.pglite === null ? null : Math.round(summary.pglite.perSecond),
    target: RATIO_TARGET,
    targetMet: summary.ratio >= RATIO_TARGET,
    baseline: `@event-driven-io/emmett-postgresql@${machine.emmettVersion}`,
    eventsPerRun: summary.events,
    khataRunsPerSec: rates(summary.khata.runsPerSecond),
    baselineRunsPerSec: rates(summary.emmett.runsPerSecond),
    pgliteRunsPerSec: summary.pglite === null ? null : rates(summary.pglite.runsPerSecond),
    khataP50Ms: round(summary.khata.latencyP50Ms, 3),
    baselineP50Ms: round(summary.emmett.latencyP50Ms, 3),
    khataP99Ms: round(summary.khata.latencyP99Ms, 3),
    baselineP99Ms: round(summary.emmett.latencyP99Ms, 3),
    khataCpuMsPer1000Events: cpu(summary.khata),
    baselineCpuMsPer1000Events: cpu(summary.emmett),
    pgliteCpuMsPer1000Events: summary.pglite === null ? null : cpu(summary.pglite),
  });
}

function latency(store: StoreFigures): string {
  return `${store.latencyP50Ms.toFixed(2)} / ${store.latencyP99Ms.toFixed(2)}`;
}

export interface ReportInput {
  readonly machine: MachineDescription;
  readonly date: Date;
  readonly poolConnections: number;
  readonly runs: readonly StoreRun[];
  readonly summaries: readonly WorkloadSummary[];
  readonly durationSeconds: number;
}

/** The generated part of RESULTS.md: setup, the table, and every run's raw figures. */
export function renderResults(input: ReportInput): string {
  const { machine, summaries } = input;
  const settings = Object.entries(machine.postgresSettings)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  const runCount = new Set(input.runs.map((run) => run.run)).size;
  const lines: string[] = [
    `Measured ${input.date.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`pnpm bench:event-store\` ` +
      `(${runCount} runs, ${Math.round(input.durationSeconds)} s in all).`,
    '',
    '| | |',
    '|---|---|',
    `| CPU | ${machine.cpuModel}, ${machine.cores} cores |`,
    `| Memory | ${machine.memoryGibibytes} GiB |`,
    `| PostgreSQL | ${machine.postgresVersion} on 127.0.0.1, ${settings} |`,
    `| Node | ${machine.nodeVersion} |`,
    `| Baseline | \`@event-driven-io/emmett-postgresql@${machine.emmettVersion}\` (npm), same PostgreSQL, own database |`,
    `| Khata | commit ${machine.khataCommit}, \`SqlEventStore\` on PostgreSQL; PGlite ${machine.pgliteVersion} in memory |`,
    `| Pools | \`pg\` 8.23.1 \`Pool\` with max ${input.poolConnections} connections for each PostgreSQL store |`,
    '',
    `Events per second, median of ${runCount} runs; ratio = Khata ÷ Emmett (target ≥ ${RATIO_TARGET}). ` +
      'Latency is per call (one append, one stream read, one log page), p50 / p99 in ms, median over runs.',
    '',
    '| Workload | Khata (PostgreSQL) | Emmett 0.42 | Ratio | Khata (PGlite) | Khata p50 / p99 ms | Emmett p50 / p99 ms | Events per run |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const summary of summaries) {
    const mark = summary.ratio >= RATIO_TARGET ? '' : ' ✗';
    lines.push(
      `| ${WORKLOAD_DESCRIPTIONS[summary.workload]} | ${formatRate(summary.khata.perSecond)} | ` +
        `${formatRate(summary.emmett.perSecond)} | ${summary.ratio.toFixed(2)}${mark} | ` +
        `${summary.pglite === null ? '–' : formatRate(summary.pglite.perSecond)} | ${latency(summary.khata)} | ` +
        `${latency(summary.emmett)} | ${summary.events.toLocaleString('en-US')} |`,
    );
  }
  lines.push(
    '',
    'CPU time per 1,000 events, ms, median over runs: the benchmark process (client) + the PostgreSQL ' +
      "backends serving the store (server). PGlite's server work runs inside the client process.",
    '',
    '| Workload | Khata client + server | Emmett client + server | Khata (PGlite) |',
    '|---|---:|---:|---:|',
  );
  for (const summary of summaries) {
    const cell = (store: StoreFigures): string =>
      `${store.clientCpuMsPer1000Events.toFixed(1)} + ${store.serverCpuMsPer1000Events.toFixed(1)} = ` +
      `${(store.clientCpuMsPer1000Events + store.serverCpuMsPer1000Events).toFixed(1)}`;
    lines.push(
      `| ${summary.workload} | ${cell(summary.khata)} | ${cell(summary.emmett)} | ` +
        `${summary.pglite === null ? '–' : summary.pglite.clientCpuMsPer1000Events.toFixed(1)} |`,
    );
  }
  const noisy = summaries.flatMap((summary) =>
    (['khata', 'emmett'] as const)
      .filter((store) => summary[store].spread > NOISY_SPREAD)
      .map((store) => `${summary.workload} (${store}, ${summary[store].spread.toFixed(2)}×)`),
  );
  lines.push(
    '',
    noisy.length === 0
      ? `Every PostgreSQL figure's runs agreed within ${Math.round((NOISY_SPREAD - 1) * 100)} %.`
      : `Runs disagreed by more than ${Math.round((NOISY_SPREAD - 1) * 100)} % (fastest ÷ slowest) on: ` +
          `${noisy.join(', ')}. The machine was shared: see "busy before" below.`,
    '',
    'Every run, events per second. "Busy before" is the share of both cores busy in the second before the ' +
      "store started, while the benchmark itself was idle (other people's work, and PostgreSQL's own " +
      'background writing); "load" is the 1-minute load average before → after the store ran.',
    '',
    `| Run | Store | Place | Busy before | Load | ${summaries.map((summary) => summary.workload).join(' | ')} |`,
    `|---|---|---|---:|---|${summaries.map(() => '---:').join('|')}|`,
  );
  for (const run of input.runs) {
    const cells = summaries.map((summary) => {
      const result = run.results.find((candidate) => candidate.workload === summary.workload);
      if (result === undefined) return '–';
      return `${formatRate(result.perSecond)}${result.cutShort ? ' (cut short)' : ''}`;
    });
    lines.push(
      `| ${run.run} | ${run.store} | ${run.place} | ${run.backgroundCpuPercent.toFixed(0)} % | ` +
        `${run.loadAverageBefore.toFixed(2)} → ` +
        `${run.loadAverageAfter.toFixed(2)} | ${cells.join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

const START_MARKER = '<!-- generated by bench/event-store/main.ts: start -->';
const END_MARKER = '<!-- generated by bench/event-store/main.ts: end -->';

/**
 * Replaces the generated block of RESULTS.md and keeps everything around it (the written analysis),
 * so a re-run refreshes the numbers without erasing the explanation of them.
 */
export function writeResultsFile(path: URL, generated: string): void {
  let existing: string;
  try {
    existing = readFileSync(path, 'utf8');
  } catch {
    existing = `# Event store benchmark: Khata vs Emmett\n\n${START_MARKER}\n${END_MARKER}\n`;
  }
  const start = existing.indexOf(START_MARKER);
  const end = existing.indexOf(END_MARKER);
  const block = `${START_MARKER}\n${generated}\n${END_MARKER}`;
  const updated =
    start === -1 || end === -1 || end < start
      ? `${existing.trimEnd()}\n\n${block}\n`
      : `${existing.slice(0, start)}${block}${existing.slice(end + END_MARKER.length)}`;
  writeFileSync(path, updated);
}
