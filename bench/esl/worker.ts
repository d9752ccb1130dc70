/**
 * The worker role of `pnpm bench:esl` in a process of its own, as production runs it (SPEC §2: `api`, `worker`
 * and `esl` are separate services): read models, process managers and the scheduler, on the benchmark's
 * PostgreSQL database. The connector's process then spends its event loop on calls only. Like
 * `khata start --worker-only` without FreeSWITCH, it lowers its CPU priority to WORKER_NICE (10 unless set).
 *
 * With a Redis URL and key prefix (`--hot-store redis`) it also keeps the hot projection in Redis, which the
 * connector reads.
 *
 * Protocol (IPC with main.ts): → {type:'ready'} once started; ← {type:'stop'} closes it.
 */
import { loadConfig } from '@khata/config';
import { openTestKhata } from '@khata/esl-service/testing';
import { lowerPriority } from '@khata/runtime';

const [databaseUrl, redisUrl, redisKeyPrefix] = process.argv.slice(2);
if (databaseUrl === undefined) throw new Error('usage: worker.ts <database url> [<redis url> <key prefix>]');
const environment = {
  EVENT_STORE: 'postgres',
  DATABASE_URL: databaseUrl,
  CALL_SECONDS_MAX: '300',
  // With Redis the worker keeps the hot projection the connector reads, as in production.
  ...(redisUrl === undefined ? {} : { REDIS_URL: redisUrl }),
  ...(process.env.WORKER_NICE === undefined ? {} : { WORKER_NICE: process.env.WORKER_NICE }),
  ...(process.env.WORKER_BATCH_INTERVAL_MS === undefined
    ? {}
    : { WORKER_BATCH_INTERVAL_MS: process.env.WORKER_BATCH_INTERVAL_MS }),
};
// As `khata start --worker-only` without FreeSWITCH does: the background work yields the cores (WORKER_NICE).
lowerPriority(loadConfig(environment, { cwd: process.cwd() }).worker.nice);
const khata = await openTestKhata(
  environment,
  { api: false, worker: true },
  redisKeyPrefix === undefined ? {} : { redisKeyPrefix },
);
process.on('message', (message: { type: string }) => {
  if (message.type === 'stop') void khata.close().then(() => process.exit(0));
});
// Never outlive the benchmark: when it goes, so does this process.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
