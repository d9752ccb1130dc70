/**
 * `pnpm bench hot-account`: one Call Center account with 200 calls in progress at all times, each
 * starting and ending continuously (SPEC §14: ≥ 2,000 authorizations/s, no lost reservation; commands
 * for one stream batched by a single writer rather than fighting over compare-and-set).
 *
 * Each of the `--calls` lines does what the authorize route does — the hot projection's check, then
 * `StartCall` through the ledger — holds the call for a moment, ends it with `RateCdr`, and starts the
 * next. Khata: one `Ledger` for the process, whose `AccountWriter` is the account's single writer
 * (commands queue up and are decided and appended in batches). Baseline, in the same invocation on an
 * account of its own: the same commands through one `Ledger` per line with batches of one command and
 * no group commit — every line appends on its own with the expected version and, when another line got
 * there first, reads what it missed and retries (the ledger's bounded retry with jittered backoff): the
 * optimistic compare-and-set design. A line whose retries run out retries the command after a pause.
 *
 * After the load every line ends its call, then the account's stream is replayed and checked (the
 * benchmark exits 1 when a check fails): every authorization the lines were given has exactly one
 * `CallAuthorized` event and every refused or failed one none (no lost, no double reservation); every
 * ended call exactly one `CdrRated`; no reservation is left open; and after every reservation the
 * reserved sum is within what the account may spend (no overspend). With --verify-read-models (the
 * default outside --quick), a worker then catches the read models up and the audit verification
 * compares them and the hot projection with the replay.
 *
 *   pnpm bench hot-account                  # 200 calls, 20 s each for Khata and the baseline
 *   pnpm bench hot-account --quick          # under a minute
 *   pnpm bench hot-account --wallet 3000    # a wallet too small for 200 reservations: refusals, no overspend
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { availableCredit, evolve, initialState, TELECOM_GST_RATE_PERCENT, upcastAccountEvent } from '@khata/domain';
import { type CommandOutcome, Ledger, SqlCommandLog, SqlSnapshotStore } from '@khata/ledger';
import { type Khata, replayAccount, verifyAccount } from '@khata/runtime';
import { percentile } from '../event-store/stats.ts';
import {
  ADMIN_URL_DEFAULT,
  createDatabase,
  dropDatabase,
  INDIAN_MOBILE,
  loadAverages,
  openBenchKhata,
  openCallCenterAccount,
  settle,
} from '../lib/billing-setup.ts';
import { progress, report } from '../lib/report.ts';

const BENCH = 'hot-account';
const DATABASE = 'khata_bench_hot_account';
const TARGET_AUTHORIZATIONS_PER_SECOND = 2_000;
/** Enough for 200 concurrent two-hour reservations (₹174 + GST each) with room to spare. */
const WALLET_DEFAULT = '100000.00';
/** A refused line waits this long before its next call (a switch does not redial in a tight loop). */
const REFUSED_PAUSE_MILLISECONDS = 20;
/** Share of calls answered (a dialler's calls mostly ring out); the rest cost nothing. */
const ANSWERED_SHARE = 0.2;
const BILLED_MILLISECONDS_MAX = 60_000;
const READ_PAGE_EVENTS = 1_000;
const META = { actor: 'system:bench' };

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    calls: { type: 'string', default: '200' },
    seconds: { type: 'string' },
    'hold-max-ms': { type: 'string', default: '20' },
    wallet: { type: 'string', default: WALLET_DEFAULT },
    'skip-baseline': { type: 'boolean', default: false },
    'verify-read-models': { type: 'boolean' },
    'admin-url': { type: 'string', default: ADMIN_URL_DEFAULT },
  },
});

function integer(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new Error(`--${name} must be 0..${max}`);
  return value;
}

const settings = {
  calls: integer('calls', values.calls, 200, 10_000),
  seconds: integer('seconds', values.seconds, values.quick ? 5 : 20, 3_600),
  holdMaxMilliseconds: integer('hold-max-ms', values['hold-max-ms'], 20, 60_000),
  wallet: values.wallet,
  verifyReadModels: values['verify-read-models'] ?? !values.quick,
};
const adminUrl = values['admin-url'];

type Variant = 'khata' | 'baseline';

/** What the lines were told, to compare with what the stream says. */
interface Ledgered {
  readonly authorized: Set<string>;
  /** Calls refused (hot projection or append) or whose StartCall failed: they must have no reservation. */
  readonly notAuthorized: Set<string>;
  readonly ended: Set<string>;
  readonly startMilliseconds: number[];
  refusedByHotProjection: number;
  refusedByAppend: number;
  failures: number;
  elapsedSeconds: number;
}

const sleep = (milliseconds: number): Promise<void> => new Promise((done) => setTimeout(done, milliseconds));

function authorizedEvent(outcome: CommandOutcome): boolean {
  return outcome.status === 'accepted' && outcome.events.some((event) => event.type === 'CallAuthorized');
}

/** `ledgerFor(line)`: the ledger a line's commands go through. */
async function drive(khata: Khata, accountId: string, ledgerFor: (line: number) => Ledger): Promise<Ledgered> {
  const result: Ledgered = {
    authorized: new Set(),
    notAuthorized: new Set(),
    ended: new Set(),
    startMilliseconds: [],
    refusedByHotProjection: 0,
    refusedByAppend: 0,
    failures: 0,
    elapsedSeconds: 0,
  };
  const started = performance.now();
  const deadline = started + settings.seconds * 1_000;
  const line = async (index: number): Promise<void> => {
    const ledger = ledgerFor(index);
    for (let sequence = 0; performance.now() < deadline; sequence += 1) {
      const callId = `line-${index}-${sequence}`;
      const at = new Date();
      const quick = await khata.hot.authorizer.authorize(accountId, INDIAN_MOBILE, at, callId);
      if (!quick.authorized && quick.reason !== 'HOT_PROJECTION_UNAVAILABLE') {
        result.refusedByHotProjection += 1;
        result.notAuthorized.add(callId);
        await sleep(REFUSED_PAUSE_MILLISECONDS);
        continue;
      }
      const before = performance.now();
      let outcome: CommandOutcome;
      try {
        outcome = await ledger.execute(
          {
            type: 'StartCall',
            commandId: randomUUID(),
            accountId,
            callId,
            destination: INDIAN_MOBILE,
            at: at.toISOString(),
          },
          META,
        );
      } catch {
        // Compare-and-set retries ran out (baseline): the switch would try again.
        result.failures += 1;
        result.notAuthorized.add(callId);
        await sleep(REFUSED_PAUSE_MILLISECONDS);
        continue;
      }
      result.startMilliseconds.push(performance.now() - before);
      if (!authorizedEvent(outcome)) {
        result.refusedByAppend += 1;
        result.notAuthorized.add(callId);
        await sleep(REFUSED_PAUSE_MILLISECONDS);
        continue;
      }
      result.authorized.add(callId);
      if (settings.holdMaxMilliseconds > 0) await sleep(Math.random() * settings.holdMaxMilliseconds);
      const answered = Math.random() < ANSWERED_SHARE;
      const cdr = {
        callId,
        leg: 'A',
        destination: INDIAN_MOBILE,
        startedAt: at.toISOString(),
        answeredAt: answered ? at.toISOString() : null,
        billableMilliseconds: answered ? Math.floor(Math.random() * BILLED_MILLISECONDS_MAX) : 0,
      };
      // Ending a call must not be lost: retried until it is accepted (the CDR is idempotent by call id).
      for (;;) {
        try {
          const ended = await ledger.execute({ type: 'RateCdr', commandId: randomUUID(), accountId, cdr }, META);
          if (ended.status !== 'accepted') throw new Error(`RateCdr refused: ${ended.rejection.code}`);
          result.ended.add(callId);
          break;
        } catch (error) {
          if (error instanceof Error && error.message.startsWith('RateCdr refused')) throw error;
          result.failures += 1;
          await sleep(REFUSED_PAUSE_MILLISECONDS);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: settings.calls }, (_, index) => line(index)));
  result.elapsedSeconds = (performance.now() - started) / 1_000;
  return result;
}

interface Check {
  readonly events: number;
  readonly lost: number;
  readonly double: number;
  readonly unexpected: number;
  readonly cdrsMissing: number;
  readonly cdrsTwice: number;
  readonly overspends: number;
  readonly open: number;
  readonly problems: readonly string[];
}

/** Replays the stream and compares it with what the lines were told. */
async function check(khata: Khata, accountId: string, told: Ledgered): Promise<Check> {
  const authorizedCount = new Map<string, number>();
  const ratedCount = new Map<string, number>();
  let state = initialState();
  let overspends = 0;
  let events = 0;
  const problems: string[] = [];
  for (let from = 1n; ; ) {
    const page = await khata.eventStore.readStream(`account-${accountId}`, {
      fromVersion: from,
      maxCount: READ_PAGE_EVENTS,
    });
    for (const recorded of page.events) {
      const event = upcastAccountEvent(recorded);
      state = evolve(state, event);
      events += 1;
      if (event.type === 'CallAuthorized') {
        const callId = String(event.data.callId);
        authorizedCount.set(callId, (authorizedCount.get(callId) ?? 0) + 1);
      }
      if (event.type === 'CdrRated') {
        const callId = String(event.data.callId);
        ratedCount.set(callId, (ratedCount.get(callId) ?? 0) + 1);
      }
      // SPEC §8: the sum of open reservations never exceeds what the account may spend.
      if (
        (event.type === 'CallAuthorized' || event.type === 'ReservationExtended') &&
        availableCredit(state, { gstRatePercent: TELECOM_GST_RATE_PERCENT }).isNegative()
      ) {
        overspends += 1;
        problems.push(
          `overspend at version ${recorded.version}: available ${availableCredit(state, { gstRatePercent: TELECOM_GST_RATE_PERCENT })}`,
        );
      }
    }
    if (page.events.length < READ_PAGE_EVENTS) break;
    from += BigInt(page.events.length);
  }
  let lost = 0;
  let double = 0;
  for (const callId of told.authorized) {
    const count = authorizedCount.get(callId) ?? 0;
    if (count === 0) lost += 1;
    if (count > 1) double += 1;
  }
  let unexpected = 0;
  for (const callId of told.notAuthorized) if ((authorizedCount.get(callId) ?? 0) > 0) unexpected += 1;
  for (const [callId, count] of authorizedCount) {
    if (count > 1 && !told.authorized.has(callId)) double += 1;
  }
  let cdrsMissing = 0;
  let cdrsTwice = 0;
  for (const callId of told.ended) {
    const count = ratedCount.get(callId) ?? 0;
    if (count === 0) cdrsMissing += 1;
    if (count > 1) cdrsTwice += 1;
  }
  const replay = await replayAccount(khata, accountId);
  if (replay.events !== events) problems.push(`replay read ${replay.events} events, the check ${events}`);
  const open = replay.state.reservations.size;
  if (lost > 0) problems.push(`${lost} authorizations have no CallAuthorized event`);
  if (double > 0) problems.push(`${double} calls have more than one CallAuthorized event`);
  if (unexpected > 0) problems.push(`${unexpected} refused or failed calls hold a reservation`);
  if (cdrsMissing + cdrsTwice > 0) problems.push(`${cdrsMissing} ended calls unrated, ${cdrsTwice} rated twice`);
  if (open > 0 || !replay.state.reserved.isZero()) {
    problems.push(`${open} reservations left open (${replay.state.reserved} reserved) after every call ended`);
  }
  return { events, lost, double, unexpected, cdrsMissing, cdrsTwice, overspends, open, problems };
}

function summary(variant: Variant, told: Ledgered): { perSecond: number; p50: number; p99: number } {
  const perSecond = told.authorized.size / told.elapsedSeconds;
  const p50 = told.startMilliseconds.length === 0 ? Number.NaN : percentile(told.startMilliseconds, 0.5);
  const p99 = told.startMilliseconds.length === 0 ? Number.NaN : percentile(told.startMilliseconds, 0.99);
  progress(
    `  ${variant}: ${told.authorized.size} authorized in ${told.elapsedSeconds.toFixed(1)} s = ${perSecond.toFixed(0)}/s; ` +
      `StartCall p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; refused by the hot projection ${told.refusedByHotProjection}, ` +
      `by the append ${told.refusedByAppend}; failed (retries exhausted) ${told.failures}; load ${loadAverages()}`,
  );
  return { perSecond, p50, p99 };
}

async function main(): Promise<void> {
  progress(`hot-account benchmark: ${JSON.stringify(settings)}; load ${loadAverages()}`);
  const databaseUrl = await createDatabase(adminUrl, DATABASE);
  let failed = false;
  try {
    // An API process: the hot projection in process, no read models (a worker keeps those elsewhere).
    const khata = await openBenchKhata({ databaseUrl, redisUrl: null }, { roles: { api: true, worker: false } });
    const accounts = new Map<Variant, string>();
    const results = new Map<Variant, Ledgered>();
    try {
      const variants: Variant[] = values['skip-baseline'] ? ['khata'] : ['khata', 'baseline'];
      for (const variant of variants) accounts.set(variant, await openCallCenterAccount(khata, settings.wallet));
      await settle(khata);
      for (const variant of variants) {
        const accountId = accounts.get(variant) as string;
        progress(
          `${variant}: ${settings.calls} calls on one account for ${settings.seconds} s (load ${loadAverages()})`,
        );
        let ledgerFor: (line: number) => Ledger;
        if (variant === 'khata') {
          ledgerFor = () => khata.ledger;
        } else {
          const ledgers = Array.from(
            { length: settings.calls },
            () =>
              new Ledger({
                store: khata.eventStore,
                commandLog: new SqlCommandLog(khata.readDb),
                snapshots: new SqlSnapshotStore(khata.readDb),
                rules: khata.rules,
                clock: khata.clock,
                batchMax: 1,
                groupCommit: false,
              }),
          );
          ledgerFor = (line) => ledgers[line] as Ledger;
        }
        results.set(variant, await drive(khata, accountId, ledgerFor));
      }
      const khataSummary = summary('khata', results.get('khata') as Ledgered);
      const baselineResult = results.get('baseline');
      const baselineSummary = baselineResult === undefined ? undefined : summary('baseline', baselineResult);
      const withBaseline = (pick: (value: typeof khataSummary) => number) =>
        baselineSummary === undefined ? {} : { baseline: pick(baselineSummary) };
      report({
        bench: BENCH,
        metric: 'authorizations',
        value: khataSummary.perSecond,
        unit: 'authorizations/s',
        direction: 'higher-is-better',
        ...withBaseline((value) => value.perSecond),
        target: TARGET_AUTHORIZATIONS_PER_SECOND,
      });
      for (const quantile of ['p50', 'p99'] as const) {
        report({
          bench: BENCH,
          metric: `start-call-${quantile}`,
          value: khataSummary[quantile],
          unit: 'ms',
          direction: 'lower-is-better',
          ...withBaseline((value) => value[quantile]),
        });
      }
      for (const [variant, told] of results) {
        const checked = await check(khata, accounts.get(variant) as string, told);
        progress(
          `  ${variant} replay: ${checked.events} events; lost ${checked.lost}, double ${checked.double}, ` +
            `refused-but-reserved ${checked.unexpected}, CDRs unrated ${checked.cdrsMissing} / twice ${checked.cdrsTwice}, ` +
            `open ${checked.open}, overspends ${checked.overspends}`,
        );
        for (const problem of checked.problems) progress(`  ${variant} PROBLEM: ${problem}`);
        if (checked.problems.length > 0) failed = true;
        if (variant !== 'khata') continue;
        for (const [metric, value] of [
          ['lost-reservations', checked.lost + checked.unexpected],
          ['double-reservations', checked.double],
          ['overspends', checked.overspends],
          ['open-reservations-after-run', checked.open],
        ] as const) {
          report({ bench: BENCH, metric, value, unit: 'count', direction: 'lower-is-better', target: 0 });
        }
      }
    } finally {
      await khata.close();
    }
    if (settings.verifyReadModels) {
      progress('verifying read models: a worker catches up, then the audit verification compares them with the replay');
      const worker = await openBenchKhata({ databaseUrl, redisUrl: null }, { roles: { api: true, worker: true } });
      try {
        await settle(worker);
        for (const [variant, accountId] of accounts) {
          const verification = await verifyAccount(worker, accountId);
          progress(
            `  ${variant}: ${verification.ok ? 'read models, hot projection and hash chain agree with the replay' : JSON.stringify(verification.differences)}`,
          );
          if (!verification.ok) failed = true;
        }
      } finally {
        await worker.close();
      }
    }
  } finally {
    await dropDatabase(adminUrl, DATABASE);
  }
  progress(`done; load ${loadAverages()}`);
  if (failed) {
    progress('hot-account: a check failed');
    process.exitCode = 1;
  }
}

await main();
