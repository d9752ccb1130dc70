import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { KhataConfig } from '@khata/config';
import { type AccountRules, accountRules, type Catalog, parseTariff } from '@khata/domain';
import type { EventStore, Position } from '@khata/event-store';
import {
  CallAuthorizer,
  type HotAccount,
  HotProjector,
  type HotStore,
  loaderFrom,
  MemoryHotStore,
  RedisHotStore,
} from '@khata/hot-projection';
import { Identity, identitySettingsFromConfig, type ScryptCost } from '@khata/identity';
import { Ledger, SqlCommandLog, SqlSnapshotStore } from '@khata/ledger';
import { jobHandlers, processManagers } from '@khata/process-managers';
import { accountStates, allProjections } from '@khata/projections';
import { type Projection, Projector, ProjectorMetrics } from '@khata/projector';
import { Scheduler } from '@khata/scheduler';
import type { MigrationReport, SqlClient } from '@khata/sql';
import { Redis } from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadCatalog } from './catalog.ts';
import { LogFollowers } from './followers.ts';
import { openInfrastructure } from './infrastructure.ts';
import { Retention } from './retention.ts';
import { TariffRegistry } from './tariffs.ts';

/** What this process does: serve the API, run the background work, or both (embedded). */
export interface KhataRoles {
  readonly api: boolean;
  readonly worker: boolean;
}

export interface KhataLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const quietLog: KhataLog = { info: () => {}, warn: () => {}, error: () => {} };

/** The read models: what queries read, rebuildable from the log at any time. */
export const readModels: readonly Projection[] = allProjections;

/** Every read model and process manager the projector runs. */
export const projectorWork: readonly Projection[] = [...readModels, ...processManagers];

/** Khata's parts, opened from configuration and wired together. Services (API, worker) start here. */
export interface Khata {
  readonly config: KhataConfig;
  readonly roles: KhataRoles;
  readonly clock: () => Date;
  readonly eventStore: EventStore;
  readonly readDb: SqlClient;
  readonly catalog: Catalog;
  readonly rules: AccountRules;
  readonly tariffs: TariffRegistry;
  /** The tariff for destinations outside the plan (null: plan numbers only). */
  readonly destinationTariffId: string | null;
  readonly ledger: Ledger;
  readonly projector: Projector;
  readonly hot: {
    readonly store: HotStore;
    readonly projector: HotProjector | null;
    readonly authorizer: CallAuthorizer;
  };
  readonly scheduler: Scheduler;
  /** Deletes expired idempotency keys and old finished jobs, hourly, in the worker role. */
  readonly retention: Retention;
  /** Users, passwords, tokens, MFA, sessions (SPEC §12). */
  readonly identity: Identity;
  /** The Redis connection when REDIS_URL is set (hot projection, rate limits). */
  readonly redis: Redis | null;
  readonly metrics: Registry;
  /** This process's log followers (tariffs, the ESL connector's top-ups, the live feed): metrics and `/ready`. */
  readonly followers: LogFollowers;
  readonly workerId: string;
  /** The schema queries read for a read model (cached briefly; rebuilds switch it). */
  readModelSchema(name: string): Promise<string>;
  /** Starts the background work of this process's roles. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenKhataOptions {
  readonly roles: KhataRoles;
  readonly clock?: () => Date;
  readonly migrate?: boolean;
  readonly log?: KhataLog;
  /** Tests share one Redis: a prefix keeps their hot projections apart. */
  readonly redisKeyPrefix?: string;
  /** Tests lower the password hashing cost (production uses identity's default). */
  readonly passwordCost?: ScryptCost;
}

const SCHEMA_CACHE_MS = 1_000;
/** A worker-only process's `quietCheckpointIntervalMs`: how far behind a read model's stored checkpoint may stay. */
export const QUIET_CHECKPOINT_INTERVAL_MS = 1_000;

export async function openKhata(config: KhataConfig, options: OpenKhataOptions): Promise<Khata> {
  const clock = options.clock ?? (() => new Date());
  const log = options.log ?? quietLog;
  const workerId = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse())
      await close().catch((error) => log.warn('close failed', { error: String(error) }));
  };
  try {
    const catalog = await loadCatalog(config.billing.catalogDir);
    const seedTariff = await readTariffDocument(config.billing.destinationTariffFile);
    const infrastructure = await openInfrastructure(config, {
      migrate: options.migrate ?? false,
      applicationName: 'khata',
    });
    closers.push(() => infrastructure.close());
    const { eventStore, readDb } = infrastructure;
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics, prefix: 'khata_process_' });
    const followers = new LogFollowers({ metrics, log });
    const tariffs = new TariffRegistry(eventStore, { followers });
    await tariffs.load();
    closers.push(() => tariffs.close());
    // The tariff file seeds the first version; later versions are published through the API.
    if (seedTariff !== null) await tariffs.seed(seedTariff.document, clock());
    const destinationTariffId = seedTariff?.id ?? null;
    const baseRules = accountRules({
      catalog,
      supplierState: config.supplier.stateCode,
      callSecondsMax: config.billing.callSecondsMax,
      reservationGraceSeconds: config.billing.reservationGraceSeconds,
    });
    const rules: AccountRules = {
      ...baseRules,
      get destinationTariff() {
        return destinationTariffId === null ? null : (tariffs.current(destinationTariffId)?.tariff ?? null);
      },
    };
    if (options.migrate === true) await Projector.prepare(readDb, projectorWork);

    const projector = new Projector({
      store: eventStore,
      db: readDb,
      projections: projectorWork,
      workerId,
      metrics: new ProjectorMetrics(metrics),
      log,
      // A worker-only process gathers a steady flow into a few transactions a second (WORKER_BATCH_INTERVAL_MS);
      // a process that also serves the API applies each read at once, so a client reads its own writes sooner.
      caughtUpIntervalMs: options.roles.api ? 0 : config.worker.batchIntervalMs,
      // And moves the checkpoints of read models with nothing to apply about once a second, not with every batch.
      quietCheckpointIntervalMs: options.roles.api ? 0 : QUIET_CHECKPOINT_INTERVAL_MS,
    });
    closers.push(() => projector.stop());

    const ledger = new Ledger({
      store: eventStore,
      commandLog: new SqlCommandLog(readDb),
      snapshots: new SqlSnapshotStore(readDb),
      rules,
      clock,
    });
    // Before the database closes: snapshot saves still on their way.
    closers.push(() => ledger.writer.settled());

    const schemaCache = new Map<string, { schema: string; at: number }>();
    const readModelSchema = async (name: string): Promise<string> => {
      const cached = schemaCache.get(name);
      if (cached !== undefined && performance.now() - cached.at < SCHEMA_CACHE_MS) return cached.schema;
      const schema = await projector.activeSchema(name);
      schemaCache.set(name, { schema, at: performance.now() });
      return schema;
    };

    let redis: Redis | null = null;
    if (config.redis.url !== null) {
      redis = new Redis(config.redis.url.reveal(), {
        maxRetriesPerRequest: 2,
        connectTimeout: 5_000,
        lazyConnect: false,
      });
      redis.on('error', (error) => log.warn('redis error', { error: String(error) }));
      const connection = redis;
      closers.push(async () => {
        connection.disconnect();
      });
    }
    const hotStore: HotStore =
      redis === null
        ? new MemoryHotStore()
        : new RedisHotStore(redis, options.redisKeyPrefix === undefined ? {} : { keyPrefix: options.redisKeyPrefix });
    const readState = async (accountId: string): Promise<HotAccount | null> => {
      const [row] = await accountStates(readDb, await readModelSchema('balances'), [accountId]);
      return row === undefined ? null : { version: row.version, state: row.state };
    };
    const loadAccount = loaderFrom(readState, eventStore);
    // In process, every API process keeps its own hot projection; with Redis, workers keep the shared one.
    const runsHotProjector = redis === null ? options.roles.api : options.roles.worker;
    const hotProjector = runsHotProjector
      ? new HotProjector({
          store: eventStore,
          hot: hotStore,
          loadAccount,
          loadAll: async () => accountStates(readDb, await readModelSchema('balances')),
          coldStartPosition: () => balancesLowWaterMark(readDb),
          // The ledger writer of this process already holds the states of the accounts it wrote.
          held: (accountId) => ledger.writer.held(accountId),
          log,
          follow: (followOptions) => followers.follow(followOptions),
        })
      : null;
    if (hotProjector !== null) closers.push(() => hotProjector.stop());
    const reload = async (accountId: string): Promise<HotAccount> => {
      const account = await loadAccount(accountId);
      await hotStore.apply([{ accountId, fromVersion: 1n, toVersion: account.version, state: account.state }], null);
      return account;
    };
    const authorizer = new CallAuthorizer({
      hot: hotStore,
      decider: ledger.decider,
      reload,
      policy:
        config.hotProjection.unavailablePolicy === 'fail-open'
          ? { mode: 'fail-open', maxSeconds: config.billing.failOpenCallSecondsMax }
          : { mode: 'fail-closed' },
    });

    const keysDirectory = config.jwt.keysDir.startsWith('memory://') ? null : config.jwt.keysDir;
    const identity = await Identity.open({
      store: eventStore,
      clock,
      keysDirectory,
      keyRotationSeconds: config.jwt.keyRotationSeconds,
      settings: identitySettingsFromConfig(config),
      ...(options.passwordCost === undefined ? {} : { passwordCost: options.passwordCost }),
    });

    const scheduler = new Scheduler({
      db: readDb,
      workerId,
      clock,
      handlers: jobHandlers((command, meta) => ledger.execute(command, meta)),
      log,
    });
    closers.push(() => scheduler.stop());

    const retention = new Retention({
      db: readDb,
      metrics,
      log,
      finishedJobRetentionSeconds: config.retention.finishedJobSeconds,
    });
    closers.push(() => retention.stop());

    return {
      config,
      roles: options.roles,
      clock,
      eventStore,
      readDb,
      catalog,
      rules,
      tariffs,
      destinationTariffId,
      ledger,
      projector,
      hot: { store: hotStore, projector: hotProjector, authorizer },
      scheduler,
      retention,
      identity,
      redis,
      metrics,
      followers,
      workerId,
      readModelSchema,
      async start() {
        if (options.roles.worker) {
          projector.start();
          scheduler.start();
          retention.start();
        }
        await hotProjector?.start();
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function readTariffDocument(file: string | null): Promise<{ id: string; document: unknown } | null> {
  if (file === null) return null;
  const text = await readFile(file, 'utf8');
  try {
    const document: unknown = JSON.parse(text);
    return { id: parseTariff(document).id, document };
  } catch (error) {
    throw new Error(`destination tariff ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The lowest checkpoint of the balances read model: every event before it is in its rows. */
async function balancesLowWaterMark(db: SqlClient): Promise<Position | null> {
  const rows = await db.query<{ position: string | null }>(
    `SELECT c.position FROM projections.checkpoints c JOIN projections.registry r
        ON r.name = c.name AND r.active_generation = c.generation
      WHERE c.name = 'balances' ORDER BY c.position ASC NULLS FIRST LIMIT 1`,
  );
  return (rows[0]?.position ?? null) as Position | null;
}

/** Applies every pending migration (event store, ledger, scheduler, read models): what `khata migrate` runs. */
export async function migrateAll(config: KhataConfig): Promise<readonly MigrationReport[]> {
  const infrastructure = await openInfrastructure(config, { migrate: true, applicationName: 'khata-migrate' });
  try {
    const readModels = await Projector.prepare(infrastructure.readDb, projectorWork);
    return [...infrastructure.migrations, ...readModels];
  } finally {
    await infrastructure.close();
  }
}
