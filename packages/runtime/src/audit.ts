import { isDeepStrictEqual } from 'node:util';
import {
  type AccountState,
  availableCredit,
  evolve,
  initialState,
  stateToJson,
  TELECOM_GST_RATE_PERCENT,
  upcastAccountEvent,
} from '@khata/domain';
import type { Position, RecordedEvent } from '@khata/event-store';
import type { ChainReport } from '@khata/ledger';
import {
  accountById,
  balanceOf,
  callsOfAccount,
  customerBalanceOf,
  numbersOfAccount,
  subscriptionById,
  unbalancedEntries,
} from '@khata/projections';
import type { Khata } from './khata.ts';

/** One thing a read model (or the hot projection) says differently from the replayed stream. */
export interface Difference {
  readonly source: string;
  readonly field: string;
  readonly expected: string;
  readonly actual: string;
}

export interface VerificationReport {
  readonly accountId: string;
  readonly streamVersion: string;
  readonly eventsReplayed: number;
  readonly chain: ChainReport;
  /** Empty when every read model and the hot projection agree with the replay. */
  readonly differences: readonly Difference[];
  readonly ok: boolean;
}

/**
 * Events per read of a replay: the store's largest read, so a long stream (100,000 events) takes ten
 * round trips rather than a hundred.
 */
const REPLAY_PAGE = 10_000;
const CATCH_UP_TIMEOUT_MS = 30_000;

/**
 * Replays an account's stream to its current state (or up to `asOf`, by each event's recordedAt), from
 * its first event: the auditor's path never starts from a snapshot. The next page is read while the
 * current one is folded.
 */
export async function replayAccount(
  khata: Pick<Khata, 'eventStore'>,
  accountId: string,
  options: { readonly asOf?: Date } = {},
): Promise<{ state: AccountState; version: bigint; events: number; lastPosition: Position | null }> {
  let state = initialState();
  let version = 0n;
  let events = 0;
  let lastPosition: Position | null = null;
  const asOf = options.asOf?.getTime();
  const stream = `account-${accountId}`;
  const read = (from: bigint) => khata.eventStore.readStream(stream, { fromVersion: from, maxCount: REPLAY_PAGE });
  let next = read(1n);
  for (;;) {
    const page = await next;
    const full = page.events.length === REPLAY_PAGE;
    if (full) next = read((page.events.at(-1) as RecordedEvent).version + 1n);
    for (const event of page.events) {
      if (asOf !== undefined && recordedAt(event) > asOf) {
        // A read begun for the next page is simply not used.
        if (full) await next.catch(() => undefined);
        return { state, version, events, lastPosition };
      }
      state = evolve(state, upcastAccountEvent(event));
      version = event.version;
      lastPosition = event.position;
      events += 1;
    }
    if (!full) break;
  }
  return { state, version, events, lastPosition };
}

function recordedAt(event: RecordedEvent): number {
  const value = event.metadata.recordedAt;
  return typeof value === 'string' ? Date.parse(value) : event.storedAt.getTime();
}

/**
 * The audit verification (SPEC §1 auditors): replays the account's stream, recomputes its hash chain, and
 * compares the replayed state with every read model and the hot projection once they have caught up to
 * the stream's last event. An empty `differences` list is the proof that they agree.
 */
/**
 * Verification compares a replay with read models that keep moving: when the account received
 * events after the replay (a call, an expiring reservation), the comparison is repeated so that a
 * live account is not reported as inconsistent. A bounded number of attempts keeps a very busy
 * account from holding the auditor forever; the last comparison is reported as it stands.
 */
const VERIFY_ATTEMPTS_MAX = 5;

export async function verifyAccount(khata: Khata, accountId: string): Promise<VerificationReport> {
  for (let attempt = 1; ; attempt++) {
    const { report, movedOn } = await verifyOnce(khata, accountId);
    if (!movedOn || attempt >= VERIFY_ATTEMPTS_MAX) return report;
  }
}

async function verifyOnce(
  khata: Khata,
  accountId: string,
): Promise<{ readonly report: VerificationReport; readonly movedOn: boolean }> {
  const replay = await replayAccount(khata, accountId);
  const chain = await khata.ledger.verifyChain(accountId);
  const differences: Difference[] = [];
  const expect = (source: string, field: string, expected: unknown, actual: unknown): void => {
    if (String(expected) !== String(actual))
      differences.push({ source, field, expected: String(expected), actual: String(actual) });
  };
  if (replay.lastPosition !== null) {
    try {
      await khata.projector.waitFor(replay.lastPosition, { timeoutMs: CATCH_UP_TIMEOUT_MS });
    } catch (error) {
      differences.push({
        source: 'projections',
        field: 'caught up',
        expected: replay.lastPosition,
        actual: String(error),
      });
    }
  }
  const { state } = replay;
  const balance = await balanceOf(khata.readDb, await khata.readModelSchema('balances'), accountId);
  let movedOn = balance !== null && BigInt(balance.streamVersion) > replay.version;
  if (balance === null) {
    if (replay.events > 0)
      differences.push({ source: 'balances', field: 'row', expected: 'present', actual: 'missing' });
  } else {
    expect('balances', 'streamVersion', replay.version, balance.streamVersion);
    expect('balances', 'status', state.status, balance.status);
    expect('balances', 'wallet', state.balance, balance.wallet);
    expect('balances', 'reserved', state.reserved, balance.reserved);
    expect(
      'balances',
      'available',
      availableCredit(state, { gstRatePercent: TELECOM_GST_RATE_PERCENT }),
      balance.available,
    );
    expect('balances', 'creditLimit', state.creditLimit, balance.creditLimit);
    const month = state.usageMonth;
    const freeLeft =
      month === null ? 0 : Math.max(0, month.freeSeconds - month.usedSeconds - state.reservedFreeSeconds);
    expect('balances', 'freeSecondsLeft', freeLeft, balance.freeSecondsLeft);
  }
  differences.push(...(await readModelDifferences(khata, accountId, state, replay.events > 0)));
  for (const check of extraChecks) differences.push(...(await check(khata, accountId, state)));
  const hot = await khata.hot.store.get(accountId).catch(() => null);
  if (hot !== null && hot.version > replay.version) movedOn = true;
  if (hot !== null) {
    // The hot projection may be ahead of this replay only by events appended since; never behind once caught up.
    if (hot.version === replay.version) {
      const expected = stateToJson(state);
      const actual = stateToJson(hot.state);
      for (const field of Object.keys(expected)) {
        if (!isDeepStrictEqual(expected[field], actual[field])) {
          differences.push({
            source: 'hot projection',
            field,
            expected: JSON.stringify(expected[field]),
            actual: JSON.stringify(actual[field]),
          });
        }
      }
    } else if (hot.version < replay.version) {
      expect('hot projection', 'version', replay.version, hot.version);
    }
  }
  return {
    movedOn,
    report: {
      accountId,
      streamVersion: replay.version.toString(),
      eventsReplayed: replay.events,
      chain,
      differences,
      ok: chain.ok && differences.length === 0,
    },
  };
}

/** The accounts, subscriptions, calls and journal read models against the replayed state. */
async function readModelDifferences(
  khata: Khata,
  accountId: string,
  state: AccountState,
  exists: boolean,
): Promise<Difference[]> {
  const differences: Difference[] = [];
  const expect = (source: string, field: string, expected: unknown, actual: unknown): void => {
    if (String(expected) !== String(actual))
      differences.push({ source, field, expected: String(expected), actual: String(actual) });
  };
  const db = khata.readDb;
  const account = await accountById(db, await khata.readModelSchema('accounts'), accountId);
  if (account === null) {
    if (exists) differences.push({ source: 'accounts', field: 'row', expected: 'present', actual: 'missing' });
    return differences;
  }
  expect('accounts', 'status', state.status, account.status);
  expect('accounts', 'legalName', state.profile?.legalName, account.legalName);
  expect('accounts', 'billingMode', state.billingMode, account.billingMode);
  expect('accounts', 'plan', state.subscription?.planId ?? null, account.plan?.planId ?? null);
  const numbers = await numbersOfAccount(db, await khata.readModelSchema('accounts'), accountId);
  expect(
    'accounts',
    'toll-free numbers',
    [...state.tollFreeNumbers].sort().join(','),
    numbers
      .filter((n) => n.kind === 'toll-free')
      .map((n) => n.number)
      .sort()
      .join(','),
  );
  expect(
    'accounts',
    'extensions',
    [...state.extensions].sort().join(','),
    numbers
      .filter((n) => n.kind === 'extension')
      .map((n) => n.number)
      .sort()
      .join(','),
  );

  const subscription = state.subscription;
  if (subscription !== null) {
    const view = await subscriptionById(db, await khata.readModelSchema('subscriptions'), subscription.subscriptionId);
    if (view === null) {
      differences.push({
        source: 'subscriptions',
        field: 'row',
        expected: subscription.subscriptionId,
        actual: 'missing',
      });
    } else {
      expect('subscriptions', 'planId', subscription.planId, view.planId);
      expect('subscriptions', 'cycle', subscription.cycle, view.cycle);
      expect('subscriptions', 'periodStart', subscription.periodStart, view.currentPeriod.start);
      expect('subscriptions', 'periodEnd', subscription.periodEnd, view.currentPeriod.end);
    }
  }

  const open = [];
  for (let cursor: string | null = null, pages = 0; pages < OPEN_CALL_PAGES_MAX; pages += 1) {
    const page = await callsOfAccount(db, await khata.readModelSchema('calls'), accountId, {
      status: 'authorized',
      limit: 200,
      cursor,
    });
    open.push(...page.items);
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  expect(
    'calls',
    'open calls',
    [...state.reservations.keys()].sort().join(','),
    open
      .map((call) => call.callId)
      .sort()
      .join(','),
  );

  const journal = await khata.readModelSchema('journal');
  expect('journal', 'customer balance', state.balance, await customerBalanceOf(db, journal, accountId));
  const unbalanced = await unbalancedEntries(db, journal);
  if (unbalanced.length > 0)
    differences.push({
      source: 'journal',
      field: 'balanced entries',
      expected: 'all',
      actual: `${unbalanced.length} unbalanced`,
    });
  return differences;
}

const OPEN_CALL_PAGES_MAX = 50;

/** Further read models register their comparisons here (accounts, subscriptions, calls, journal…). */
export type ReadModelCheck = (khata: Khata, accountId: string, replayed: AccountState) => Promise<Difference[]>;
const extraChecks: ReadModelCheck[] = [];

export function registerReadModelCheck(check: ReadModelCheck): void {
  extraChecks.push(check);
}
