import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPostgresClient, quoteIdentifier, type SqlClient } from '@khata/sql';
import { describeMachine } from './machine.ts';
import { jsonLine, renderResults, type StoreName, type StoreRun, summarise, writeResultsFile } from './report.ts';
import type { WorkloadResult } from './workloads.ts';

/**
 * `pnpm bench:event-store`: Khata's PostgreSQL event store against Emmett 0.42's on the same local
 * PostgreSQL (one database each, created here and dropped at the end), plus Khata on in-memory PGlite.
 *
 * Each run starts each store in a fresh database and a fresh Node process (run-store.ts), which warms
 * up, then runs every workload from an empty store. The two PostgreSQL stores swap order from run to
 * run so neither always meets a freshly checkpointed or a busier cluster. Prints one JSON line per
 * workload (medians of the runs) and rewrites the generated block of bench/RESULTS.md.
 */

const RUNS_DEFAULT = 3;
/** Khata's default pool size (packages/sql/src/client.ts) and the research measurement's (§6.2). */
const POOL_CONNECTIONS_DEFAULT = 10;
/** A store's run normally takes under a minute; a child that has not finished by then is stuck. */
const CHILD_DURATION_MS_MAX = 10 * 60_000;
/** How long the machine is watched before each store runs, to tell a quiet machine from a busy one. */
const BACKGROUND_SAMPLE_MS = 1_000;
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

function runStore(store: StoreName): Promise<{ warmUpSeconds: number; results: WorkloadResult[] }> {
  const script = fileURLToPath(new URL('./run-store.ts', import.meta.url));
  const nodeOptions =
    values['cpu-prof-dir'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof-dir']}`];
  const args = [...nodeOptions, script, '--store', store, '--pool-connections', String(poolConnections)];
  if (store !== 'pglite') args.push('--database-url', databaseUrl(DATABASES[store]));
  if (values.quick) args.push('--quick');
  if (values.only !== undefined) args.push('--only', values.only);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_DURATION_MS_MAX);
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${store} run failed (exit code ${code}, signal ${signal})`));
        return;
      }
      const last = output.trim().split('\n').at(-1) ?? '';
      resolve(JSON.parse(last) as { warmUpSeconds: number; results: WorkloadResult[] });
    });
  });
}

const startedMs = performance.now();
const admin = createPostgresClient({
  connectionString: values['admin-url'],
  applicationName: 'khata-bench-admin',
  maxConnections: 1,
});
const runs: StoreRun[] = [];
try {
  const machine = await describeMachine(admin);
  for (let run = 1; run <= runCount; run += 1) {
    const order: StoreName[] = run % 2 === 1 ? ['khata', 'emmett'] : ['emmett', 'khata'];
    if (!values['skip-pglite']) order.push('pglite');
    for (const [index, store] of order.entries()) {
      if (store !== 'pglite') await recreateDatabase(admin, DATABASES[store]);
      const backgroundCpu = await backgroundCpuPercent();
      process.stderr.write(`run ${run}/${runCount}: ${store} (machine ${backgroundCpu.toFixed(0)} % busy before)…\n`);
      const loadAverageBefore = loadavg()[0] ?? 0;
      const { warmUpSeconds, results } = await runStore(store);
      runs.push({
        store,
        run,
        place: index + 1,
        backgroundCpuPercent: backgroundCpu,
        loadAverageBefore,
        loadAverageAfter: loadavg()[0] ?? 0,
        warmUpSeconds,
        results,
      });
    }
  }
  const summaries = summarise(runs);
  for (const summary of summaries) process.stdout.write(`${jsonLine(summary, machine)}\n`);
  const durationSeconds = (performance.now() - startedMs) / 1000;
  if (values.quick || values.only !== undefined) {
    process.stderr.write('--quick or --only: bench/RESULTS.md left as it was\n');
  } else {
    const generated = renderResults({ machine, date: new Date(), poolConnections, runs, summaries, durationSeconds });
    writeResultsFile(new URL('../RESULTS.md', import.meta.url), generated);
    process.stderr.write('wrote bench/RESULTS.md\n');
  }
} finally {
  for (const name of Object.values(DATABASES)) {
    await admin.exec(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`).catch(() => {});
  }
  await admin.close();
}
