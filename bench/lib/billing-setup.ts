/**
 * What the call benchmarks (authorize, hot-account, memory) share: a throwaway PostgreSQL database per
 * benchmark, a Redis key prefix of their own, a Khata opened on them as `khata start` would open it, and
 * prepaid Call Center accounts to authorize calls on.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '@khata/config';
import type { Position } from '@khata/event-store';
import type { CommandOutcome } from '@khata/ledger';
import { type Khata, openKhata } from '@khata/runtime';
import { createPostgresClient, quoteIdentifier } from '@khata/sql';
import { Redis } from 'ioredis';
import { slices } from './cdr-workload.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const ADMIN_URL_DEFAULT = 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL_DEFAULT = 'redis://127.0.0.1:6379';
/** A number the Call Center plan covers (Indian mobile): plan usage, free minutes first. */
export const INDIAN_MOBILE = '+919845012345';
/** Plan fee (₹4,999 + 18 % GST) and then some: the wallet is GST-inclusive. */
const SUBSCRIPTION_TOP_UP = '5900.00';
const META = { actor: 'system:bench' };
/** Long enough for the slowest read model to catch up after a full run: a benchmark reports, it does not give up. */
const SETTLE_TIMEOUT_MS = 900_000;
const SETTLE_POLL_MS = 10;

/** The database's URL on the admin URL's server. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates `name` afresh (dropping a leftover of an interrupted run) and returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!name.startsWith('khata_bench_')) throw new Error(`benchmark databases are named khata_bench_*, not ${name}`);
  const admin = createPostgresClient({ connectionString: adminUrl, applicationName: 'khata-bench', maxConnections: 1 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } finally {
    await admin.close();
  }
  return databaseUrl(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = createPostgresClient({ connectionString: adminUrl, applicationName: 'khata-bench', maxConnections: 1 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.close();
  }
}

/** Deletes every key under the prefix (the benchmark's hot projection and nothing else). */
export async function deleteRedisKeys(redisUrl: string, pattern: string): Promise<number> {
  const SCAN_COUNT = 1_000;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

export interface BenchEnvironment {
  readonly databaseUrl: string;
  /** Null: the hot projection in process. */
  readonly redisUrl: string | null;
  readonly poolSize?: number;
}

/** The environment `khata start` (or `openBenchKhata`) reads: PostgreSQL event store and read models. */
export function khataEnvironment(environment: BenchEnvironment): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    EVENT_STORE: 'postgres',
    DATABASE_URL: environment.databaseUrl,
    JWT_KEYS_DIR: 'memory://',
    KHATA_DATA_DIR: 'memory://',
    ...(environment.redisUrl === null ? {} : { REDIS_URL: environment.redisUrl }),
    ...(environment.poolSize === undefined ? {} : { DB_POOL_SIZE: String(environment.poolSize) }),
    // The worker process's CPU priority (bench/lib/worker-process.ts): as `khata start --worker-only`, 10 unless set.
    ...(process.env.WORKER_NICE === undefined ? {} : { WORKER_NICE: process.env.WORKER_NICE }),
    // And how long its read models wait once caught up (WORKER_BATCH_INTERVAL_MS), 100 ms unless set.
    ...(process.env.WORKER_BATCH_INTERVAL_MS === undefined
      ? {}
      : { WORKER_BATCH_INTERVAL_MS: process.env.WORKER_BATCH_INTERVAL_MS }),
  };
}

export async function openBenchKhata(
  environment: BenchEnvironment,
  options: {
    readonly roles: { readonly api: boolean; readonly worker: boolean };
    readonly redisKeyPrefix?: string;
    readonly start?: boolean;
  },
): Promise<Khata> {
  const config = loadConfig(khataEnvironment(environment), { cwd: REPO_ROOT });
  const khata = await openKhata(config, {
    roles: options.roles,
    migrate: true,
    ...(options.redisKeyPrefix === undefined ? {} : { redisKeyPrefix: options.redisKeyPrefix }),
  });
  if (options.start !== false) await khata.start();
  return khata;
}

async function run(khata: Khata, accountId: string, type: string, fields: object): Promise<CommandOutcome> {
  const outcome = await khata.ledger.execute({ type, commandId: randomUUID(), accountId, ...fields }, META);
  if (outcome.status !== 'accepted') throw new Error(`${type}: ${outcome.rejection.code} ${outcome.rejection.message}`);
  return outcome;
}

/**
 * Opens a prepaid Karnataka account on the Call Center plan (1,500 free minutes a month, overage
 * ₹1.45 a minute) with `walletAfterPlan` (GST-inclusive rupees) in the wallet once the plan is paid.
 */
export async function openCallCenterAccount(khata: Khata, walletAfterPlan: string): Promise<string> {
  const accountId = randomUUID();
  await run(khata, accountId, 'OpenAccount', {
    legalName: 'Bench Call Centre Pvt Ltd',
    contact: { name: 'Bench', email: 'bench@callcentre.example', phone: '+91 98450 00000' },
    billingAddress: { line1: '1 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
    billingMode: 'prepaid',
  });
  await run(khata, accountId, 'TopUpWallet', { amount: SUBSCRIPTION_TOP_UP });
  await run(khata, accountId, 'Subscribe', { planId: 'call-center', cycle: 'monthly' });
  if (walletAfterPlan !== '0') await run(khata, accountId, 'TopUpWallet', { amount: walletAfterPlan });
  return accountId;
}

/** Commands the ledger's batch entry point takes at once when a benchmark sets up its accounts. */
const SETUP_BATCH_COMMANDS = 3_000;

/** Runs set-up commands (bench/lib/cdr-workload.ts `setupCommands`) through the ledger in batches; any refusal throws. */
export async function runSetupCommands(khata: Khata, commands: readonly object[]): Promise<void> {
  for (const slice of slices(commands, SETUP_BATCH_COMMANDS)) {
    const outcomes = await khata.ledger.executeBatch(slice, { actor: 'system:bench' });
    const refused = outcomes.find((outcome) => outcome.status === 'rejected');
    if (refused?.status === 'rejected')
      throw new Error(`set-up refused: ${refused.rejection.code} ${refused.rejection.message}`);
  }
}

/**
 * Waits until the read models (when this process runs them) and the hot projection have every event (up to
 * `upTo` when given, else the log's head now).
 */
export async function settle(khata: Khata, upTo?: Position): Promise<void> {
  const head = upTo ?? (await khata.eventStore.headPosition());
  if (head === null) return;
  if (khata.roles.worker) await khata.projector.waitFor(head, { timeoutMs: SETTLE_TIMEOUT_MS });
  const hot = khata.hot.projector;
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  while (hot !== null && (hot.position === null || hot.position < head)) {
    if (performance.now() > deadline) throw new Error('the hot projection did not catch up');
    await new Promise((done) => setTimeout(done, SETTLE_POLL_MS));
  }
}

/** The 1-, 5- and 15-minute load averages, to print beside timings taken on a shared machine. */
export function loadAverages(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/** Resident set size of a process in mebibytes, from /proc (Linux). */
export function residentMebibytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kibibytes = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kibibytes === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kibibytes) / 1024;
}

export function uniquePrefix(bench: string): string {
  return `bench-${bench}-${randomUUID().slice(0, 8)}:`;
}
