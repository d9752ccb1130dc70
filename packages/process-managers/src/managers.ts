import { parseLocalDate, startOfLocalDay } from '@khata/domain';
import { accountEvents } from '@khata/projections/shared';
import type { Projection } from '@khata/projector';
import { cancelAccountsJobs, type JobSpec, scheduleJobs, scheduleNewJobs } from '@khata/scheduler';
import type { SqlQueryable } from '@khata/sql';

/**
 * Process managers: projections whose "read model" is the scheduler's job table. Each reacts to account
 * events by scheduling (or cancelling) time-driven work, in the same transaction as its checkpoint, so
 * an event is reacted to exactly once. They own no tables of their own.
 */

/** Jobs of one call each, scheduled before the sweeps replaced them: still run when due (idempotent by state). */
export const EXPIRE_RESERVATION = 'expire-reservation';
export const EXPIRE_RESERVATIONS = 'expire-reservations';
export const START_USAGE_MONTH = 'start-usage-month';
export const CHARGE_SUBSCRIPTION = 'charge-subscription';

/**
 * Sweeps of an account run at whole multiples of this: every reservation expiring within one such window is
 * released by one job at the window's end, so a reservation is released at most this long after its `expiresAt`.
 */
export const RESERVATION_SWEEP_SECONDS = 60;
const SWEEP_MS = RESERVATION_SWEEP_SECONDS * 1_000;

/** The sweep that releases a reservation expiring at `expiresAt`: the end of the window it falls in. */
export function reservationSweep(accountId: string, expiresAt: string): JobSpec {
  const dueAt = new Date(Math.ceil(new Date(expiresAt).getTime() / SWEEP_MS) * SWEEP_MS);
  const dueBy = dueAt.toISOString();
  return {
    jobId: `${EXPIRE_RESERVATIONS}:${accountId}:${dueBy}`,
    kind: EXPIRE_RESERVATIONS,
    payload: { accountId, dueBy },
    dueAt,
  };
}

/**
 * Reservations without a CDR are expired by a sweeper (SPEC §8): each authorization (or extension) makes sure its
 * account has a sweep at the end of the window its expiry falls in. Nothing is cancelled when the CDR comes first:
 * the sweep finds nothing to release. A sweep that has already run is the right one too: it released everything
 * due by then that the ledger held, and a reservation opened later expires in a later window.
 */
export const reservationExpiryManager: Projection = {
  name: 'reservation_expiry',
  description: 'schedules a sweep of each account at the end of the minute its open reservations expire in',
  migrations: [],
  filter: {
    streamPrefixes: ['account-'],
    eventTypes: ['CallAuthorized', 'ReservationExtended'],
  },
  shards: 2,
  async apply(tx, events) {
    // Many calls of one account expire in the same window: the batch asks for each sweep once, in one statement,
    // and a sweep already scheduled writes nothing.
    const sweeps = new Map<string, JobSpec>();
    for (const { accountId, event } of accountEvents(events)) {
      if (event.type === 'CallAuthorized' || event.type === 'ReservationExtended') {
        const sweep = reservationSweep(accountId, event.data.expiresAt);
        sweeps.set(sweep.jobId, sweep);
      }
    }
    if (sweeps.size > 0) await scheduleNewJobs(tx, [...sweeps.values()]);
  },
};

/**
 * What a batch of events asks of one kind of job, account by account, written in at most two statements whatever
 * the batch's size: the pending jobs of every account the batch cancelled for, then the jobs it scheduled after each
 * account's last cancel. The same jobs end up pending as with a statement per event in turn (20,000 subscribed
 * accounts took the renewals manager over 20 s that way, two round trips per event); a job both scheduled and
 * cancelled within the batch is never written.
 */
class AccountJobs {
  readonly #kind: string;
  readonly #accounts = new Map<string, { cancelled: boolean; scheduled: JobSpec[] }>();

  constructor(kind: string) {
    this.#kind = kind;
  }

  /** Cancels the account's pending jobs of this kind, those already in the table and those scheduled before. */
  cancel(accountId: string): void {
    this.#accounts.set(accountId, { cancelled: true, scheduled: [] });
  }

  schedule(accountId: string, job: JobSpec): void {
    const account = this.#accounts.get(accountId);
    if (account === undefined) this.#accounts.set(accountId, { cancelled: false, scheduled: [job] });
    else account.scheduled.push(job);
  }

  async write(tx: SqlQueryable): Promise<void> {
    const cancelled: string[] = [];
    const scheduled: JobSpec[] = [];
    for (const [accountId, account] of this.#accounts) {
      if (account.cancelled) cancelled.push(accountId);
      scheduled.push(...account.scheduled);
    }
    if (cancelled.length > 0) await cancelAccountsJobs(tx, this.#kind, cancelled);
    if (scheduled.length > 0) await scheduleJobs(tx, scheduled);
  }
}

/** Free minutes reset at the end of each usage month (SPEC §5), IST midnight of the next month's first day. */
export const usageMonthManager: Projection = {
  name: 'usage_months',
  description: 'schedules StartUsageMonth at the end of each usage month (free-minute reset)',
  migrations: [],
  filter: {
    streamPrefixes: ['account-'],
    eventTypes: ['UsageMonthStarted', 'SubscriptionEnded', 'SubscriptionCancelled'],
  },
  shards: 2,
  async apply(tx, events) {
    const months = new AccountJobs(START_USAGE_MONTH);
    for (const { accountId, event } of accountEvents(events)) {
      if (event.type === 'UsageMonthStarted') {
        months.schedule(accountId, {
          jobId: `${START_USAGE_MONTH}:${accountId}:${event.data.end}`,
          kind: START_USAGE_MONTH,
          payload: { accountId, on: event.data.end },
          dueAt: startOfLocalDay(parseLocalDate(event.data.end)),
        });
      } else if (
        event.type === 'SubscriptionEnded' ||
        (event.type === 'SubscriptionCancelled' && event.data.when === 'now')
      ) {
        months.cancel(accountId);
      }
    }
    await months.write(tx);
  },
};

/** Subscriptions renew at each period start, charged in advance (SPEC §6). */
export const renewalManager: Projection = {
  name: 'renewals',
  description: 'schedules ChargeSubscription at the start of each next period',
  migrations: [],
  filter: {
    streamPrefixes: ['account-'],
    eventTypes: [
      'SubscriptionStarted',
      'SubscriptionCharged',
      'PlanChanged',
      'SubscriptionCancelled',
      'SubscriptionEnded',
    ],
  },
  shards: 2,
  async apply(tx, events) {
    const renewals = new AccountJobs(CHARGE_SUBSCRIPTION);
    for (const { accountId, event } of accountEvents(events)) {
      const renewAt = (on: string) => {
        renewals.cancel(accountId);
        renewals.schedule(accountId, {
          jobId: `${CHARGE_SUBSCRIPTION}:${accountId}:${on}`,
          kind: CHARGE_SUBSCRIPTION,
          payload: { accountId, on },
          dueAt: startOfLocalDay(parseLocalDate(on)),
        });
      };
      switch (event.type) {
        case 'SubscriptionStarted':
          // Charged at once when it starts today or earlier; a future start is charged on its day.
          renewAt(event.data.periodStart);
          break;
        case 'SubscriptionCharged':
          renewAt(event.data.periodEnd);
          break;
        case 'PlanChanged':
          if (event.data.timing === 'now') renewAt(event.data.periodEnd);
          break;
        case 'SubscriptionCancelled':
          // At period end, the renewal job itself ends the subscription; cancelled now, nothing is due.
          if (event.data.when === 'now') renewals.cancel(accountId);
          break;
        case 'SubscriptionEnded':
          renewals.cancel(accountId);
          break;
        default:
          break;
      }
    }
    await renewals.write(tx);
  },
};

export const processManagers: readonly Projection[] = [reservationExpiryManager, usageMonthManager, renewalManager];
