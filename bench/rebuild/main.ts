/**
 * `pnpm bench rebuild` (issue 8, SPEC §14): a log of 1,000,000 account events (accounts opened, funded,
 * subscribed, then rated calls, written through the ledger), then every read model rebuilt from zero in
 * one pass (`Projector.rebuildAll`, what `khata projections rebuild --all` runs). Target ≤ 60 s. After
 * the rebuild, every account's balance and stream version in the new balances generation must equal the
 * ledger's own state of the account, or the benchmark exits non-zero.
 *
 *   pnpm bench rebuild                 # 1,000,000 events, 5,000 accounts
 *   pnpm bench rebuild --quick         # 100,000 events, 1,000 accounts
 *   pnpm bench rebuild --events 300000 --accounts 2000 --batch 5000
 *   pnpm bench rebuild --quick --each  # then each read model rebuilt alone, timed (where the time goes)
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@khata/config';
import { Money } from '@khata/domain';
import { allProjections } from '@khata/projections';
import { type Khata, openKhata } from '@khata/runtime';
import { createPostgresClient } from '@khata/sql';
import { describeMachine } from '../event-store/machine.ts';
import {
  ADMIN_URL_DEFAULT,
  createDatabase,
  dropDatabase,
  khataEnvironment,
  loadAverages,
  REPO_ROOT,
} from '../lib/billing-setup.ts';
import {
  type BenchAccount,
  benchAccounts,
  benchCdrs,
  INGESTED_AT,
  SUBSCRIBED_AT,
  seeded,
  setupCommands,
  slices,
} from '../lib/cdr-workload.ts';
import { progress, report } from '../lib/report.ts';

const BENCH = 'rebuild';
const TARGET_SECONDS = 60;
const TARGET_EVENTS = 1_000_000;
const WRITE_BATCH_COMMANDS = 5_000;
const SEED = 20_261_126;
const DATABASE = 'khata_bench_rebuild';

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    accounts: { type: 'string' },
    batch: { type: 'string' },
    runs: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    /** After the runs, rebuild each read model on its own and print how long each took (not a measurement). */
    each: { type: 'boolean', default: false },
    'admin-url': { type: 'string', default: ADMIN_URL_DEFAULT },
  },
});
const eventCount = Number(values.events ?? (values.quick ? 100_000 : TARGET_EVENTS));
const accountCount = Number(values.accounts ?? (values.quick ? 1_000 : 5_000));
const runs = Number(values.runs);
const adminUrl = values['admin-url'];

let now = Date.parse(SUBSCRIBED_AT);

/** Writes the log through the ledger: set-up commands, then CDRs until the log holds `eventCount` events. */
async function writeLog(khata: Khata, accounts: readonly BenchAccount[]): Promise<number> {
  for (const slice of slices(accounts.flatMap(setupCommands), WRITE_BATCH_COMMANDS)) {
    await khata.ledger.executeBatch(slice, { actor: 'system:bench' });
  }
  const setUpEvents = await countEvents(khata);
  now = Date.parse(INGESTED_AT);
  const perAccount = Math.max(1, Math.ceil((eventCount - setUpEvents) / accounts.length));
  const cdrs = benchCdrs(accounts, perAccount, seeded(SEED + 1)).slice(0, Math.max(0, eventCount - setUpEvents));
  let written = 0;
  for (const slice of slices(cdrs, WRITE_BATCH_COMMANDS)) {
    const commands = slice.map(({ accountId, ...cdr }) => ({
      type: 'RateCdr',
      commandId: crypto.randomUUID(),
      accountId,
      cdr,
    }));
    await khata.ledger.executeBatch(commands, { actor: 'system:bench' });
    written += slice.length;
    if (written % 100_000 < WRITE_BATCH_COMMANDS) progress(`  ${written} CDRs written`);
  }
  return countEvents(khata);
}

async function countEvents(khata: Khata): Promise<number> {
  const [row] = await khata.readDb.query<{ count: string }>('SELECT count(*) AS count FROM es.events');
  return Number(row?.count ?? 0);
}

/** Every account's balance and version in the rebuilt balances read model against the ledger's state. */
async function verify(khata: Khata, accounts: readonly BenchAccount[]): Promise<number> {
  const schema = await khata.readModelSchema('balances');
  const rows = await khata.readDb.query<{ account_id: string; balance: string; stream_version: string }>(
    `SELECT account_id, balance, stream_version FROM ${schema}.balances`,
  );
  const byAccount = new Map(rows.map((row) => [row.account_id, row]));
  let mismatches = 0;
  for (const account of accounts) {
    const { state, version } = await khata.ledger.load(account.accountId);
    const row = byAccount.get(account.accountId);
    if (
      row === undefined ||
      BigInt(row.stream_version) !== version ||
      !Money.parse(row.balance).equals(state.balance)
    ) {
      mismatches += 1;
      if (mismatches <= 10) {
        progress(
          `MISMATCH ${account.accountId}: ledger ${state.balance} v${version}, read model ${row?.balance} v${row?.stream_version}`,
        );
      }
    }
  }
  return mismatches;
}

async function main(): Promise<number> {
  const admin = createPostgresClient({ connectionString: adminUrl, applicationName: 'khata-bench', maxConnections: 1 });
  const machine = await describeMachine(admin);
  await admin.close();
  progress(`rebuild: ${eventCount} events, ${accountCount} accounts; ${machine.cpuModel}, ${machine.cores} cores`);
  const databaseUrl = await createDatabase(adminUrl, DATABASE);
  const config = loadConfig(khataEnvironment({ databaseUrl, redisUrl: null }), { cwd: REPO_ROOT });
  // Neither role: no projector, scheduler or hot projection runs beside the rebuild.
  const khata = await openKhata(config, {
    roles: { api: false, worker: false },
    migrate: true,
    clock: () => new Date(now),
  });
  try {
    const accounts = benchAccounts(accountCount, seeded(SEED));
    const writeStarted = performance.now();
    const total = await writeLog(khata, accounts);
    progress(`wrote ${total} events in ${((performance.now() - writeStarted) / 1000).toFixed(1)} s`);
    await khata.readDb.query('VACUUM ANALYZE es.events');
    await khata.readDb.query('CHECKPOINT');
    const names = allProjections.map((projection) => projection.name);
    const durations: number[] = [];
    const baselineDurations: number[] = [];
    for (let run = 1; run <= runs; run += 1) {
      if (!values['skip-baseline']) {
        // The baseline: the same single pass, applied page by page (Khata's rebuild before issue 8's chunks).
        progress(`run ${run}: baseline, one transaction per page; load averages ${loadAverages()}`);
        const baselineStarted = performance.now();
        await khata.projector.rebuildAll(names, {
          ...(values.batch === undefined ? {} : { batchSize: Number(values.batch) }),
          applyEvents: 1,
        });
        baselineDurations.push((performance.now() - baselineStarted) / 1000);
        progress(`run ${run}: baseline took ${baselineDurations.at(-1)?.toFixed(2)} s`);
        for (const name of names) await khata.projector.dropRetiredGenerations(name);
      }
      progress(`run ${run}: rebuilding ${names.join(', ')}; load averages ${loadAverages()}`);
      let shown = 0;
      const started = performance.now();
      const read = await khata.projector.rebuildAll(names, {
        ...(values.batch === undefined ? {} : { batchSize: Number(values.batch) }),
        onProgress: (events) => {
          if (events - shown >= 100_000) {
            shown = events;
            progress(`  ${events} events, ${((performance.now() - started) / 1000).toFixed(1)} s`);
          }
        },
      });
      const seconds = (performance.now() - started) / 1000;
      durations.push(seconds);
      progress(
        `run ${run}: ${read} events in ${seconds.toFixed(2)} s = ${(read / seconds).toFixed(0)} events/s; load ${loadAverages()}`,
      );
      for (const name of names) await khata.projector.dropRetiredGenerations(name);
    }
    if (values.each) {
      for (const name of names) {
        const started = performance.now();
        await khata.projector.rebuildAll([name]);
        progress(`  ${name} alone: ${((performance.now() - started) / 1000).toFixed(2)} s`);
        await khata.projector.dropRetiredGenerations(name);
      }
    }
    const middle = (list: readonly number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number;
    const seconds = middle(durations);
    const baselineSeconds = baselineDurations.length === 0 ? undefined : middle(baselineDurations);
    const scaledTarget = (TARGET_SECONDS * total) / TARGET_EVENTS;
    report({
      bench: BENCH,
      metric: 'rebuild-all-read-models',
      value: seconds,
      unit: 's',
      direction: 'lower-is-better',
      ...(baselineSeconds === undefined ? {} : { baseline: baselineSeconds }),
      target: Number(scaledTarget.toFixed(3)),
    });
    report({
      bench: BENCH,
      metric: 'events-per-second',
      value: total / seconds,
      unit: 'events/s',
      direction: 'higher-is-better',
      ...(baselineSeconds === undefined ? {} : { baseline: total / baselineSeconds }),
      target: TARGET_EVENTS / TARGET_SECONDS,
    });
    const mismatches = await verify(khata, accounts);
    if (mismatches > 0) {
      progress(`${mismatches} of ${accounts.length} accounts differ between the ledger and the rebuilt balances`);
      return 1;
    }
    progress(`every one of ${accounts.length} rebuilt balances equals the ledger's state`);
    return 0;
  } finally {
    await khata.close();
    await dropDatabase(adminUrl, DATABASE);
  }
}

process.exitCode = await main();
