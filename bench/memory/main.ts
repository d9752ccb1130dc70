/**
 * `pnpm bench memory`: the resident set size of `khata start` idle and under the HTTP load of the
 * authorize benchmark (issue 8: ≤ 300 MB under load). There is no baseline: the figure is absolute.
 *
 * `khata start` runs as a child process exactly as an operator starts it (`./khata start`: API and worker in
 * one process, the hot projection in process, Node's compile cache warm from an earlier start), on
 * PostgreSQL (`khata_bench_memory`, created and dropped) for the event store and the read models. Its RSS
 * is read from /proc/<pid>/status every --sample-ms while it idles and while autocannon sends the authorize
 * benchmark's two workloads (calls from suspended accounts, refused by the hot projection; new calls on
 * funded accounts, each reserved by an append) at --rate for --seconds each.
 *
 *   pnpm bench memory              # 10 s idle, then 2,000 req/s for 30 s per workload
 *   pnpm bench memory --quick      # under a minute
 *   pnpm bench memory --heap-mb 0  # V8's own heap sizing instead of the launcher's bound (KHATA_HEAP_MB, 160)
 *   pnpm bench memory --node-options="--max-old-space-size=160 --max-semi-space-size=8"   # V8 flags for the child
 *   (NODE_OPTIONS; the value starts with "--", so it must be joined to the option with "=")
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from '../authorize/load.ts';
import { median } from '../event-store/stats.ts';
import {
  ADMIN_URL_DEFAULT,
  createDatabase,
  dropDatabase,
  INDIAN_MOBILE,
  khataEnvironment,
  loadAverages,
  openBenchKhata,
  openCallCenterAccount,
  REPO_ROOT,
  residentMebibytes,
  settle,
} from '../lib/billing-setup.ts';
import { progress, report } from '../lib/report.ts';

const BENCH = 'memory';
const DATABASE = 'khata_bench_memory';
const TARGET_LOADED_MEBIBYTES = 300;
const WALLET_RUPEES = '50000.00';
const START_TIMEOUT_MILLISECONDS = 120_000;
const LAUNCHER = join(REPO_ROOT, 'khata');
const SETUP_CONCURRENCY = 16;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    accounts: { type: 'string' },
    suspended: { type: 'string' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string' },
    'idle-seconds': { type: 'string' },
    'sample-ms': { type: 'string', default: '250' },
    instances: { type: 'string', default: '10' },
    'connections-per-instance': { type: 'string', default: '2' },
    'admin-url': { type: 'string', default: ADMIN_URL_DEFAULT },
    'node-options': { type: 'string' },
    /** KHATA_HEAP_MB for the launcher: the server's old-generation bound in MiB, 0 for V8's own default. */
    'heap-mb': { type: 'string' },
  },
});

function integer(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be 1..${max}`);
  return value;
}

const settings = {
  accounts: integer('accounts', values.accounts, values.quick ? 100 : 1_000, 100_000),
  suspended: integer('suspended', values.suspended, values.quick ? 20 : 100, 10_000),
  rate: integer('rate', values.rate, 2_000, 100_000),
  seconds: integer('seconds', values.seconds, values.quick ? 5 : 30, 3_600),
  idleSeconds: integer('idle-seconds', values['idle-seconds'], values.quick ? 3 : 10, 3_600),
  sampleMilliseconds: integer('sample-ms', values['sample-ms'], 250, 60_000),
  instances: integer('instances', values.instances, 10, 1_000),
  connectionsPerInstance: integer('connections-per-instance', values['connections-per-instance'], 2, 1_000),
};
const adminUrl = values['admin-url'];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Started {
  readonly child: ChildProcess;
  readonly token: string;
}

/** Starts `khata start` and waits for its banner; the first administrator's token is in it. */
async function startKhata(databaseUrl: string, port: number): Promise<Started> {
  let stdout = '';
  let stderr = '';
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...(values['node-options'] === undefined ? {} : { NODE_OPTIONS: values['node-options'] }),
    ...(values['heap-mb'] === undefined ? {} : { KHATA_HEAP_MB: values['heap-mb'] }),
    ...khataEnvironment({ databaseUrl, redisUrl: null }),
  };
  // Through the launcher, as an operator starts it. A first start fills Node's compile cache (the launcher
  // turns it on); `khata help start` loads the same modules, so the measured start is a later one.
  const warm = spawnSync(LAUNCHER, ['help', 'start'], { cwd: REPO_ROOT, env, stdio: 'ignore' });
  if (warm.status !== 0) throw new Error(`khata help start exited ${warm.status}`);
  const child = spawn(LAUNCHER, ['start', '--port', String(port)], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const deadline = performance.now() + START_TIMEOUT_MILLISECONDS;
  while (!stdout.includes('press Ctrl-C to stop')) {
    if (child.exitCode !== null) throw new Error(`khata start exited ${child.exitCode}: ${stderr}`);
    if (performance.now() > deadline) throw new Error(`khata start did not come up: ${stdout}\n${stderr}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  const token = /Bearer (khata_\S+)/.exec(stdout)?.[1];
  if (token === undefined) throw new Error(`khata start printed no administrator token:\n${stdout}`);
  return { child, token };
}

/** Samples the child's RSS until `stop` resolves. */
async function sampleWhile(pid: number, stop: Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  let done = false;
  void stop.finally(() => {
    done = true;
  });
  while (!done) {
    samples.push(residentMebibytes(pid));
    await Promise.race([stop, new Promise((resolve) => setTimeout(resolve, settings.sampleMilliseconds))]);
  }
  samples.push(residentMebibytes(pid));
  return samples;
}

function bodies(accountIds: readonly string[], tag: string): (sequence: number) => string {
  return (sequence) =>
    JSON.stringify({
      callId: `${tag}-${sequence}`,
      accountCode: accountIds[sequence % accountIds.length],
      destination: INDIAN_MOBILE,
    });
}

async function main(): Promise<void> {
  progress(
    `memory benchmark: ${JSON.stringify(settings)}; NODE_OPTIONS of khata start: ${values['node-options'] ?? 'none'}; KHATA_HEAP_MB: ${values['heap-mb'] ?? "the launcher's default"}; load ${loadAverages()}`,
  );
  const databaseUrl = await createDatabase(adminUrl, DATABASE);
  try {
    progress('setting up accounts');
    const funded: string[] = [];
    const suspended: string[] = [];
    const setup = await openBenchKhata({ databaseUrl, redisUrl: null }, { roles: { api: true, worker: true } });
    try {
      const total = settings.accounts + settings.suspended;
      for (let start = 0; start < total; start += SETUP_CONCURRENCY) {
        const chunk = Array.from({ length: Math.min(SETUP_CONCURRENCY, total - start) }, (_, offset) => start + offset);
        await Promise.all(
          chunk.map(async (index) => {
            const accountId = await openCallCenterAccount(setup, WALLET_RUPEES);
            if (index < settings.accounts) {
              funded.push(accountId);
              return;
            }
            await setup.ledger.execute(
              { type: 'SuspendAccount', commandId: crypto.randomUUID(), accountId, reason: 'benchmark' },
              { actor: 'system:bench' },
            );
            suspended.push(accountId);
          }),
        );
      }
      await settle(setup);
    } finally {
      await setup.close();
    }

    const port = await freePort();
    progress(`khata start on port ${port}`);
    const { child, token } = await startKhata(databaseUrl, port);
    const pid = child.pid as number;
    try {
      const idle = await sampleWhile(pid, new Promise((done) => setTimeout(done, settings.idleSeconds * 1_000)));
      progress(`  idle: median ${median(idle).toFixed(1)} MiB, max ${Math.max(...idle).toFixed(1)} MiB`);
      const loaded: number[] = [];
      for (const [workload, accountIds] of [
        ['decision', suspended],
        ['reserve', funded],
      ] as const) {
        progress(`  ${workload}: ${settings.rate} req/s for ${settings.seconds} s (load ${loadAverages()})`);
        const running = runLoad({
          port,
          token,
          ratePerSecond: settings.rate,
          seconds: settings.seconds,
          instances: settings.instances,
          connectionsPerInstance: settings.connectionsPerInstance,
          body: bodies(accountIds, workload),
        });
        const samples = await sampleWhile(pid, running);
        const result = await running;
        loaded.push(...samples);
        const { p50, p99 } = result.latencyMilliseconds;
        progress(
          `  ${workload}: ${result.ratePerSecond.toFixed(0)} req/s, p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, ` +
            `errors ${result.errors + result.timeouts + result.non2xx}; RSS max ${Math.max(...samples).toFixed(1)} MiB; load ${loadAverages()}`,
        );
      }
      const after = residentMebibytes(pid);
      report({ bench: BENCH, metric: 'idle-rss', value: median(idle), unit: 'MiB', direction: 'lower-is-better' });
      report({
        bench: BENCH,
        metric: 'loaded-rss-max',
        value: Math.max(...loaded),
        unit: 'MiB',
        direction: 'lower-is-better',
        target: TARGET_LOADED_MEBIBYTES,
      });
      report({
        bench: BENCH,
        metric: 'loaded-rss-median',
        value: median(loaded),
        unit: 'MiB',
        direction: 'lower-is-better',
      });
      report({ bench: BENCH, metric: 'rss-after-load', value: after, unit: 'MiB', direction: 'lower-is-better' });
    } catch (error) {
      // A child that died under the load (e.g. a heap bound too small for the workload: V8 aborts) leaves no
      // /proc entry to sample: say so rather than report a half-measured run.
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`khata start died during the benchmark (exit ${child.exitCode ?? child.signalCode})`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        await exited;
      }
    }
  } finally {
    await dropDatabase(adminUrl, DATABASE);
  }
  progress(`done; load ${loadAverages()}`);
}

await main();
