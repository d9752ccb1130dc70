import { readFileSync, writeFileSync } from 'node:fs';
import type { MachineDescription } from './machine.ts';
import { formatRate, median, round, spread } from './stats.ts';
import { WORKLOAD_NAMES, type WorkloadName, type WorkloadResult } from './workloads.ts';

export type StoreName = 'khata' | 'emmett' | 'pglite';

/** SPEC §14: Khata's PostgreSQL adapter must be at least this many times Emmett's rate on each workload. */
export const RATIO_TARGET = 1.5;

/** Runs whose fastest and slowest differ by more than this are called noisy in the report. */
const NOISY_SPREAD = 1.2;

/** One workload on one store in one run. */
export interface Measurement {
  readonly run: number;
  readonly store: StoreName;
  /** 1-based place of this store for this workload in this run (the PostgreSQL stores alternate). */
  readonly place: number;
  /** Share of all cores busy during the half second before the phase, while the benchmark was idle. */
  readonly backgroundCpuPercent: number;
  readonly result: WorkloadResult;
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
  /** Median over runs of Khata ÷ Emmett, each pair measured back to back. */
  readonly ratio: number;
  readonly runRatios: readonly number[];
  /** Emmett's CPU time per event ÷ Khata's (client + server, medians). */
  readonly cpuRatio: number;
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

function resultsOf(
  measurements: readonly Measurement[],
  store: StoreName,
  workload: WorkloadName,
): Map<number, WorkloadResult> {
  return new Map(
    measurements
      .filter((measurement) => measurement.store === store && measurement.result.workload === workload)
      .map((measurement) => [measurement.run, measurement.result]),
  );
}

function figures(results: Map<number, WorkloadResult>): StoreFigures | null {
  const list = [...results.values()];
  if (list.length === 0) return null;
  const runsPerSecond = list.map((result) => result.perSecond);
  return {
    perSecond: median(runsPerSecond),
    runsPerSecond,
    latencyP50Ms: median(list.map((result) => result.latencyP50Ms)),
    latencyP99Ms: median(list.map((result) => result.latencyP99Ms)),
    clientCpuMsPer1000Events: median(list.map((result) => result.clientCpuMsPer1000Events)),
    serverCpuMsPer1000Events: median(list.map((result) => result.serverCpuMsPer1000Events)),
    spread: spread(runsPerSecond),
  };
}

function totalCpu(store: StoreFigures): number {
  return store.clientCpuMsPer1000Events + store.serverCpuMsPer1000Events;
}

export function summarise(measurements: readonly Measurement[]): WorkloadSummary[] {
  return WORKLOAD_NAMES.flatMap((workload) => {
    const khataResults = resultsOf(measurements, 'khata', workload);
    const emmettResults = resultsOf(measurements, 'emmett', workload);
    const khata = figures(khataResults);
    const emmett = figures(emmettResults);
    if (khata === null || emmett === null) return [];
    const runRatios = [...khataResults].flatMap(([run, result]) => {
      const baseline = emmettResults.get(run);
      return baseline === undefined ? [] : [result.perSecond / baseline.perSecond];
    });
    return [
      {
        workload,
        events: [...khataResults.values()][0]?.events ?? 0,
        khata,
        emmett,
        pglite: figures(resultsOf(measurements, 'pglite', workload)),
        ratio: median(runRatios),
        runRatios,
        cpuRatio: totalCpu(emmett) / totalCpu(khata),
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
    runRatios: summary.runRatios.map((ratio) => round(ratio, 2)),
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
    cpuRatio: round(summary.cpuRatio, 2),
  });
}

function latency(store: StoreFigures): string {
  return `${store.latencyP50Ms.toFixed(2)} / ${store.latencyP99Ms.toFixed(2)}`;
}

export interface ReportInput {
  readonly machine: MachineDescription;
  readonly date: Date;
  readonly poolConnections: number;
  readonly runCount: number;
  readonly measurements: readonly Measurement[];
  readonly summaries: readonly WorkloadSummary[];
  readonly durationSeconds: number;
}

/** The generated part of RESULTS.md: setup, the tables, and every run's raw figures. */
export function renderResults(input: ReportInput): string {
  const { machine, summaries, runCount } = input;
  const settings = Object.entries(machine.postgresSettings)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  const lines: string[] = [
    `Measured ${input.date.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`pnpm bench:event-store\` ` +
      `(${runCount} runs, ${Math.round(input.durationSeconds)} s in all).`,
    '',
    '| | |',
    '|---|---|',
    `| CPU | ${machine.cpuModel}, ${machine.cores} cores |`,
    `| Memory | ${machine.memoryGibibytes} GiB |`,
    `| PostgreSQL | ${machine.postgresVersion} on 127.0.0.1 (TCP), ${settings} |`,
    `| Node | ${machine.nodeVersion} |`,
    `| Baseline | \`@event-driven-io/emmett-postgresql@${machine.emmettVersion}\` (npm), same PostgreSQL, own database |`,
    `| Khata | commit ${machine.khataCommit}, \`SqlEventStore\` on PostgreSQL; PGlite ${machine.pgliteVersion} in memory |`,
    `| Pools | \`pg\` 8.23.1 \`Pool\` with max ${input.poolConnections} connections for each PostgreSQL store |`,
    '',
    `Events per second, median of ${runCount} runs. Ratio = Khata ÷ Emmett, the median of the runs' ratios ` +
      `(in each run the two stores ran each workload back to back); target ≥ ${RATIO_TARGET}. CPU ratio = ` +
      "Emmett's CPU time per event ÷ Khata's (client + server, below), which other people's load on the " +
      'machine moves far less than it moves rates. Latency is per call (one append, one stream read, one ' +
      'log page), p50 / p99 in ms, median over runs.',
    '',
    '| Workload | Khata (PostgreSQL) | Emmett 0.42 | Ratio | CPU ratio | Khata (PGlite) | Khata p50 / p99 ms | Emmett p50 / p99 ms | Events per run |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const summary of summaries) {
    const mark = summary.ratio >= RATIO_TARGET ? '' : ' ✗';
    lines.push(
      `| ${WORKLOAD_DESCRIPTIONS[summary.workload]} | ${formatRate(summary.khata.perSecond)} | ` +
        `${formatRate(summary.emmett.perSecond)} | ${summary.ratio.toFixed(2)}${mark} | ` +
        `${summary.cpuRatio.toFixed(2)} | ` +
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
      `${totalCpu(store).toFixed(1)}`;
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
          `${noisy.join(', ')}. "Busy before" below shows how loaded the machine was.`,
    '',
    'Every measurement, events per second. "Busy before" is the share of both cores busy in the half second ' +
      "before the phase started, while the benchmark itself was idle (other people's work, and " +
      "PostgreSQL's own background writing).",
    '',
    '| Run | Workload | First | Khata | busy before | Emmett | busy before | Ratio | PGlite |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|',
  );
  for (let run = 1; run <= runCount; run += 1) {
    for (const workload of WORKLOAD_NAMES) {
      const find = (store: StoreName): Measurement | undefined =>
        input.measurements.find(
          (measurement) =>
            measurement.run === run && measurement.store === store && measurement.result.workload === workload,
        );
      const khata = find('khata');
      const emmett = find('emmett');
      if (khata === undefined || emmett === undefined) continue;
      const pglite = find('pglite');
      const rate = (measurement: Measurement): string =>
        `${formatRate(measurement.result.perSecond)}${measurement.result.cutShort ? ' (cut short)' : ''}`;
      lines.push(
        `| ${run} | ${workload} | ${khata.place === 1 ? 'Khata' : 'Emmett'} | ${rate(khata)} | ` +
          `${khata.backgroundCpuPercent.toFixed(0)} % | ${rate(emmett)} | ` +
          `${emmett.backgroundCpuPercent.toFixed(0)} % | ` +
          `${(khata.result.perSecond / emmett.result.perSecond).toFixed(2)} | ` +
          `${pglite === undefined ? '–' : rate(pglite)} |`,
      );
    }
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
