import { parseLocalDate, startOfLocalDay } from '@khata/domain';
import { accountEvents } from '@khata/projections/shared';
import type { Projection } from '@khata/projector';
import { cancelAccountJobs, cancelJobs, type JobSpec, scheduleJob, scheduleJobs } from '@khata/scheduler';

/**
 * Process managers: projections whose "read model" is the scheduler's job table. Each reacts to account
 * events by scheduling (or cancelling) time-driven work, in the same transaction as its checkpoint, so
 * an event is reacted to exactly once. They own no tables of their own.
 */

export const EXPIRE_RESERVATION = 'expire-reservation';
export const START_USAGE_MONTH = 'start-usage-month';
export const CHARGE_SUBSCRIPTION = 'charge-subscription';

const reservationJob = (accountId: string, callId: string) => `${EXPIRE_RESERVATION}:${accountId}:${callId}`;

/** Reservations without a CDR are expired when their time is up (SPEC §8). */
export const reservationExpiryManager: Projection = {
  name: 'reservation_expiry',
  description: 'schedules ExpireReservation for every open reservation at its expiry time',
  migrations: [],
  filter: {
    streamPrefixes: ['account-'],
    eventTypes: ['CallAuthorized', 'ReservationExtended', 'CdrRated', 'ReservationExpired'],
  },
  shards: 2,
  async apply(tx, events) {
    // Each job's last action in the batch is what counts, so the batch collapses to one statement for its
    // schedules (a reservation per authorized call) and one for all cancellations (a CDR per rated call). A job
    // scheduled and then cancelled within the batch is still written first, so the table ends as it would have
    // event by event.
    const scheduled = new Map<string, JobSpec>();
    const cancelled = new Set<string>();
    for (const { accountId, event } of accountEvents(events)) {
      switch (event.type) {
        case 'CallAuthorized':
        case 'ReservationExtended': {
          const jobId = reservationJob(accountId, event.data.callId);
          cancelled.delete(jobId);
          scheduled.set(jobId, {
            jobId,
            kind: EXPIRE_RESERVATION,
            payload: { accountId, callId: event.data.callId },
            dueAt: new Date(event.data.expiresAt),
          });
          break;
        }
        case 'CdrRated':
        case 'ReservationExpired':
          cancelled.add(reservationJob(accountId, event.data.callId));
          break;
        default:
          break;
      }
    }
    if (scheduled.size > 0) await scheduleJobs(tx, [...scheduled.values()]);
    if (cancelled.size > 0) await cancelJobs(tx, [...cancelled]);
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
