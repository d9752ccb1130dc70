/**
 * @khata/runtime — turns configuration into open infrastructure: the event store adapter, the
 * read-model database, the migrations Khata owns, and the health checks `khata doctor` prints. Services
 * (api, worker, esl, cli) start here; nothing below them knows which adapters run.
 */

export {
  type Difference,
  type ReadModelCheck,
  registerReadModelCheck,
  replayAccount,
  type VerificationReport,
  verifyAccount,
} from './audit.ts';
export * from './catalog.ts';
export { FOLLOWER_FAILING_SECONDS_MAX, LogFollowers, type LogFollowersOptions } from './followers.ts';
export { httpMigrations } from './http-schema.ts';
export {
  type Check,
  type CheckStatus,
  diagnose,
  type Infrastructure,
  migrationSets,
  openInfrastructure,
} from './infrastructure.ts';
export {
  type Khata,
  type KhataLog,
  type KhataRoles,
  migrateAll,
  type OpenKhataOptions,
  openKhata,
  projectorWork,
  readModels,
} from './khata.ts';
export { lowerPriority, type PriorityChange } from './priority.ts';
export { READINESS_CHECK_TIMEOUT_MILLISECONDS, type Readiness, readiness } from './readiness.ts';
export {
  IDEMPOTENCY_KEY_RETENTION_HOURS,
  type PurgeReport,
  purgeExpired,
  RETENTION_INTERVAL_MILLISECONDS,
  Retention,
  type RetentionLog,
  type RetentionOptions,
  type RetentionSchedule,
} from './retention.ts';
export {
  type PublishedTariff,
  TARIFF_FOLLOWER_NAME,
  TariffRegistry,
  type TariffRegistryOptions,
} from './tariffs.ts';
export { isStoreUnavailable } from './unavailable.ts';
