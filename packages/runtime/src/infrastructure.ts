import { connect } from 'node:net';
import { relative } from 'node:path';
import type { KhataConfig } from '@khata/config';
import { type EventStore, type EventStoreSettings, eventStoreMigrations, openEventStore } from '@khata/event-store';
import { APPEND_AND_LOG_FUNCTION, ledgerMigrations } from '@khata/ledger';
import { schedulerMigrations } from '@khata/scheduler';
import {
  appliedVersions,
  createPgliteClient,
  createPostgresClient,
  dataDirectoryHolder,
  type MigrationReport,
  type MigrationSet,
  migrate,
  type SqlClient,
} from '@khata/sql';
import { Redis } from 'ioredis';
import { httpMigrations } from './http-schema.ts';

/**
 * The schemas Khata owns, in the order `khata migrate` applies them. Read models add theirs here.
 */
export function migrationSets(): readonly MigrationSet[] {
  return [eventStoreMigrations, ledgerMigrations, schedulerMigrations, httpMigrations];
}

/** The databases a Khata process works with, opened from configuration. */
export interface Infrastructure {
  readonly eventStore: EventStore;
  /** Where read models live: PostgreSQL when DATABASE_URL is set, else the embedded PGlite database. */
  readonly readDb: SqlClient;
  /** What `migrate: true` applied (empty otherwise). */
  readonly migrations: readonly MigrationReport[];
  close(): Promise<void>;
}

/**
 * Opens the read-model database and the event store, migrating both first when asked. In embedded mode
 * both live in one PGlite database in `dataDir` (PGlite allows one process per directory, so one
 * client serves both); with EVENT_STORE=postgres the event store's tables sit beside the read models
 * in DATABASE_URL.
 */
export async function openInfrastructure(
  config: KhataConfig,
  options: { readonly migrate?: boolean; readonly applicationName?: string } = {},
): Promise<Infrastructure> {
  const applicationName = options.applicationName ?? 'khata';
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  };
  try {
    const databaseUrl = config.database.url?.reveal();
    const readDb =
      databaseUrl === undefined
        ? await createPgliteClient({ dataDir: config.dataDir })
        : createPostgresClient({
            connectionString: databaseUrl,
            applicationName,
            maxConnections: config.database.poolSize,
          });
    closers.push(() => readDb.close());

    const eventStoreInReadDb =
      config.eventStore.kind === 'postgres' || (config.eventStore.kind === 'pglite' && readDb.dialect === 'pglite');
    const migrations: MigrationReport[] = [];
    if (options.migrate === true) {
      for (const set of migrationSets()) {
        if (set === eventStoreMigrations && !eventStoreInReadDb) continue;
        migrations.push(await migrate(readDb, set));
      }
    }
    const eventStore = await openEventStore(eventStoreSettings(config, readDb), {
      applicationName,
      // An event store outside the read-model database (EventStoreDB needs none) migrates itself.
      migrate: options.migrate === true && !eventStoreInReadDb,
      // In the database of the ledger's command log, the ledger's entries are written with the appends.
      ...(eventStoreInReadDb ? { appendFunction: APPEND_AND_LOG_FUNCTION } : {}),
    });
    closers.push(() => eventStore.close());
    return { eventStore, readDb, migrations, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function eventStoreSettings(config: KhataConfig, readDb: SqlClient): EventStoreSettings {
  switch (config.eventStore.kind) {
    case 'pglite':
      if (readDb.dialect !== 'pglite') {
        // DATABASE_URL is set but the event store stays embedded: it gets its own PGlite database.
        return { kind: 'pglite', dataDir: config.dataDir };
      }
      return { kind: 'pglite', client: readDb };
    case 'postgres':
      return {
        kind: 'postgres',
        connectionString: config.database.url?.reveal() as string,
        poolSize: config.database.poolSize,
        notify: config.eventStore.notify,
      };
    case 'eventstoredb':
      return { kind: 'eventstoredb', connectionString: config.eventStore.eventStoreDbUrl?.reveal() as string };
    case 'memory':
      return { kind: 'memory' };
  }
}

export type CheckStatus = 'ok' | 'unreachable' | 'not configured' | 'in use' | 'error';

export interface Check {
  readonly component: string;
  readonly adapter: string;
  readonly target: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

const PROBE_TIMEOUT_MS = 3_000;

/**
 * What `khata doctor` prints: each adapter the configuration selects and whether it answers. It never
 * prints a secret: URLs are shown as host, port and database only.
 */
export async function diagnose(config: KhataConfig, cwd: string): Promise<readonly Check[]> {
  const checks: Check[] = [];
  const embedded = config.eventStore.kind === 'pglite' || config.database.url === null;
  const dataDirShown = relative(cwd, config.dataDir) || '.';
  let pgliteCheck: Check | undefined;
  if (embedded) pgliteCheck = await checkPglite(config.dataDir, dataDirShown);

  if (config.eventStore.kind === 'pglite') {
    checks.push({ ...(pgliteCheck as Check), component: 'event store' });
  } else if (config.eventStore.kind === 'postgres') {
    checks.push({
      ...(await checkPostgres(config.database.url?.reveal() as string, 'event-store')),
      component: 'event store',
    });
  } else if (config.eventStore.kind === 'eventstoredb') {
    const url = config.eventStore.eventStoreDbUrl?.reveal() as string;
    checks.push(await checkTcp('event store', 'eventstoredb', eventStoreDbEndpoint(url)));
  } else {
    checks.push({
      component: 'event store',
      adapter: 'memory',
      target: 'this process',
      status: 'ok',
      detail: 'nothing survives a restart',
    });
  }

  if (config.database.url === null) {
    checks.push({ ...(pgliteCheck as Check), component: 'read models' });
  } else {
    checks.push({ ...(await checkPostgres(config.database.url.reveal(), null)), component: 'read models' });
  }

  if (config.redis.url === null) {
    checks.push({
      component: 'hot projection',
      adapter: 'in-process',
      target: 'this process',
      status: 'ok',
      detail: '',
    });
  } else {
    checks.push(await checkRedis(config.redis.url.reveal()));
  }

  if (config.freeswitch.nodes.length === 0) {
    checks.push({
      component: 'freeswitch',
      adapter: 'esl',
      target: '-',
      status: 'not configured',
      detail: 'FREESWITCH_ESL_HOST',
    });
  }
  for (const node of config.freeswitch.nodes) {
    checks.push(await checkTcp('freeswitch', 'esl', { host: node.host, port: node.port }));
  }
  checks.push({
    component: 'payments',
    adapter:
      [config.razorpay === null ? '' : 'razorpay', config.stripe === null ? '' : 'stripe'].filter(Boolean).join('+') ||
      '-',
    target: '-',
    status: config.razorpay === null && config.stripe === null ? 'not configured' : 'ok',
    detail:
      config.razorpay === null && config.stripe === null
        ? 'RAZORPAY_KEY_ID / STRIPE_SECRET_KEY'
        : 'keys present (not contacted)',
  });
  return checks;
}

async function checkPglite(dataDir: string, shown: string): Promise<Check> {
  const base = { component: '', adapter: 'pglite', target: shown };
  const holder = dataDirectoryHolder(dataDir);
  if (holder !== null && holder !== process.pid) {
    return { ...base, status: 'in use', detail: `open in process ${holder} (a running khata start)` };
  }
  let client: SqlClient | undefined;
  try {
    client = await createPgliteClient({ dataDir });
    const versions = await appliedVersions(client);
    return { ...base, status: 'ok', detail: schemaDetail(versions) };
  } catch (error) {
    return { ...base, status: 'error', detail: error instanceof Error ? error.message : String(error) };
  } finally {
    await client?.close();
  }
}

async function checkPostgres(url: string, namespace: string | null): Promise<Check> {
  const parsed = new URL(url);
  const target = `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  const client = createPostgresClient({
    connectionString: url,
    applicationName: 'khata-doctor',
    maxConnections: 1,
    connectTimeoutMs: PROBE_TIMEOUT_MS,
  });
  try {
    const versions = await appliedVersions(client);
    const detail = namespace === null ? schemaDetail(versions) : `schema ${namespace} v${versions.get(namespace) ?? 0}`;
    return { component: '', adapter: 'postgres', target, status: 'ok', detail };
  } catch (error) {
    return {
      component: '',
      adapter: 'postgres',
      target,
      status: 'unreachable',
      detail: error instanceof Error ? error.message : String(error),
    };
  } finally {
    await client.close();
  }
}

async function checkRedis(url: string): Promise<Check> {
  const parsed = new URL(url);
  const target = `${parsed.hostname}:${parsed.port || '6379'}`;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const pong = await redis.ping();
    return {
      component: 'hot projection',
      adapter: 'redis',
      target,
      status: pong === 'PONG' ? 'ok' : 'error',
      detail: '',
    };
  } catch (error) {
    return {
      component: 'hot projection',
      adapter: 'redis',
      target,
      status: 'unreachable',
      detail: error instanceof Error ? error.message : String(error),
    };
  } finally {
    redis.disconnect();
  }
}

function eventStoreDbEndpoint(url: string): { host: string; port: number } {
  const afterScheme = url.replace(/^[a-z+]+:\/\//, '').replace(/^[^@]*@/, '');
  const first = afterScheme.split(/[,/?]/)[0] ?? '';
  const [host, port] = first.split(':');
  return { host: host || 'localhost', port: Number(port || 2113) };
}

function checkTcp(component: string, adapter: string, endpoint: { host: string; port: number }): Promise<Check> {
  const target = `${endpoint.host}:${endpoint.port}`;
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port, timeout: PROBE_TIMEOUT_MS });
    const finish = (status: CheckStatus, detail: string): void => {
      socket.destroy();
      resolve({ component, adapter, target, status, detail });
    };
    socket.once('connect', () => finish('ok', 'accepts connections'));
    socket.once('timeout', () => finish('unreachable', `no answer within ${PROBE_TIMEOUT_MS} ms`));
    socket.once('error', (error) => finish('unreachable', error.message));
  });
}

function schemaDetail(versions: ReadonlyMap<string, number>): string {
  if (versions.size === 0) return 'no schema yet (khata migrate)';
  return [...versions].map(([namespace, version]) => `${namespace} v${version}`).join(', ');
}
