import { isAbsolute, resolve } from 'node:path';
import { inspect } from 'node:util';
import { HANGUP_CAUSES } from '@khata/esl/commands';

/**
 * A value that must never reach a log line, an error message or a JSON response. `reveal()` is the only
 * way to read it; every printing path shows `[redacted]`.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}

/** A bad or missing variable. Start-up stops with this message, which names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variable: string;

  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.variable = variable;
  }
}

export type Environment = 'development' | 'test' | 'production';
export type EventStoreKind = 'pglite' | 'postgres' | 'eventstoredb' | 'memory';
export type HotProjectionPolicy = 'fail-closed' | 'fail-open';

export interface FreeswitchNode {
  readonly host: string;
  readonly port: number;
  readonly password: Secret;
}

export interface KhataConfig {
  readonly environment: Environment;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly http: { readonly host: string; readonly port: number };
  /** Where the embedded PGlite database lives (absolute). */
  readonly dataDir: string;
  readonly eventStore: {
    readonly kind: EventStoreKind;
    readonly eventStoreDbUrl: Secret | null;
    /** PostgreSQL event store: NOTIFY subscribers in other processes on every append. */
    readonly notify: boolean;
  };
  /** PostgreSQL for read models (and the event store when kind is `postgres`); null: embedded PGlite. */
  readonly database: { readonly url: Secret | null; readonly poolSize: number };
  /** Redis for the hot projection and rate limits; null: in process. */
  readonly redis: { readonly url: Secret | null };
  /**
   * The nice value a process that runs only the background work (`khata start --worker-only` with no FreeSWITCH)
   * lowers itself to, so that on a shared host call decisions and API requests get the CPU first; 0 leaves it.
   */
  readonly worker: {
    readonly nice: number;
    /** A worker-only process: how long read models that reached the log's head wait before reading again. */
    readonly batchIntervalMs: number;
  };
  readonly hotProjection: { readonly unavailablePolicy: HotProjectionPolicy };
  readonly freeswitch: {
    readonly nodes: readonly FreeswitchNode[];
    /** The hangup cause of a refused call (OUTGOING_CALL_BARRED is SIP 403; CALL_REJECTED is 603). */
    readonly deniedHangupCause: string;
    /** A sound played to the caller shortly before the call's limit; null: none. */
    readonly lowBalanceWarning: { readonly soundPath: string; readonly secondsBeforeEnd: number } | null;
    /** ESL connections per node that carry commands (each call always uses the same one). */
    readonly commandConnections: number;
  };
  readonly cdrWebhook: { readonly user: string; readonly password: Secret } | null;
  readonly razorpay: { readonly keyId: string; readonly keySecret: Secret; readonly webhookSecret: Secret } | null;
  readonly stripe: { readonly secretKey: Secret; readonly webhookSecret: Secret } | null;
  readonly jwt: {
    readonly secret: Secret | null;
    readonly accessExpirySeconds: number;
    readonly refreshExpirySeconds: number;
    readonly issuer: string;
    readonly audience: string;
    /** Where the identity service keeps its Ed25519 signing keys and MFA secret key (absolute). */
    readonly keysDir: string;
    /** Age at which the signing key is replaced by a new one; null: never automatically. */
    readonly keyRotationSeconds: number | null;
  };
  /** Failed logins (and second-factor codes) within `windowSeconds` lock a user for `durationSeconds`. */
  readonly lockout: {
    readonly failuresMax: number;
    readonly windowSeconds: number;
    readonly durationSeconds: number;
  };
  readonly corsOrigins: readonly string[];
  readonly sentryDsn: Secret | null;
  /** Who issues the invoices: GST registration state decides CGST+SGST versus IGST. */
  readonly supplier: {
    readonly legalName: string;
    readonly gstin: string | null;
    readonly stateCode: string;
    readonly address: string;
    /** Services Accounting Code on invoices (SPEC §10; default 998412). */
    readonly sac: string;
  };
  readonly billing: {
    /** Directory of the catalog files (plans, add-ons). */
    readonly catalogDir: string;
    /** Tariff for destinations outside the plan (international, premium); null: plan numbers only. */
    readonly destinationTariffFile: string | null;
    /** Ceiling on one call's authorized duration. */
    readonly callSecondsMax: number;
    /** How long a reservation waits for its CDR after the call's authorized end. */
    readonly reservationGraceSeconds: number;
    /** fail-open only: the longest call allowed while the hot projection cannot answer. */
    readonly failOpenCallSecondsMax: number;
  };
  readonly retention: {
    /** Age past which the worker deletes a finished (done or cancelled) scheduler job; failed jobs stay. */
    readonly finishedJobSeconds: number;
  };
}

type Env = Readonly<Record<string, string | undefined>>;

const DURATION = /^(\d+)\s*(s|m|h|d)?$/;
const DURATION_UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;
const JWT_SECRET_BYTES_MIN = 32;

/**
 * Reads Khata's configuration from environment variables, once, at start-up (every variable is listed
 * in .env.example). Returns a deep-frozen object; throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: Env, options: { readonly cwd: string }): KhataConfig {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const environment = oneOf(read, 'NODE_ENV', ['development', 'test', 'production'], 'development');
  const databaseUrl = databaseUrlFrom(read);
  const eventStoreKind = oneOf(read, 'EVENT_STORE', ['pglite', 'postgres', 'eventstoredb', 'memory'], 'pglite');
  if (eventStoreKind === 'postgres' && databaseUrl === null) {
    throw new ConfigError('DATABASE_URL', 'is required when EVENT_STORE=postgres (or set DB_HOST and friends)');
  }
  const eventStoreDbUrl = read('EVENTSTORE_URL');
  if (eventStoreKind === 'eventstoredb' && eventStoreDbUrl === undefined) {
    throw new ConfigError('EVENTSTORE_URL', 'is required when EVENT_STORE=eventstoredb');
  }
  if (
    eventStoreDbUrl !== undefined &&
    !/^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover):\/\//.test(eventStoreDbUrl)
  ) {
    throw new ConfigError('EVENTSTORE_URL', 'must be a connection string such as esdb://localhost:2113?tls=false');
  }
  const jwtSecret = read('JWT_SECRET');
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < JWT_SECRET_BYTES_MIN && environment === 'production') {
    throw new ConfigError('JWT_SECRET', `must be at least ${JWT_SECRET_BYTES_MIN} bytes in production`);
  }
  const dataDir = read('KHATA_DATA_DIR') ?? '.khata/data';

  const config: KhataConfig = {
    environment,
    logLevel: oneOf(read, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    http: { host: read('HOST') ?? '127.0.0.1', port: port(read, 'PORT', 3000) },
    // `memory://` keeps the embedded database in memory (tests, demos): nothing survives a restart.
    dataDir: dataDir.startsWith('memory://') || isAbsolute(dataDir) ? dataDir : resolve(options.cwd, dataDir),
    eventStore: {
      kind: eventStoreKind,
      eventStoreDbUrl: eventStoreDbUrl === undefined ? null : new Secret(eventStoreDbUrl),
      notify: flag(read, 'EVENT_STORE_NOTIFY', false),
    },
    database: { url: databaseUrl, poolSize: integer(read, 'DB_POOL_SIZE', 10, 1, 200) },
    redis: { url: redisUrlFrom(read) },
    worker: {
      nice: integer(read, 'WORKER_NICE', 10, 0, 19),
      batchIntervalMs: integer(read, 'WORKER_BATCH_INTERVAL_MS', 100, 0, 1_000),
    },
    hotProjection: {
      unavailablePolicy: oneOf(read, 'HOT_PROJECTION_UNAVAILABLE_POLICY', ['fail-closed', 'fail-open'], 'fail-closed'),
    },
    freeswitch: {
      nodes: freeswitchNodes(read),
      deniedHangupCause: hangupCause(read('FREESWITCH_DENIED_HANGUP_CAUSE') ?? 'OUTGOING_CALL_BARRED'),
      lowBalanceWarning: lowBalanceWarning(read),
      commandConnections: integer(read, 'FREESWITCH_COMMAND_CONNECTIONS', 4, 1, 32),
    },
    cdrWebhook: credentials(read, 'CDR_WEBHOOK_USER', 'CDR_WEBHOOK_PASSWORD'),
    razorpay: razorpay(read),
    stripe: stripe(read),
    jwt: {
      secret: jwtSecret === undefined ? null : new Secret(jwtSecret),
      accessExpirySeconds: duration(read, 'JWT_ACCESS_EXPIRY', 15 * 60),
      refreshExpirySeconds: duration(read, 'JWT_REFRESH_EXPIRY', 7 * 86_400),
      issuer: read('JWT_ISSUER') ?? 'khata',
      audience: read('JWT_AUDIENCE') ?? 'khata-api',
      // `memory://`: keys live in memory (tests); tokens and TOTP secrets die with the process.
      keysDir: keysDirectory(options.cwd, read('JWT_KEYS_DIR')),
      keyRotationSeconds: read('JWT_KEY_ROTATION') === 'never' ? null : duration(read, 'JWT_KEY_ROTATION', 30 * 86_400),
    },
    lockout: {
      failuresMax: integer(read, 'LOCKOUT_FAILURES_MAX', 5, 1, 100),
      windowSeconds: duration(read, 'LOCKOUT_WINDOW', 15 * 60),
      durationSeconds: duration(read, 'LOCKOUT_DURATION', 15 * 60),
    },
    corsOrigins: list(read('CORS_ORIGINS')).map((origin) => {
      if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
        throw new ConfigError('CORS_ORIGINS', `${origin} is not an origin such as https://portal.example.com`);
      }
      return origin;
    }),
    sentryDsn: secretOrNull(read('SENTRY_DSN')),
    supplier: supplier(read),
    billing: {
      catalogDir: absolute(options.cwd, read('CATALOG_DIR') ?? 'schemas/catalog'),
      destinationTariffFile: destinationTariff(options.cwd, read('DESTINATION_TARIFF')),
      callSecondsMax: integer(read, 'CALL_SECONDS_MAX', 7_200, 60, 86_400),
      reservationGraceSeconds: integer(read, 'RESERVATION_GRACE_SECONDS', 900, 0, 86_400),
      failOpenCallSecondsMax: integer(read, 'HOT_PROJECTION_FAIL_OPEN_SECONDS', 300, 1, 86_400),
    },
    retention: {
      finishedJobSeconds: finishedJobRetention(read),
    },
  };
  return deepFreeze(config);
}

const FINISHED_JOB_RETENTION_SECONDS_DEFAULT = 30 * 86_400;
/** A day at least: a job that has just finished may still be inspected while its outcome is investigated. */
const FINISHED_JOB_RETENTION_SECONDS_MIN = 86_400;

function finishedJobRetention(read: (name: string) => string | undefined): number {
  const seconds = duration(read, 'FINISHED_JOB_RETENTION', FINISHED_JOB_RETENTION_SECONDS_DEFAULT);
  if (seconds < FINISHED_JOB_RETENTION_SECONDS_MIN) {
    throw new ConfigError('FINISHED_JOB_RETENTION', 'must be at least 1d');
  }
  return seconds;
}

const GSTIN_SHAPE = /^\d{2}[0-9A-Z]{13}$/;

function supplier(read: (name: string) => string | undefined): KhataConfig['supplier'] {
  const gstin = read('SUPPLIER_GSTIN')?.toUpperCase();
  if (gstin !== undefined && !GSTIN_SHAPE.test(gstin))
    throw new ConfigError('SUPPLIER_GSTIN', 'must be a 15-character GSTIN');
  const stateCode = read('SUPPLIER_STATE_CODE') ?? gstin?.slice(0, 2) ?? '29';
  if (!/^\d{2}$/.test(stateCode)) throw new ConfigError('SUPPLIER_STATE_CODE', 'must be a two-digit GST state code');
  if (gstin !== undefined && gstin.slice(0, 2) !== stateCode) {
    throw new ConfigError(
      'SUPPLIER_STATE_CODE',
      `is ${stateCode} but SUPPLIER_GSTIN is registered in ${gstin.slice(0, 2)}`,
    );
  }
  const sac = read('SAC_CODE') ?? '998412';
  if (!/^\d{6}$/.test(sac)) throw new ConfigError('SAC_CODE', 'must be a six-digit Services Accounting Code');
  return {
    legalName: read('SUPPLIER_LEGAL_NAME') ?? 'Khata Telecom (set SUPPLIER_LEGAL_NAME)',
    gstin: gstin ?? null,
    stateCode,
    address: read('SUPPLIER_ADDRESS') ?? '',
    sac,
  };
}

function keysDirectory(cwd: string, value: string | undefined): string {
  if (value?.startsWith('memory://') === true) return value;
  return absolute(cwd, value ?? '.khata/keys');
}

function absolute(cwd: string, path: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

function destinationTariff(cwd: string, value: string | undefined): string | null {
  if (value === 'none') return null;
  return absolute(cwd, value ?? 'schemas/tariffs/intl-2026.json');
}

function databaseUrlFrom(read: (name: string) => string | undefined): Secret | null {
  const url = read('DATABASE_URL');
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ConfigError('DATABASE_URL', 'must be a postgres:// URL');
    }
    return new Secret(url);
  }
  const host = read('DB_HOST');
  if (host === undefined) return null;
  const composed = new URL('postgres://localhost');
  composed.hostname = host;
  composed.port = String(port(read, 'DB_PORT', 5432));
  composed.pathname = `/${encodeURIComponent(read('DB_NAME') ?? 'khata')}`;
  composed.username = encodeURIComponent(read('DB_USER') ?? 'postgres');
  const password = read('DB_PASSWORD');
  if (password !== undefined) composed.password = encodeURIComponent(password);
  return new Secret(composed.toString());
}

function redisUrlFrom(read: (name: string) => string | undefined): Secret | null {
  const url = read('REDIS_URL');
  if (url !== undefined) {
    if (!/^rediss?:\/\//.test(url)) throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
    return new Secret(url);
  }
  const host = read('REDIS_HOST');
  if (host === undefined) return null;
  return new Secret(`redis://${host}:${port(read, 'REDIS_PORT', 6379)}`);
}

function freeswitchNodes(read: (name: string) => string | undefined): FreeswitchNode[] {
  const hosts = list(read('FREESWITCH_ESL_HOST'));
  if (hosts.length === 0) return [];
  const ports = list(read('FREESWITCH_ESL_PORT'));
  const passwords = list(read('FREESWITCH_ESL_PASSWORD'));
  return hosts.map((host, index) => {
    const portText = ports[index] ?? ports[0] ?? '8021';
    const password = passwords[index] ?? passwords[0];
    if (password === undefined) {
      throw new ConfigError('FREESWITCH_ESL_PASSWORD', `is required for FreeSWITCH host ${host}`);
    }
    return { host, port: parsePort('FREESWITCH_ESL_PORT', portText), password: new Secret(password) };
  });
}

function hangupCause(value: string): string {
  // FreeSWITCH turns an unknown cause name into NORMAL_CLEARING without a word, so names are checked here.
  if (!HANGUP_CAUSES.has(value)) {
    throw new ConfigError(
      'FREESWITCH_DENIED_HANGUP_CAUSE',
      'must be a FreeSWITCH hangup cause such as OUTGOING_CALL_BARRED or CALL_REJECTED',
    );
  }
  return value;
}

function lowBalanceWarning(read: (name: string) => string | undefined): KhataConfig['freeswitch']['lowBalanceWarning'] {
  const soundPath = read('FREESWITCH_LOW_BALANCE_SOUND');
  if (soundPath === undefined) return null;
  // The path is handed to sched_broadcast on the switch; whitespace would split the ESL command.
  if (!soundPath.startsWith('/') || /\s/.test(soundPath)) {
    throw new ConfigError('FREESWITCH_LOW_BALANCE_SOUND', 'must be an absolute path on the switch without spaces');
  }
  return { soundPath, secondsBeforeEnd: integer(read, 'FREESWITCH_LOW_BALANCE_SECONDS', 60, 5, 3_600) };
}

function credentials(
  read: (name: string) => string | undefined,
  userVariable: string,
  passwordVariable: string,
): { user: string; password: Secret } | null {
  const user = read(userVariable);
  const password = read(passwordVariable);
  if (user === undefined && password === undefined) return null;
  if (user === undefined) throw new ConfigError(userVariable, `is required when ${passwordVariable} is set`);
  if (password === undefined) throw new ConfigError(passwordVariable, `is required when ${userVariable} is set`);
  return { user, password: new Secret(password) };
}

function razorpay(read: (name: string) => string | undefined): KhataConfig['razorpay'] {
  const keyId = read('RAZORPAY_KEY_ID');
  if (keyId === undefined) return null;
  const keySecret = read('RAZORPAY_KEY_SECRET');
  const webhookSecret = read('RAZORPAY_WEBHOOK_SECRET');
  if (keySecret === undefined) throw new ConfigError('RAZORPAY_KEY_SECRET', 'is required with RAZORPAY_KEY_ID');
  if (webhookSecret === undefined) {
    throw new ConfigError('RAZORPAY_WEBHOOK_SECRET', 'is required with RAZORPAY_KEY_ID');
  }
  return { keyId, keySecret: new Secret(keySecret), webhookSecret: new Secret(webhookSecret) };
}

function stripe(read: (name: string) => string | undefined): KhataConfig['stripe'] {
  const secretKey = read('STRIPE_SECRET_KEY');
  if (secretKey === undefined) return null;
  const webhookSecret = read('STRIPE_WEBHOOK_SECRET');
  if (webhookSecret === undefined) throw new ConfigError('STRIPE_WEBHOOK_SECRET', 'is required with STRIPE_SECRET_KEY');
  return { secretKey: new Secret(secretKey), webhookSecret: new Secret(webhookSecret) };
}

function oneOf<const T extends string>(
  read: (name: string) => string | undefined,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = read(name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function port(read: (name: string) => string | undefined, name: string, fallback: number): number {
  const value = read(name);
  return value === undefined ? fallback : parsePort(name, value);
}

function parsePort(name: string, value: string): number {
  const parsed = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= 0 && parsed <= 65_535))
    throw new ConfigError(name, `must be a port number; got ${JSON.stringify(value)}`);
  return parsed;
}

function integer(
  read: (name: string) => string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = read(name);
  if (value === undefined) return fallback;
  const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= min && parsed <= max)) throw new ConfigError(name, `must be an integer from ${min} to ${max}`);
  return parsed;
}

function flag(read: (name: string) => string | undefined, name: string, fallback: boolean): boolean {
  const value = read(name);
  if (value === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(value.toLowerCase())) return false;
  throw new ConfigError(name, 'must be true or false');
}

function duration(read: (name: string) => string | undefined, name: string, fallbackSeconds: number): number {
  const value = read(name);
  if (value === undefined) return fallbackSeconds;
  const match = DURATION.exec(value);
  if (match === null) throw new ConfigError(name, `must be a duration such as 900, 15m, 12h or 7d; got ${value}`);
  const unit = (match[2] ?? 's') as keyof typeof DURATION_UNIT_SECONDS;
  const seconds = Number(match[1]) * DURATION_UNIT_SECONDS[unit];
  if (seconds <= 0) throw new ConfigError(name, 'must be longer than zero');
  return seconds;
}

function list(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function secretOrNull(value: string | undefined): Secret | null {
  return value === undefined ? null : new Secret(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !(value instanceof Secret) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
