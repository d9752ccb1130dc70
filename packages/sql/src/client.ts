import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import { lockDataDirectory } from './lock.ts';

/** What a caller needs to run SQL, whether on a PostgreSQL pool or on embedded PGlite. */
export interface SqlQueryable {
  /**
   * Runs one statement. `name` makes it a prepared statement on PostgreSQL (parsed and planned once
   * per connection); PGlite ignores it.
   */
  query<Row = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: { readonly name?: string },
  ): Promise<Row[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Loads rows with `COPY target FROM STDIN`: `target` is the table and its column list (`s.t (a, b)`), `data` the
   * rows in COPY's text format (copyText). PostgreSQL parses no statement per row and inserts the rows in batches.
   */
  copyFrom(target: string, data: string): Promise<void>;
}

export type SqlDialect = 'postgres' | 'pglite';

export interface TransactionOptions {
  /**
   * False: the commit returns without waiting for its WAL to reach the disk (`synchronous_commit = off` for this
   * transaction only). A crash of the database host may then lose the last few hundred milliseconds of such
   * commits, whole and never in part, and nothing committed durably after them: for data derived from the
   * event store, whose position is written in the same transaction, so that what is lost is derived again.
   * It spares the database a WAL flush per transaction, which the durable commits (appends) would wait behind.
   */
  readonly synchronousCommit?: boolean;
}

const ASYNC_COMMIT = 'SET LOCAL synchronous_commit = off';

export interface SqlClient extends SqlQueryable {
  readonly dialect: SqlDialect;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Calls `onNotify` for each NOTIFY on `channel` until the returned function is called, with whether it was sent
   * through one of this client's own connections (`fromThisClient`: a PostgreSQL pool knows its backends' process
   * ids; always false for PGlite, which cannot tell). PostgreSQL holds one pool connection for it; PGlite delivers
   * notifications in process.
   */
  listen(channel: string, onNotify: (payload: string, fromThisClient: boolean) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * Both drivers return int8, numeric and date as strings: PGlite would otherwise turn int8 into a JS
 * number and lose precision above 2^53, money must never pass through a float, and a calendar date
 * (an IST billing date) must not become a JS Date at the server's local midnight.
 */
const keepAsText = (value: string): string => value;

export interface PostgresClientOptions {
  readonly connectionString: string;
  readonly applicationName: string;
  /** Pool size. Each connection costs PostgreSQL a backend process (~10 MB). */
  readonly maxConnections?: number;
  /**
   * A session left idle inside a transaction holds back `pg_snapshot_xmin` for the whole cluster and
   * so stalls every event-store subscriber; PostgreSQL ends such a session after this long.
   */
  readonly idleInTransactionTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /**
   * A pooled connection is closed once it is this old and idle, and the next query opens a fresh one (0: never). A
   * backend keeps every statement prepared on it and every plan PL/pgSQL cached for it until it ends: a connection
   * living for weeks accumulates them (the event store names its reads anew each time the log doubles), and plans
   * made while tables were small (see docs/operations.md, "Statistics after a bulk load"). A connection holding a
   * LISTEN is never released to the pool, so it is not closed by this.
   */
  readonly maxLifetimeSeconds?: number;
}

const POOL_MAX_CONNECTIONS_DEFAULT = 10;
const IDLE_IN_TRANSACTION_TIMEOUT_MS_DEFAULT = 10_000;
const STATEMENT_TIMEOUT_MS_DEFAULT = 30_000;
const CONNECT_TIMEOUT_MS_DEFAULT = 5_000;
const MAX_LIFETIME_SECONDS_DEFAULT = 3_600;
const LISTEN_RETRY_MS = 1_000;

export function createPostgresClient(options: PostgresClientOptions): SqlClient {
  const idleInTx = options.idleInTransactionTimeoutMs ?? IDLE_IN_TRANSACTION_TIMEOUT_MS_DEFAULT;
  const statement = options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS_DEFAULT;
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    application_name: options.applicationName,
    max: options.maxConnections ?? POOL_MAX_CONNECTIONS_DEFAULT,
    connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT,
    maxLifetimeSeconds: options.maxLifetimeSeconds ?? MAX_LIFETIME_SECONDS_DEFAULT,
    options: `-c idle_in_transaction_session_timeout=${idleInTx} -c statement_timeout=${statement}`,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 || oid === 1700 || oid === 1082
          ? keepAsText
          : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle pooled connection that the server drops (restart, failover) emits 'error' on the pool;
  // without a listener that would crash the process. The next query simply gets a new connection.
  pool.on('error', () => {});
  // The server process ids of this pool's connections, so that a NOTIFY sent through one of them is known as ours.
  const backends = new Set<number>();
  const backendOf = (connection: pg.PoolClient): unknown =>
    (connection as unknown as { processID?: unknown }).processID;
  pool.on('connect', (connection) => {
    const processId = backendOf(connection);
    if (typeof processId === 'number') backends.add(processId);
  });
  pool.on('remove', (connection) => {
    const processId = backendOf(connection);
    if (typeof processId === 'number') backends.delete(processId);
  });

  const run = async <Row>(
    target: pg.Pool | pg.PoolClient,
    text: string,
    params: readonly unknown[] | undefined,
    name: string | undefined,
  ): Promise<Row[]> => {
    const config: pg.QueryConfig = { text, values: params as unknown[] };
    if (name !== undefined) config.name = name;
    const result = await target.query(config);
    return result.rows as Row[];
  };

  const copy = async (connection: pg.PoolClient, target: string, data: string): Promise<void> => {
    await pipeline(Readable.from([data]), connection.query(copyFromStdin(`COPY ${target} FROM STDIN`)));
  };

  return {
    dialect: 'postgres',
    query: (text, params, queryOptions) => run(pool, text, params, queryOptions?.name),
    async exec(script) {
      await pool.query(script);
    },
    async copyFrom(target, data) {
      const connection = await pool.connect();
      let broken: unknown;
      try {
        await copy(connection, target, data);
      } catch (error) {
        // A COPY the server refused leaves the connection ready for the next statement; a lost one does not.
        if (isConnectionError(error)) broken = error;
        throw error;
      } finally {
        connection.release(broken instanceof Error ? broken : undefined);
      }
    },
    async transaction(work, transactionOptions) {
      const connection = await pool.connect();
      // A checked-out connection that the server drops between two statements emits 'error' on the
      // client, not the pool; remember it so the connection is destroyed instead of reused.
      let broken: unknown;
      const onError = (error: Error): void => {
        broken = error;
      };
      connection.on('error', onError);
      try {
        // One round trip either way: the simple protocol runs both statements of the string.
        await connection.query(transactionOptions?.synchronousCommit === false ? `BEGIN; ${ASYNC_COMMIT}` : 'BEGIN');
        const result = await work({
          query: (text, params, queryOptions) => run(connection, text, params, queryOptions?.name),
          async exec(script) {
            await connection.query(script);
          },
          copyFrom: (target, data) => copy(connection, target, data),
        });
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await connection.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError;
        }
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: destroy it instead of reusing it.
        connection.off('error', onError);
        connection.release(broken instanceof Error ? broken : undefined);
      }
    },
    async listen(channel, onNotify) {
      // One dedicated connection holds the LISTEN. When the server drops it (restart, failover,
      // terminated backend) it is replaced after a short pause; notifications sent in between are
      // lost, which callers tolerate because they also poll.
      let stopped = false;
      let current: { connection: pg.PoolClient; onError: (error: Error) => void } | null = null;
      let retry: NodeJS.Timeout | undefined;
      const handler = (message: pg.Notification): void => {
        if (message.channel === channel) onNotify(message.payload ?? '', backends.has(message.processId));
      };
      const attach = async (reattached: boolean): Promise<void> => {
        const connection = await pool.connect();
        const onError = (error: Error): void => {
          connection.off('notification', handler);
          connection.off('error', onError);
          if (current?.connection === connection) current = null;
          connection.release(error);
          if (!stopped) retry = setTimeout(reattach, LISTEN_RETRY_MS);
        };
        connection.on('error', onError);
        connection.on('notification', handler);
        try {
          await connection.query(`LISTEN ${quoteIdentifier(channel)}`);
        } catch (error) {
          connection.off('notification', handler);
          connection.off('error', onError);
          connection.release(error instanceof Error ? error : true);
          throw error;
        }
        current = { connection, onError };
        // The caller's wait may have missed a notification while no connection listened.
        if (reattached) onNotify('', false);
      };
      const reattach = (): void => {
        retry = undefined;
        if (stopped) return;
        attach(true).catch(() => {
          if (!stopped) retry = setTimeout(reattach, LISTEN_RETRY_MS);
        });
      };
      await attach(false);
      return async () => {
        stopped = true;
        if (retry !== undefined) clearTimeout(retry);
        const held = current;
        current = null;
        if (held === null) return;
        const { connection, onError } = held;
        connection.off('notification', handler);
        connection.off('error', onError);
        let broken: unknown;
        const onLateError = (error: Error): void => {
          broken = error;
        };
        connection.on('error', onLateError);
        try {
          await connection.query(`UNLISTEN ${quoteIdentifier(channel)}`);
        } catch (error) {
          broken = error;
        } finally {
          connection.off('error', onLateError);
          connection.release(broken === undefined ? undefined : broken instanceof Error ? broken : true);
        }
      };
    },
    close: () => pool.end(),
  };
}

export interface PgliteClientOptions {
  /** Directory of the database files (locked against other processes); in memory when absent. */
  readonly dataDir?: string;
}

export async function createPgliteClient(options: PgliteClientOptions = {}): Promise<SqlClient> {
  const { dataDir } = options;
  const unlock = dataDir === undefined || dataDir.startsWith('memory://') ? () => {} : lockDataDirectory(dataDir);
  try {
    const db = await PGlite.create(dataDir, {
      parsers: { [pgliteTypes.INT8]: keepAsText, [pgliteTypes.NUMERIC]: keepAsText, [pgliteTypes.DATE]: keepAsText },
    });
    const client = pgliteClient(db);
    return {
      ...client,
      async close() {
        try {
          await client.close();
        } finally {
          unlock();
        }
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

/** Wraps an existing PGlite instance (several adapters can share one embedded database). */
export function pgliteClient(db: PGlite): SqlClient {
  const queryable = (session: Pick<PGlite, 'query' | 'exec'>): SqlQueryable => ({
    async query<Row>(text: string, params?: readonly unknown[]) {
      const result = await session.query<Row>(text, params as unknown[]);
      return result.rows;
    },
    async exec(script: string) {
      await session.exec(script);
    },
    async copyFrom(target: string, data: string) {
      // PGlite has no client stream: COPY reads the data from its virtual /dev/blob device.
      await session.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([data]) });
    },
  });
  return {
    dialect: 'pglite',
    ...queryable(db),
    transaction: (work, transactionOptions) =>
      db.transaction(async (tx) => {
        if (transactionOptions?.synchronousCommit === false) await tx.query(ASYNC_COMMIT);
        return work(queryable(tx));
      }),
    async listen(channel, onNotify) {
      const unlisten = await db.listen(channel, (payload) => onNotify(payload, false));
      return () => unlisten();
    },
    close: () => db.close(),
  };
}

/** Double-quotes an SQL identifier after checking it is a plain one (identifiers are never user input). */
export function quoteIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  }
  return `"${name}"`;
}

/** The SQLSTATE and constraint of a database error, from either driver. */
export function databaseErrorDetails(error: unknown): { code?: string; constraint?: string } {
  if (typeof error !== 'object' || error === null) return {};
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  const details: { code?: string; constraint?: string } = {};
  if (typeof code === 'string') details.code = code;
  if (typeof constraint === 'string') details.constraint = constraint;
  return details;
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

/** True when the error means the database could not be reached, not that the statement was wrong. */
export function isConnectionError(error: unknown): boolean {
  const { code } = databaseErrorDetails(error);
  if (code !== undefined && CONNECTION_ERROR_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(message);
}
