/**
 * @khata/projector — runs read-model projections over the event store: checkpoint and read-model
 * writes in one transaction (exactly-once application), shards by stream hash shared by workers through
 * leases, blue/green rebuilds into a new generation, poison-event stops, and Prometheus metrics.
 */
export { ProjectorMetrics } from './metrics.ts';
export {
  generationMigrations,
  generationSchema,
  PoisonEvent,
  type Projection,
  type ProjectionContext,
  type ProjectionMigration,
  shardOf,
} from './projection.ts';
export {
  LAG_COUNT_MAX,
  LAG_GAUGE_COUNT_MAX,
  LEASE_SECONDS_DEFAULT,
  LostOwnership,
  PROJECTOR_BATCH_SIZE_DEFAULT,
  Projector,
  type ProjectorLog,
  type ProjectorOptions,
  RENEW_INTERVAL_MS_DEFAULT,
  type ShardStatus,
} from './runtime.ts';
export { projectorMigrations } from './schema.ts';
