/**
 * `pnpm bench replay` (issue 8): one account stream of 100,000 events (an account and its rated calls,
 * written through the ledger) replayed to state the way an auditor's replay does it (`replayAccount`:
 * from the first event, never from a snapshot), and, beside it, what the command handler pays to load
 * the same account cold (its latest snapshot plus the events after it). Each is timed `--runs` times;
 * the median is reported. The replayed state must equal the ledger's, or the benchmark exits non-zero.
 *
 *   pnpm bench replay                  # 100,000 events
 *   pnpm bench replay --quick          # 20,000 events
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { loadConfig } from '@khata/config';
import { type AccountState, evolve, initialState, stateToJson, upcastAccountEvent } from '@khata/domain';
import type { EventStore } from '@khata/event-store';
import { Ledger, SqlCommandLog, SqlSnapshotStore } from '@khata/ledger';
import { openKhata, replayAccount } from '@khata/runtime';
import { createPostgresClient } from '@khata/sql';
import { describeMachine } from '../event-store/machine.ts';
import { median } from '../event-store/stats.ts';
import {
  ADMIN_URL_DEFAULT,
  createDatabase,
  dropDatabase,
  khataEnvironment,
  loadAverages,
  REPO_ROOT,
} from '../lib/billing-setup.ts';
import {
  benchAccounts,
  benchCdrs,
  INGESTED_AT,
  SUBSCRIBED_AT,
  seeded,
  setupCommands,
  slices,
} from '../lib/cdr-workload.ts';
import { progress, report } from '../lib/report.ts';

const BENCH = 'replay';
const DATABASE = 'khata_bench_replay';
const WRITE_BATCH_COMMANDS = 2_000;
const SEED = 20_261_127;

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    runs: { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false },
    'admin-url': { type: 'string', default: ADMIN_URL_DEFAULT },
  },
});
const eventCount = Number(values.events ?? (values.quick ? 20_000 : 100_000));
const runs = Number(values.runs);
const adminUrl = values['admin-url'];

let now = Date.parse(SUBSCRIBED_AT);

/** Events per read of the baseline replay: a page size an auditor's script would pick. */
const NAIVE_PAGE_EVENTS = 1_000;

/**
 * The baseline: the straightforward replay (Khata's own before issue 8) that reads a page, folds it, then
 * reads the next one, so the database and the fold never work at the same time.
 */
async function naiveReplay(store: EventStore, accountId: string): Promise<{ state: AccountState; version: bigint }> {
  let state = initialState();
  let version = 0n;
  for (;;) {
    const { events } = await store.readStream(`account-${accountId}`, {
      fromVersion: version + 1n,
      maxCount: NAIVE_PAGE_EVENTS,
    });
    for (const event of events) {
      state = evolve(state, upcastAccountEvent(event));
      version = event.version;
    }
    if (events.length < NAIVE_PAGE_EVENTS) return { state, version };
  }
}

async function main(): Promise<number> {
  const admin = createPostgresClient({ connectionString: adminUrl, applicationName: 'khata-bench', maxConnections: 1 });
  const machine = await describeMachine(admin);
  await admin.close();
  progress(`replay: one stream of ${eventCount} events; ${machine.cpuModel}, ${machine.cores} cores`);
  const databaseUrl = await createDatabase(adminUrl, DATABASE);
  const config = loadConfig(khataEnvironment({ databaseUrl, redisUrl: null }), { cwd: REPO_ROOT });
  const khata = await openKhata(config, {
    roles: { api: false, worker: false },
    migrate: true,
    clock: () => new Date(now),
  });
  try {
    const [account] = benchAccounts(1, seeded(SEED));
    if (account === undefined) throw new Error('no account');
    await khata.ledger.executeBatch(setupCommands(account), { actor: 'system:bench' });
    now = Date.parse(INGESTED_AT);
    const setUp = Number((await khata.ledger.load(account.accountId)).version);
    const cdrs = benchCdrs([account], eventCount - setUp, seeded(SEED + 1));
    const started = performance.now();
    for (const slice of slices(cdrs, WRITE_BATCH_COMMANDS)) {
      const commands = slice.map(({ accountId, ...cdr }) => ({
        type: 'RateCdr',
        commandId: crypto.randomUUID(),
        accountId,
        cdr,
      }));
      await khata.ledger.executeBatch(commands, { actor: 'system:bench' });
    }
    const expected = await khata.ledger.load(account.accountId);
    // Snapshots are saved in the background: the cold loads below must find the latest.
    await khata.ledger.writer.settled();
    progress(`wrote ${expected.version} events in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await khata.readDb.query('VACUUM ANALYZE es.events');

    const replays: number[] = [];
    const naives: number[] = [];
    const loads: number[] = [];
    for (let run = 1; run <= runs; run += 1) {
      const naiveStarted = performance.now();
      const naive = await naiveReplay(khata.eventStore, account.accountId);
      naives.push(performance.now() - naiveStarted);
      if (naive.version !== expected.version) throw new Error('the baseline replay did not reach the stream head');
      const replayStarted = performance.now();
      const replay = await replayAccount(khata, account.accountId);
      replays.push(performance.now() - replayStarted);
      if (
        replay.version !== expected.version ||
        !isDeepStrictEqual(stateToJson(replay.state), stateToJson(expected.state))
      ) {
        progress('MISMATCH: the replayed state differs from the ledger’s');
        return 1;
      }
      // A new command handler holds nothing in memory: it loads the snapshot and the events after it.
      const cold = new Ledger({
        store: khata.eventStore,
        commandLog: new SqlCommandLog(khata.readDb),
        snapshots: new SqlSnapshotStore(khata.readDb),
        rules: khata.rules,
        clock: () => new Date(now),
      });
      const loadStarted = performance.now();
      const loaded = await cold.load(account.accountId);
      loads.push(performance.now() - loadStarted);
      if (loaded.version !== expected.version) throw new Error('the cold load did not reach the stream head');
      progress(
        `run ${run}: replay ${replays.at(-1)?.toFixed(0)} ms (baseline ${naives.at(-1)?.toFixed(0)} ms), cold load ${loads.at(-1)?.toFixed(1)} ms; load averages ${loadAverages()}`,
      );
    }
    const replayMs = median(replays);
    const naiveMs = median(naives);
    report({
      bench: BENCH,
      metric: 'replay-full-stream',
      value: replayMs,
      unit: 'ms',
      direction: 'lower-is-better',
      baseline: naiveMs,
    });
    report({
      bench: BENCH,
      metric: 'replay-events-per-second',
      value: Number(expected.version) / (replayMs / 1000),
      unit: 'events/s',
      direction: 'higher-is-better',
      baseline: Number(expected.version) / (naiveMs / 1000),
    });
    report({
      bench: BENCH,
      metric: 'cold-load-from-snapshot',
      value: median(loads),
      unit: 'ms',
      direction: 'lower-is-better',
      // Against replaying the whole stream: what the snapshot saves a command handler that starts cold.
      baseline: replayMs,
    });
    return 0;
  } finally {
    await khata.close();
    await dropDatabase(adminUrl, DATABASE);
  }
}

process.exitCode = await main();
