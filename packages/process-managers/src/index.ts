/**
 * @khata/process-managers — reactions to account events that issue later commands: reservation expiry,
 * the monthly free-minute reset and subscription renewals. Each is a projection over the scheduler's
 * jobs (exactly-once reaction), and each job runs one idempotent command with a deterministic id.
 */
export { jobHandlers, RATE_CDR, type RunCommand } from './jobs.ts';
export {
  CHARGE_SUBSCRIPTION,
  EXPIRE_RESERVATION,
  EXPIRE_RESERVATIONS,
  processManagers,
  RESERVATION_SWEEP_SECONDS,
  renewalManager,
  reservationExpiryManager,
  reservationSweep,
  START_USAGE_MONTH,
  usageMonthManager,
} from './managers.ts';
