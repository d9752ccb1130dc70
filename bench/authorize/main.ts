/**
 * `pnpm bench authorize`: call authorization from the hot projection (SPEC §14: p99 ≤ 1 ms in process,
 * ≤ 5 ms over HTTP at 2,000 requests/s), with the in-process store and with Redis.
 *
 * Baseline, in the same invocation: the same `CallAuthorizer` running the same decider on the account's
 * state read from the PostgreSQL balances read model per request — what a design without a hot
 * projection does (read-model-store.ts).
 *
 * 1. In process: `authorizer.authorize()` one call after another on prepared accounts, each timed.
 * 2. Over HTTP: the API (server.ts, a process of its own: Khata with both roles, as `khata start`) under
 *    autocannon at a fixed rate (load.ts), two workloads:
 *    - `decision`: calls from suspended accounts, refused by the hot projection alone (no append): the
 *      cost of a decision from the hot projection over HTTP;
 *    - `reserve`: new calls on funded accounts: the hot projection's check, then the `StartCall` append
 *      that reserves the money (the authority, SPEC §8) — what FreeSWITCH's authorization costs.
 *    Each variant (baseline, memory, redis) gets its own accounts, so none inherits another's reservations.
 *
 * PostgreSQL database `khata_bench_authorize` (created and dropped) on --admin-url; Redis keys under a
 * unique prefix (deleted). One JSON line per measurement on stdout; progress on stderr.
 *
 *   pnpm bench authorize                    # full: 2,000 req/s for 30 s per workload and variant
 *   pnpm bench authorize --quick            # under a minute
 *   pnpm bench authorize --stores memory --workloads reserve --cpu-prof-dir /tmp/profiles
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type AuthorizationDecision, CallAuthorizer } from '@khata/hot-projection';
import type { Khata } from '@khata/runtime';
import { createPostgresClient, type SqlClient } from '@khata/sql';
import { Redis } from 'ioredis';
import { backendCpuSecondsBetween, backendCpuSnapshot, processCpuSeconds } from '../event-store/cpu.ts';
import { percentile } from '../event-store/stats.ts';
import {
  ADMIN_URL_DEFAULT,
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  INDIAN_MOBILE,
  loadAverages,
  openBenchKhata,
  openCallCenterAccount,
  REDIS_URL_DEFAULT,
  settle,
  uniquePrefix,
} from '../lib/billing-setup.ts';
import { progress, report } from '../lib/report.ts';
import { type LoadResult, runLoad } from './load.ts';
import { ReadModelStore } from './read-model-store.ts';
import type { ServerMessage, ServerOptions } from './server.ts';

const BENCH = 'authorize';
const DATABASE = 'khata_bench_authorize';
const TARGET_IN_PROCESS_P99_MILLISECONDS = 1;
const TARGET_HTTP_P99_MILLISECONDS = 5;
/** Wallet after the plan fee: ~60 two-hour reservations at ₹1.45/min + GST each, with room to spare. */
const WALLET_RUPEES = '50000.00';
/** Accounts opened at once while setting up. */
const SETUP_CONCURRENCY = 16;
const SERVER_READY_MILLISECONDS = 120_000;
const WARM_UP_RATE_DIVISOR = 4;

const FULL = {
  accounts: 1_000,
  suspended: 100,
  iterations: 20_000,
  baselineIterations: 5_000,
  seconds: 30,
  warmUpSeconds: 3,
};
const QUICK = {
  accounts: 100,
  suspended: 20,
  iterations: 5_000,
  baselineIterations: 1_000,
  seconds: 4,
  warmUpSeconds: 1,
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    accounts: { type: 'string' },
    suspended: { type: 'string' },
    iterations: { type: 'string' },
    'baseline-iterations': { type: 'string' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string' },
    'warm-up-seconds': { type: 'string' },
    instances: { type: 'string', default: '10' },
    'connections-per-instance': { type: 'string', default: '2' },
    stores: { type: 'string', default: 'memory,redis' },
    workloads: { type: 'string', default: 'decision,reserve' },
    'skip-in-process': { type: 'boolean', default: false },
    'skip-http': { type: 'boolean', default: false },
    'pool-size': { type: 'string', default: '10' },
    'admin-url': { type: 'string', default: ADMIN_URL_DEFAULT },
    'redis-url': { type: 'string', default: REDIS_URL_DEFAULT },
    'cpu-prof-dir': { type: 'string' },
  },
});

function integer(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be 1..${max}`);
  return value;
}

const scale = values.quick ? QUICK : FULL;
const settings = {
  accounts: integer('accounts', values.accounts, scale.accounts, 100_000),
  suspended: integer('suspended', values.suspended, scale.suspended, 10_000),
  iterations: integer('iterations', values.iterations, scale.iterations, 10_000_000),
  baselineIterations: integer(
    'baseline-iterations',
    values['baseline-iterations'],
    scale.baselineIterations,
    1_000_000,
  ),
  rate: integer('rate', values.rate, 2_000, 100_000),
  seconds: integer('seconds', values.seconds, scale.seconds, 3_600),
  warmUpSeconds: integer('warm-up-seconds', values['warm-up-seconds'], scale.warmUpSeconds, 600),
  instances: integer('instances', values.instances, 10, 1_000),
  connectionsPerInstance: integer('connections-per-instance', values['connections-per-instance'], 2, 1_000),
  poolSize: integer('pool-size', values['pool-size'], 10, 200),
};
const stores = list(values.stores, ['memory', 'redis']) as ('memory' | 'redis')[];
const workloads = list(values.workloads, ['decision', 'reserve']) as ('decision' | 'reserve')[];
const adminUrl = values['admin-url'];
const redisUrl = values['redis-url'];
const redisKeyPrefix = uniquePrefix(BENCH);

function list(text: string, allowed: readonly string[]): string[] {
  const items = text.split(',').filter((item) => item !== '');
  for (const item of items) if (!allowed.includes(item)) throw new Error(`${item} is not one of ${allowed.join(', ')}`);
  return items;
}

type Variant = 'baseline' | 'memory' | 'redis';

interface AccountSet {
  readonly funded: readonly string[];
  readonly suspended: readonly string[];
}

interface Timing {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly perSecond: number;
  readonly refused: number;
}

async function openAccounts(khata: Khata, funded: number, suspended: number): Promise<AccountSet> {
  const fundedIds: string[] = [];
  const suspendedIds: string[] = [];
  const total = funded + suspended;
  for (let start = 0; start < total; start += SETUP_CONCURRENCY) {
    const chunk = Array.from({ length: Math.min(SETUP_CONCURRENCY, total - start) }, (_, offset) => start + offset);
    await Promise.all(
      chunk.map(async (index) => {
        const accountId = await openCallCenterAccount(khata, WALLET_RUPEES);
        if (index < funded) {
          fundedIds.push(accountId);
          return;
        }
        const outcome = await khata.ledger.execute(
          { type: 'SuspendAccount', commandId: crypto.randomUUID(), accountId, reason: 'unpaid invoice (benchmark)' },
          { actor: 'system:bench' },
        );
        if (outcome.status !== 'accepted') throw new Error(`SuspendAccount: ${outcome.rejection.code}`);
        suspendedIds.push(accountId);
      }),
    );
  }
  return { funded: fundedIds, suspended: suspendedIds };
}

/** Authorizes calls one after another (no queueing), each timed from the call to the answer. */
async function timeDecisions(
  authorizer: CallAuthorizer,
  accountIds: readonly string[],
  iterations: number,
  label: string,
): Promise<Timing> {
  const WARM_UP_SHARE = 10;
  const decide = (index: number): Promise<AuthorizationDecision> =>
    authorizer.authorize(
      accountIds[index % accountIds.length] as string,
      INDIAN_MOBILE,
      new Date(),
      `${label}-${index}`,
    );
  for (let index = 0; index < Math.ceil(iterations / WARM_UP_SHARE); index += 1) await decide(index);
  const samples = new Float64Array(iterations);
  let refused = 0;
  const started = performance.now();
  for (let index = 0; index < iterations; index += 1) {
    const before = performance.now();
    const decision = await decide(index);
    samples[index] = performance.now() - before;
    if (!decision.authorized) refused += 1;
  }
  const elapsedMilliseconds = performance.now() - started;
  const sorted = [...samples];
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    mean: elapsedMilliseconds / iterations,
    perSecond: (iterations / elapsedMilliseconds) * 1_000,
    refused,
  };
}

function readModelAuthorizer(khata: Khata): CallAuthorizer {
  return new CallAuthorizer({
    hot: new ReadModelStore(khata),
    decider: khata.ledger.decider,
    reload: async (accountId) => {
      const { state, version } = await khata.ledger.load(accountId);
      return { state, version };
    },
    policy: { mode: 'fail-closed' },
  });
}

function reportInProcess(store: Variant, timing: Timing, baseline: Timing): void {
  progress(
    `  in process, ${store}: p50 ${timing.p50.toFixed(3)} ms, p99 ${timing.p99.toFixed(3)} ms, ${timing.perSecond.toFixed(0)} decisions/s, ${timing.refused} refused`,
  );
  const common = { bench: BENCH, unit: 'ms', direction: 'lower-is-better' } as const;
  report({ ...common, metric: `in-process-${store}-p50`, value: timing.p50, baseline: baseline.p50 });
  report({
    ...common,
    metric: `in-process-${store}-p99`,
    value: timing.p99,
    baseline: baseline.p99,
    target: TARGET_IN_PROCESS_P99_MILLISECONDS,
  });
  report({
    bench: BENCH,
    metric: `in-process-${store}-decisions`,
    value: timing.perSecond,
    unit: 'decisions/s',
    direction: 'higher-is-better',
    baseline: baseline.perSecond,
  });
}

async function inProcess(environment: { databaseUrl: string }, accounts: AccountSet): Promise<void> {
  let baseline: Timing | null = null;
  for (const store of stores) {
    progress(`in process: ${store} hot projection`);
    const khata = await openBenchKhata(
      { databaseUrl: environment.databaseUrl, redisUrl: store === 'redis' ? redisUrl : null },
      { roles: { api: true, worker: true }, redisKeyPrefix },
    );
    try {
      await settle(khata);
      if (baseline === null) {
        progress('in process: baseline (PostgreSQL read model per decision)');
        baseline = await timeDecisions(readModelAuthorizer(khata), accounts.funded, settings.baselineIterations, 'rm');
        progress(
          `  in process, read model: p50 ${baseline.p50.toFixed(3)} ms, p99 ${baseline.p99.toFixed(3)} ms, ${baseline.perSecond.toFixed(0)} decisions/s`,
        );
      }
      const timing = await timeDecisions(khata.hot.authorizer, accounts.funded, settings.iterations, store);
      reportInProcess(store, timing, baseline);
    } finally {
      await khata.close();
    }
  }
}

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  readonly token: string;
}

function startProcess(variant: Variant, role: ServerOptions['role'], databaseUrl: string): Promise<Running> {
  const options: ServerOptions = {
    databaseUrl,
    redisUrl: variant === 'redis' ? redisUrl : null,
    redisKeyPrefix,
    baseline: variant === 'baseline',
    poolSize: settings.poolSize,
    role,
  };
  const profileDirectory = values['cpu-prof-dir'];
  if (profileDirectory !== undefined) mkdirSync(profileDirectory, { recursive: true });
  const child = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [
      ...process.execArgv,
      ...(profileDirectory === undefined
        ? []
        : ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`, `--cpu-prof-name=${role}-${variant}.cpuprofile`]),
    ],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start')), SERVER_READY_MILLISECONDS);
    child.once('message', (message: ServerMessage) => {
      clearTimeout(timer);
      resolve({ child, port: message.port, token: message.token });
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
}

/** Resolves when the worker's read models and hot projection have every event of the log so far. */
async function settleProcess(running: Running): Promise<void> {
  const settled = new Promise<void>((done) =>
    running.child.on('message', function onMessage(message: { type?: string }) {
      if (message.type !== 'settled') return;
      running.child.off('message', onMessage);
      done();
    }),
  );
  running.child.send({ type: 'settle' });
  await settled;
}

async function stopProcess(running: Running): Promise<void> {
  const exited = new Promise<void>((done) => running.child.once('exit', () => done()));
  running.child.send({ type: 'stop' });
  await exited;
}

/** CPU seconds used so far by each process serving the load: API, worker, PostgreSQL backends, Redis. */
interface CpuSnapshot {
  readonly api: number;
  readonly worker: number;
  readonly backends: Map<number, number>;
  readonly redis: number;
}

async function backendIds(admin: SqlClient): Promise<number[]> {
  const rows = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [DATABASE]);
  return rows.map((row) => row.pid);
}

async function redisCpuSeconds(): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('cpu');
    const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    redis.disconnect();
  }
}

async function cpuSnapshot(admin: SqlClient, api: Running, worker: Running, withRedis: boolean): Promise<CpuSnapshot> {
  return {
    api: processCpuSeconds(api.child.pid as number) ?? Number.NaN,
    worker: processCpuSeconds(worker.child.pid as number) ?? Number.NaN,
    backends: backendCpuSnapshot(await backendIds(admin)),
    redis: withRedis ? await redisCpuSeconds() : 0,
  };
}

/** CPU milliseconds per response, by process, between two snapshots. */
function cpuPerResponse(before: CpuSnapshot, after: CpuSnapshot, responses: number) {
  const perResponse = (seconds: number): number => (seconds * 1_000) / Math.max(responses, 1);
  return {
    api: perResponse(after.api - before.api),
    worker: perResponse(after.worker - before.worker),
    postgres: perResponse(backendCpuSecondsBetween(before.backends, after.backends)),
    redis: perResponse(after.redis - before.redis),
  };
}

function bodies(accountIds: readonly string[], tag: string): (sequence: number) => string {
  return (sequence) =>
    JSON.stringify({
      callId: `${tag}-${sequence}`,
      accountCode: accountIds[sequence % accountIds.length],
      destination: INDIAN_MOBILE,
    });
}

function describeLoad(result: LoadResult): string {
  const { p50, p90, p99, p999, max } = result.latencyMilliseconds;
  const reasons = Object.entries(result.reasons)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  return `${result.ratePerSecond.toFixed(0)} req/s, p50 ${p50.toFixed(2)} / p90 ${p90.toFixed(2)} / p99 ${p99.toFixed(2)} / p99.9 ${p999.toFixed(2)} / max ${max.toFixed(1)} ms, errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx} (${reasons}); load ${loadAverages()}`;
}

async function http(databaseUrl: string, accountSets: ReadonlyMap<Variant, AccountSet>): Promise<void> {
  const variants: Variant[] = ['baseline', ...stores];
  const baselineResults = new Map<string, LoadResult>();
  const baselineCpu = new Map<string, ReturnType<typeof cpuPerResponse>>();
  const admin = createPostgresClient({ connectionString: adminUrl, applicationName: 'khata-bench', maxConnections: 1 });
  try {
    for (const variant of variants) {
      progress(`HTTP: ${variant} (API and worker processes)`);
      const worker = await startProcess(variant, 'worker', databaseUrl);
      const server = await startProcess(variant, 'api', databaseUrl);
      // New processes catch up on the log first (the earlier variants' events; the whole hot projection, in Redis
      // or in the API's memory): measured beside the load, that catch-up was counted as the decisions' latency.
      const catchUpStarted = performance.now();
      await Promise.all([settleProcess(worker), settleProcess(server)]);
      progress(`  worker and API caught up in ${((performance.now() - catchUpStarted) / 1000).toFixed(1)} s`);
      const accounts = accountSets.get(variant) as AccountSet;
      try {
        for (const workload of workloads) {
          const accountIds = workload === 'decision' ? accounts.suspended : accounts.funded;
          const plan = {
            port: server.port,
            token: server.token,
            instances: settings.instances,
            connectionsPerInstance: settings.connectionsPerInstance,
          };
          progress(`  ${workload}: warm-up ${settings.warmUpSeconds} s`);
          await runLoad({
            ...plan,
            ratePerSecond: settings.rate / WARM_UP_RATE_DIVISOR,
            seconds: settings.warmUpSeconds,
            body: bodies(accountIds, `${variant}-warm`),
          });
          progress(`  ${workload}: ${settings.rate} req/s for ${settings.seconds} s (load before: ${loadAverages()})`);
          const before = await cpuSnapshot(admin, server, worker, variant === 'redis');
          const result = await runLoad({
            ...plan,
            ratePerSecond: settings.rate,
            seconds: settings.seconds,
            body: bodies(accountIds, `${variant}-run`),
          });
          const cpu = cpuPerResponse(
            before,
            await cpuSnapshot(admin, server, worker, variant === 'redis'),
            result.responses,
          );
          progress(`  ${variant} ${workload}: ${describeLoad(result)}`);
          progress(
            `  ${variant} ${workload}: CPU ms per response: API ${cpu.api.toFixed(3)}, worker ${cpu.worker.toFixed(3)}, ` +
              `PostgreSQL ${cpu.postgres.toFixed(3)}, Redis ${cpu.redis.toFixed(3)}`,
          );
          if (variant === 'baseline') {
            baselineResults.set(workload, result);
            baselineCpu.set(workload, cpu);
            continue;
          }
          reportHttp(variant, workload, result, baselineResults.get(workload));
          const baseCpu = baselineCpu.get(workload);
          for (const part of ['api', 'postgres'] as const) {
            report({
              bench: BENCH,
              metric: `http-${workload}-${variant}-${part}-cpu-per-request`,
              value: cpu[part],
              unit: 'ms',
              direction: 'lower-is-better',
              ...(baseCpu === undefined ? {} : { baseline: baseCpu[part] }),
            });
          }
        }
      } finally {
        await stopProcess(server);
        await stopProcess(worker);
      }
    }
  } finally {
    await admin.close();
  }
}

function reportHttp(variant: Variant, workload: string, result: LoadResult, baseline: LoadResult | undefined): void {
  const prefix = `http-${workload}-${variant}`;
  const latency = { bench: BENCH, unit: 'ms', direction: 'lower-is-better' } as const;
  const withBaseline = (value: number | undefined) => (value === undefined ? {} : { baseline: value });
  report({
    ...latency,
    metric: `${prefix}-p50`,
    value: result.latencyMilliseconds.p50,
    ...withBaseline(baseline?.latencyMilliseconds.p50),
  });
  report({
    ...latency,
    metric: `${prefix}-p99`,
    value: result.latencyMilliseconds.p99,
    ...withBaseline(baseline?.latencyMilliseconds.p99),
    target: TARGET_HTTP_P99_MILLISECONDS,
  });
  report({
    bench: BENCH,
    metric: `${prefix}-rate`,
    value: result.ratePerSecond,
    unit: 'req/s',
    direction: 'higher-is-better',
    ...withBaseline(baseline?.ratePerSecond),
    target: settings.rate,
  });
  const failures = (load: LoadResult): number => load.errors + load.timeouts + load.non2xx;
  report({
    bench: BENCH,
    metric: `${prefix}-errors`,
    value: failures(result),
    unit: 'requests',
    direction: 'lower-is-better',
    ...withBaseline(baseline === undefined ? undefined : failures(baseline)),
    target: 0,
  });
}

async function main(): Promise<void> {
  progress(`authorize benchmark: ${JSON.stringify(settings)}, stores ${stores.join(',')}; load ${loadAverages()}`);
  const databaseUrl = await createDatabase(adminUrl, DATABASE);
  try {
    progress('setting up accounts');
    const setup = await openBenchKhata({ databaseUrl, redisUrl: null }, { roles: { api: true, worker: true } });
    const accountSets = new Map<Variant, AccountSet>();
    try {
      for (const variant of ['baseline', ...stores] as Variant[]) {
        accountSets.set(variant, await openAccounts(setup, settings.accounts, settings.suspended));
      }
      await settle(setup);
    } finally {
      await setup.close();
    }
    if (!values['skip-in-process']) await inProcess({ databaseUrl }, accountSets.get('baseline') as AccountSet);
    if (!values['skip-http']) await http(databaseUrl, accountSets);
  } finally {
    await dropDatabase(adminUrl, DATABASE);
    if (stores.includes('redis')) await deleteRedisKeys(redisUrl, `{khata}:${redisKeyPrefix}*`);
  }
  progress(`done; load ${loadAverages()}`);
}

await main();
