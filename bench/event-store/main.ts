import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPostgresClient, quoteIdentifier, type SqlClient } from '@khata/sql';
import { describeMachine } from './machine.ts';
import { jsonLine, type Measurement, renderResults, type StoreName, summarise, writeResultsFile } from './report.ts';
import { WORKLOAD_NAMES, type WorkloadName, type WorkloadResult } from './workloads.ts';

/**
 * `pnpm bench:event-store`: Khata's PostgreSQL event store against Emmett 0.42's on the same local
 * PostgreSQL (one database each, created here and dropped at the end), plus Khata on in-memory PGlite.
 *
 * Each run gives each store a fresh database and a fresh Node process (run-store.ts), warms them up,
 * then runs each workload on one PostgreSQL store and right after on the other (then on PGlite), so
 * both figures of a pair meet the same background load on a shared machine. Which store goes first
 * alternates from workload to workload and from run to run. Prints one JSON line per workload
 * (medians of the runs) and rewrites the generated block of bench/RESULTS.md.
 */

const RUNS_DEFAULT = 3;
/** Khata's default pool size (packages/sql/src/client.ts) and the research measurement's (§6.2). */
const POOL_CONNECTIONS_DEFAULT = 10;
/** One command (a warm-up, one workload) takes well under a minute; a store silent this long is stuck. */
const COMMAND_DURATION_MS_MAX = 5 * 60_000;
/** How long the machine is watched before each store runs, to tell a quiet machine from a busy one. */
const BACKGROUND_SAMPLE_MS = 500;
const DATABASES: Readonly<Record<'khata' | 'emmett', string>> = {
  khata: 'khata_bench_khata',
  emmett: 'khata_bench_emmett',
};

const { values } = parseArgs({
  options: {
    'admin-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    runs: { type: 'string', default: String(RUNS_DEFAULT) },
    'pool-connections': { type: 'string', default: String(POOL_CONNECTIONS_DEFAULT) },
    quick: { type: 'boolean', default: false },
    'skip-pglite': { type: 'boolean', default: false },
    'cpu-prof-dir': { type: 'string' },
    only: { type: 'string' },
  },
});

const runCount = Number(values.runs);
const poolConnections = Number(values['pool-connections']);
if (!Number.isSafeInteger(runCount) || runCount < 1) throw new RangeError('--runs must be a positive integer');
if (!Number.isSafeInteger(poolConnections) || poolConnections < 1) {
  throw new RangeError('--pool-connections must be a positive integer');
}

function databaseUrl(name: string): string {
  const url = new URL(values['admin-url']);
  url.pathname = `/${name}`;
  return url.toString();
}

async function recreateDatabase(admin: SqlClient, name: string): Promise<void> {
  await admin.exec(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  await admin.exec(`CREATE DATABASE ${quoteIdentifier(name)}`);
}

/** Busy and total CPU time of the whole machine so far, in clock ticks (Linux /proc/stat). */
function cpuTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((sum, value) => sum + value, 0);
    // idle and iowait are the 4th and 5th fields.
    return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
  } catch {
    return null;
  }
}

/**
 * Share of all cores busy while the benchmark itself is idle: the load other people put on the machine
 * just before a store runs. NaN where /proc/stat is missing.
 */
async function backgroundCpuPercent(): Promise<number> {
  const before = cpuTicks();
  await sleep(BACKGROUND_SAMPLE_MS);
  const after = cpuTicks();
  if (before === null || after === null || after.total === before.total) return Number.NaN;
  return (100 * (after.busy - before.busy)) / (after.total - before.total);
}

/** A store's process (run-store.ts): one command at a time, one answer line per command. */
class StoreProcess {
  readonly store: StoreName;
  readonly #child: ReturnType<typeof spawn>;
  readonly #lines: AsyncIterator<string>;

  constructor(store: StoreName) {
    this.store = store;
    const script = fileURLToPath(new URL('./run-store.ts', import.meta.url));
    const nodeOptions =
      values['cpu-prof-dir'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof-dir']}`];
    const args = [...nodeOptions, script, '--store', store, '--pool-connections', String(poolConnections)];
    if (store !== 'pglite') args.push('--database-url', databaseUrl(DATABASES[store]));
    if (values.quick) args.push('--quick');
    this.#child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    if (this.#child.stdout === null) throw new Error('store process has no stdout');
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async #ask<T>(command: object): Promise<T> {
    this.#child.stdin?.write(`${JSON.stringify(command)}\n`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#child.kill('SIGKILL');
        reject(new Error(`${this.store} did not answer ${JSON.stringify(command)} in time`));
      }, COMMAND_DURATION_MS_MAX);
    });
    try {
      const line = await Promise.race([this.#lines.next(), timeout]);
      if (line.done === true) throw new Error(`${this.store} process ended (see its error above)`);
      return JSON.parse(line.value) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  warmUp(workloads: readonly WorkloadName[]): Promise<{ warmUpSeconds: number }> {
    return this.#ask({ command: 'warm-up', workloads });
  }

  run(workload: WorkloadName): Promise<WorkloadResult> {
    return this.#ask({ command: 'run', workload });
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    await this.#ask({ command: 'close' }).catch(() => this.#child.kill('SIGKILL'));
  }
}

function chosenWorkloads(list: string | undefined): readonly WorkloadName[] {
  if (list === undefined) return WORKLOAD_NAMES;
  const names = list.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(WORKLOAD_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown workload ${name}: choose from ${WORKLOAD_NAMES.join(', ')}`);
    }
  }
  return names as WorkloadName[];
}

const workloads = chosenWorkloads(values.only);
const startedMs = performance.now();
const admin = createPostgresClient({
  connectionString: values['admin-url'],
  applicationName: 'khata-bench-admin',
  maxConnections: 1,
});
const measurements: Measurement[] = [];
try {
  const machine = await describeMachine(admin);
  for (let run = 1; run <= runCount; run += 1) {
    for (const name of Object.values(DATABASES)) await recreateDatabase(admin, name);
    const stores: StoreName[] = values['skip-pglite'] ? ['khata', 'emmett'] : ['khata', 'emmett', 'pglite'];
    const processes = new Map(stores.map((store) => [store, new StoreProcess(store)]));
    try {
      for (const store of processes.values()) {
        const { warmUpSeconds } = await store.warmUp(workloads);
        process.stderr.write(`run ${run}/${runCount}: ${store.store} warmed up in ${warmUpSeconds.toFixed(0)} s\n`);
      }
      for (const [index, workload] of workloads.entries()) {
        const khataFirst = (run + index) % 2 === 1;
        const order: StoreName[] = stores.filter((store) => store !== 'pglite');
        if (!khataFirst) order.reverse();
        if (stores.includes('pglite')) order.push('pglite');
        for (const [place, store] of order.entries()) {
          const backgroundCpu = await backgroundCpuPercent();
          const storeProcess = processes.get(store);
          if (storeProcess === undefined) throw new Error(`no process for ${store}`);
          const result = await storeProcess.run(workload);
          measurements.push({ run, store, place: place + 1, backgroundCpuPercent: backgroundCpu, result });
          process.stderr.write(
            `run ${run}/${runCount} ${workload} ${store}: ${Math.round(result.perSecond)} events/s ` +
              `(machine ${backgroundCpu.toFixed(0)} % busy before)\n`,
          );
        }
      }
    } finally {
      for (const store of processes.values()) await store.close();
    }
  }
  const summaries = summarise(measurements);
  for (const summary of summaries) process.stdout.write(`${jsonLine(summary, machine)}\n`);
  const durationSeconds = (performance.now() - startedMs) / 1000;
  if (values.quick || values.only !== undefined) {
    process.stderr.write('--quick or --only: bench/RESULTS.md left as it was\n');
  } else {
    const generated = renderResults({
      machine,
      date: new Date(),
      poolConnections,
      runCount,
      measurements,
      summaries,
      durationSeconds,
    });
    writeResultsFile(new URL('../RESULTS.md', import.meta.url), generated);
    process.stderr.write('wrote bench/RESULTS.md\n');
  }
} finally {
  for (const name of Object.values(DATABASES)) {
    await admin.exec(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`).catch(() => {});
  }
  await admin.close();
}
