/**
 * @khata/scheduler — durable, time-driven jobs claimed with FOR UPDATE SKIP LOCKED and retried with
 * bounded back-off; scheduled idempotently by deterministic job ids.
 */
export {
  CLAIM_BATCH_MAX,
  cancelAccountJobs,
  cancelJob,
  cancelJobs,
  JOB_ATTEMPTS_MAX_DEFAULT,
  JOB_LOCK_SECONDS,
  type Job,
  type JobHandler,
  type JobSpec,
  jobs,
  Scheduler,
  type SchedulerOptions,
  scheduleJob,
  schedulerMigrations,
} from './scheduler.ts';
