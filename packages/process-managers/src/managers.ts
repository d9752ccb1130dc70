import { parseLocalDate, startOfLocalDay } from '@khata/domain';
import { accountEvents } from '@khata/projections/shared';
import type { Projection } from '@khata/projector';
import { cancelAccountJobs, type JobSpec, scheduleJob, scheduleNewJobs } from '@khata/scheduler';

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
    for (const { accountId, event } of accountEvents(events)) {
      if (event.type === 'UsageMonthStarted') {
        await scheduleJob(tx, {
          jobId: `${START_USAGE_MONTH}:${accountId}:${event.data.end}`,
          kind: START_USAGE_MONTH,
          payload: { accountId, on: event.data.end },
          dueAt: startOfLocalDay(parseLocalDate(event.data.end)),
        });
      } else if (
        event.type === 'SubscriptionEnded' ||
        (event.type === 'SubscriptionCancelled' && event.data.when === 'now')
      ) {
        await cancelAccountJobs(tx, START_USAGE_MONTH, accountId);
      }
    }
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
    for (const { accountId, event } of accountEvents(events)) {
      const renewAt = async (on: string) => {
        await cancelAccountJobs(tx, CHARGE_SUBSCRIPTION, accountId);
        await scheduleJob(tx, {
          jobId: `${CHARGE_SUBSCRIPTION}:${accountId}:${on}`,
          kind: CHARGE_SUBSCRIPTION,
          payload: { accountId, on },
          dueAt: startOfLocalDay(parseLocalDate(on)),
        });
      };
      switch (event.type) {
        case 'SubscriptionStarted':
          // Charged at once when it starts today or earlier; a future start is charged on its day.
          await renewAt(event.data.periodStart);
          break;
        case 'SubscriptionCharged':
          await renewAt(event.data.periodEnd);
          break;
        case 'PlanChanged':
          if (event.data.timing === 'now') await renewAt(event.data.periodEnd);
          break;
        case 'SubscriptionCancelled':
          // At period end, the renewal job itself ends the subscription; cancelled now, nothing is due.
          if (event.data.when === 'now') await cancelAccountJobs(tx, CHARGE_SUBSCRIPTION, accountId);
          break;
        case 'SubscriptionEnded':
          await cancelAccountJobs(tx, CHARGE_SUBSCRIPTION, accountId);
          break;
        default:
          break;
      }
    }
  },
};

export const processManagers: readonly Projection[] = [reservationExpiryManager, usageMonthManager, renewalManager];
