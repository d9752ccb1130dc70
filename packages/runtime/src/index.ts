/**
 * @khata/runtime — turns configuration into open infrastructure: the event store adapter, the
 * read-model database, the migrations Khata owns, and the health checks `khata doctor` prints. Services
 * (api, worker, esl, cli) start here; nothing below them knows which adapters run.
 */

export * from './catalog.ts';
export {
  type Check,
  type CheckStatus,
  diagnose,
  type Infrastructure,
  migrateAll,
  migrationSets,
  openInfrastructure,
} from './infrastructure.ts';
