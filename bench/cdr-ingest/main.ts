/**
 * `pnpm bench cdr-ingest` (issue 8, SPEC §14): CDRs of many accounts posted in batches to
 * `POST /api/v1/cdrs/batch` over HTTP on 127.0.0.1, rated, appended, and projected into every read model
 * and the hot projection (Redis). The clock runs from the first request until the read models and the
 * hot projection have every event. The baseline (bench/baselines/crud-cdr.ts) rates the same CDRs one
 * transaction each; afterwards every account's balance in the balances read model must equal the
 * baseline's, or the benchmark exits non-zero.
 *
 *   pnpm bench cdr-ingest                      # 200,000 CDRs, 5,000 accounts
 *   pnpm bench cdr-ingest --quick              # 20,000 CDRs, 1,000 accounts (under a minute)
 *   pnpm bench cdr-ingest --cdrs 50000 --accounts 2000 --batch 500 --senders 4 --skip-baseline
 *   pnpm bench cdr-ingest --one-process        # API and worker roles in one process, as `khata start` runs
 *   pnpm bench cdr-ingest --quick --keep-database  # leave khata_bench_ingest behind to inspect its tables
 *
 * By default the worker role (read models, hot projection, process managers, scheduler) runs in a process of
 * its own (bench/lib/worker-process.ts), as production runs it, and this process serves the API only.
 */
import { parseArgs } from 'node:util';
import { type Api, buildApp, type Principal, staticTokens } from '@khata/api';
import { loadConfig } from '@khata/config';
import { Money } from '@khata/domain';
import { type Khata, openKhata } from '@khata/runtime';
import { createPostgresClient } from '@khata/sql';
import { type CrudAccount, CrudCdrBaseline } from '../baselines/crud-cdr.ts';
import { describeMachine } from '../event-store/machine.ts';
import {
  ADMIN_URL_DEFAULT,
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  khataEnvironment,
  loadAverages,
  REDIS_URL_DEFAULT,
  REPO_ROOT,
  runSetupCommands,
  settle,
  uniquePrefix,
} from '../lib/billing-setup.ts';
import {
  type BenchCdr,
  benchAccounts,
  benchCdrs,
  INGESTED_AT,
  SUBSCRIBED_AT,
  seeded,
  setupCommands,
  slices,
} from '../lib/cdr-workload.ts';
import { type CpuUsage, cpuSnapshot, cpuUsage, cpuUsageOfPhases } from '../lib/cpu-usage.ts';
import { progress, report } from '../lib/report.ts';
import { startWorkerProcess, type WorkerProcess } from '../lib/worker-process.ts';

const BENCH = 'cdr-ingest';
const TARGET_CDRS_PER_SECOND = 20_000;
const TARGET_RATIO = 5;
const SEED = 20_261_125;
const TOKEN = 'bench-ingester';

const { values } = parseArgs({
  options: {
    cdrs: { type: 'string' },
    accounts: { type: 'string' },
    batch: { type: 'string', default: '1000' },
    senders: { type: 'string', default: '4' },
    'baseline-connections': { type: 'string', default: '10' },
    'pool-size': { type: 'string', default: '10' },
    quick: { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    /** Leave Khata's database in place afterwards, to look at its tables (dropped at the next run's start). */
    'keep-database': { type: 'boolean', default: false },
    'one-process': { type: 'boolean', default: false },
    'admin-url': { type: 'string', default: ADMIN_URL_DEFAULT },
    'redis-url': { type: 'string', default: REDIS_URL_DEFAULT },
  },
});
const cdrCount = Number(values.cdrs ?? (values.quick ? 20_000 : 200_000));
const accountCount = Number(values.accounts ?? (values.quick ? 1_000 : 5_000));
const batchSize = Number(values.batch);
const senders = Number(values.senders);
const baselineConnections = Number(values['baseline-connections']);
const adminUrl = values['admin-url'];
const redisUrl = values['redis-url'];
for (const [name, value] of Object.entries({ cdrCount, accountCount, batchSize, senders, baselineConnections })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
}

const KHATA_DATABASE = 'khata_bench_ingest';
const CRUD_DATABASE = 'khata_bench_crud';

let now = Date.parse(SUBSCRIBED_AT);

async function readModelAccounts(khata: Khata): Promise<CrudAccount[]> {
  const schema = await khata.readModelSchema('balances');
  const rows = await khata.readDb.query<{
    account_id: string;
    plan_id: string;
    billing_mode: string;
    balance: string;
    free_seconds: number;
    free_seconds_used: number;
  }>(`SELECT account_id, plan_id, billing_mode, balance, free_seconds, free_seconds_used FROM ${schema}.balances`);
  return rows.map((row) => ({
    accountId: row.account_id,
    planId: row.plan_id,
    billingMode: row.billing_mode,
    balance: row.balance,
    freeSeconds: row.free_seconds,
    freeSecondsUsed: row.free_seconds_used,
  }));
}

async function listen(khata: Khata): Promise<{ app: Api; url: string }> {
  const principal: Principal = { userId: 'bench-ingester', role: 'system', accountIds: [], sessionId: null };
  const app = await buildApp({ khata, authenticate: staticTokens(new Map([[TOKEN, principal]])) });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `${address}/api/v1/cdrs/batch` };
}

/** Posts each sender's batches one after another; senders run side by side. Returns CDRs accepted. */
async function post(
  url: string,
  bodies: readonly (readonly string[])[],
): Promise<{ accepted: number; rejected: number }> {
  let accepted = 0;
  let rejected = 0;
  await Promise.all(
    bodies.map(async (mine) => {
      for (const body of mine) {
        const response = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body,
        });
        const answer = (await response.json()) as { accepted?: number; rejected?: number; detail?: string };
        if (response.status !== 200) throw new Error(`batch refused with ${response.status}: ${answer.detail}`);
        accepted += answer.accepted ?? 0;
        rejected += answer.rejected ?? 0;
      }
    }),
  );
  return { accepted, rejected };
}

/**
 * CPU seconds per 1,000 CDRs of each group and in all, and the machine's busy share: what a CDR costs does not move
 * with the host's speed the way a rate does, so it compares runs made hours apart (and Khata with the baseline).
 */
function reportCpu(phase: string, usage: CpuUsage, cdrs: number, baselineTotal?: number): number {
  const perThousand = (seconds: number): number => (seconds * 1000) / cdrs;
  const total = usage.groups.reduce((sum, group) => sum + group.seconds, 0);
  for (const { group, seconds } of usage.groups) {
    report({
      bench: BENCH,
      metric: `${phase}-cpu-seconds-per-1000-cdrs-${group}`,
      value: perThousand(seconds),
      unit: 's',
      direction: 'lower-is-better',
    });
  }
  report({
    bench: BENCH,
    metric: `${phase}-cpu-seconds-per-1000-cdrs`,
    value: perThousand(total),
    unit: 's',
    direction: 'lower-is-better',
    ...(baselineTotal === undefined ? {} : { baseline: baselineTotal }),
  });
  if (usage.busyPercent !== null) {
    progress(
      `${phase}: machine ${usage.busyPercent.toFixed(0)} % busy (steal ${(usage.stealPercent ?? 0).toFixed(1)} %) ` +
        `over ${usage.seconds.toFixed(1)} s; CPU s: ${usage.groups.map((g) => `${g.group} ${g.seconds.toFixed(1)}`).join(', ')}`,
    );
  }
  return perThousand(total);
}

async function main(): Promise<number> {
  const admin = createPostgresClient({ connectionString: adminUrl, applicationName: 'khata-bench', maxConnections: 1 });
  const machine = await describeMachine(admin);
  await admin.close();
  progress(`cdr-ingest: ${cdrCount} CDRs, ${accountCount} accounts, batches of ${batchSize}, ${senders} senders`);
  progress(`machine: ${machine.cpuModel}, ${machine.cores} cores; load averages ${loadAverages()}`);

  const random = seeded(SEED);
  const accounts = benchAccounts(accountCount, random);
  const partition = new Map(accounts.map((account) => [account.accountId, account.index]));
  const cdrs = benchCdrs(accounts, Math.ceil(cdrCount / accountCount), random).slice(0, cdrCount);

  const databaseUrl = await createDatabase(adminUrl, KHATA_DATABASE);
  const prefix = uniquePrefix(BENCH);
  const environment = { databaseUrl, redisUrl, poolSize: Number(values['pool-size']) };
  const config = loadConfig(khataEnvironment(environment), { cwd: REPO_ROOT });
  const oneProcess = values['one-process'] === true;
  const khata = await openKhata(config, {
    roles: { api: true, worker: oneProcess },
    migrate: true,
    clock: () => new Date(now),
    redisKeyPrefix: prefix,
  });
  let app: Api | null = null;
  let baseline: CrudCdrBaseline | null = null;
  let worker: WorkerProcess | null = null;
  // CPU accounting: this process (the API, or the baseline), the worker's process and PostgreSQL's processes.
  const classify = (pid: number, commandLine: string): string | null => {
    if (pid === process.pid) return oneProcess ? 'khata' : 'api';
    if (pid === worker?.pid) return 'worker';
    return commandLine.startsWith('postgres') ? 'postgresql' : null;
  };
  // Read models and hot projection caught up: here, or in the worker's process.
  const settleAll = async (): Promise<void> => {
    const head = await khata.eventStore.headPosition();
    if (worker === null) await settle(khata);
    else if (head !== null) await worker.settle(head);
  };
  try {
    await khata.start();
    if (!oneProcess) {
      worker = await startWorkerProcess({ environment, redisKeyPrefix: prefix, at: new Date(now).toISOString() });
    }
    progress(oneProcess ? 'API and worker roles in this process' : `worker role in process ${worker?.pid}`);
    const setUpStarted = performance.now();
    await runSetupCommands(khata, accounts.flatMap(setupCommands));
    await settleAll();
    progress(`set up ${accountCount} accounts in ${((performance.now() - setUpStarted) / 1000).toFixed(1)} s`);
    const initial = await readModelAccounts(khata);
    now = Date.parse(INGESTED_AT);
    worker?.setClock(new Date(now));

    let baselineRate: number | undefined;
    let baselineCpu: number | undefined;
    if (!values['skip-baseline']) {
      baseline = new CrudCdrBaseline(await createDatabase(adminUrl, CRUD_DATABASE), khata.rules, baselineConnections);
      await baseline.prepare(initial);
      progress(`baseline: one transaction per CDR, ${baselineConnections} connections; load ${loadAverages()}`);
      // This process runs the baseline here, not the API.
      const classifyBaseline = (pid: number, commandLine: string): string | null =>
        pid === process.pid ? 'baseline' : classify(pid, commandLine);
      const cpuBefore = cpuSnapshot(classifyBaseline);
      const started = performance.now();
      await baseline.ingest(cdrs, (accountId) => partition.get(accountId) ?? 0);
      const seconds = (performance.now() - started) / 1000;
      const usage = cpuUsage(cpuBefore, cpuSnapshot(classifyBaseline));
      baselineCpu = reportCpu('baseline', usage, cdrs.length);
      baselineRate = cdrs.length / seconds;
      progress(`baseline: ${cdrs.length} CDRs in ${seconds.toFixed(2)} s = ${baselineRate.toFixed(0)} CDRs/s`);
    }

    const listening = await listen(khata);
    app = listening.app;
    // Each sender owns a share of the accounts, so every account's CDRs arrive in order (as from one collector).
    const perSender: BenchCdr[][] = Array.from({ length: senders }, () => []);
    for (const cdr of cdrs) perSender[(partition.get(cdr.accountId) ?? 0) % senders]?.push(cdr);
    const bodies = perSender.map((mine) => slices(mine, batchSize).map((batch) => JSON.stringify({ cdrs: batch })));
    progress(`khata: posting ${bodies.flat().length} batches over HTTP; load ${loadAverages()}`);
    const cpuBefore = cpuSnapshot(classify);
    const started = performance.now();
    const { accepted, rejected } = await post(listening.url, bodies);
    const answeredSeconds = (performance.now() - started) / 1000;
    const cpuAnswered = cpuSnapshot(classify);
    progress(`khata: every batch answered after ${answeredSeconds.toFixed(2)} s; waiting for the read models`);
    await settleAll();
    const seconds = (performance.now() - started) / 1000;
    const cpuSettled = cpuSnapshot(classify);
    const rate = cdrs.length / seconds;
    progress(
      `khata: ${accepted} accepted, ${rejected} rejected; all answered after ${answeredSeconds.toFixed(2)} s, ` +
        `read models and hot projection caught up after ${seconds.toFixed(2)} s = ${rate.toFixed(0)} CDRs/s; load ${loadAverages()}`,
    );
    if (accepted !== cdrs.length) throw new Error(`${cdrs.length - accepted} CDRs were not accepted`);

    report({
      bench: BENCH,
      metric: 'cdrs-per-second-end-to-end',
      value: rate,
      unit: 'CDRs/s',
      direction: 'higher-is-better',
      ...(baselineRate === undefined ? {} : { baseline: baselineRate }),
      target: TARGET_CDRS_PER_SECOND,
    });
    report({
      bench: BENCH,
      metric: 'cdrs-per-second-answered',
      value: cdrs.length / answeredSeconds,
      unit: 'CDRs/s',
      direction: 'higher-is-better',
      ...(baselineRate === undefined ? {} : { baseline: baselineRate }),
    });
    report({
      bench: BENCH,
      metric: 'catch-up-after-last-answer',
      value: (seconds - answeredSeconds) * 1000,
      unit: 'ms',
      direction: 'lower-is-better',
    });
    const answering = cpuUsage(cpuBefore, cpuAnswered);
    const catchingUp = cpuUsage(cpuAnswered, cpuSettled);
    reportCpu('answering', answering, cdrs.length);
    reportCpu('catching-up', catchingUp, cdrs.length);
    // The sum of the two phases, not one span: a pooled PostgreSQL connection closed while idle takes its CPU time
    // with it, so a span from before the first answer to the end would miss the backends that ended meanwhile.
    reportCpu('khata', cpuUsageOfPhases(answering, catchingUp), cdrs.length, baselineCpu);
    if (baselineRate !== undefined) {
      report({
        bench: BENCH,
        metric: 'speed-up-over-crud-baseline',
        value: rate / baselineRate,
        unit: '×',
        direction: 'higher-is-better',
        target: TARGET_RATIO,
      });
    }

    if (baseline !== null) {
      const expected = await baseline.balances();
      const actual = new Map((await readModelAccounts(khata)).map((account) => [account.accountId, account.balance]));
      const mismatches = [...expected].filter(([accountId, balance]) => {
        const khataBalance = actual.get(accountId);
        return khataBalance === undefined || !Money.parse(khataBalance).equals(Money.parse(balance));
      });
      if (mismatches.length > 0 || actual.size !== expected.size) {
        for (const [accountId, balance] of mismatches.slice(0, 10)) {
          progress(`MISMATCH ${accountId}: baseline ${balance}, khata ${actual.get(accountId)}`);
        }
        progress(`${mismatches.length} of ${expected.size} balances differ from the baseline`);
        return 1;
      }
      progress(`every one of ${expected.size} balances equals the baseline's (${await baseline.cdrCount()} CDR rows)`);
    }
    return 0;
  } finally {
    await app?.close();
    await worker?.stop();
    await khata.close();
    await baseline?.close();
    if (!values['keep-database']) await dropDatabase(adminUrl, KHATA_DATABASE);
    if (!values['skip-baseline']) await dropDatabase(adminUrl, CRUD_DATABASE);
    // The hot projection writes its keys under the `{khata}:` hash tag, before the prefix.
    await deleteRedisKeys(redisUrl, `{khata}:${prefix}*`);
  }
}

process.exitCode = await main();
