import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, Secret } from './config.ts';

const load = (env: Record<string, string>) => loadConfig(env, { cwd: '/srv/khata' });

describe('configuration', () => {
  it('runs on embedded defaults with no variables at all', () => {
    const config = load({});
    expect(config.eventStore.kind).toBe('pglite');
    expect(config.database.url).toBeNull();
    expect(config.redis.url).toBeNull();
    expect(config.dataDir).toBe('/srv/khata/.khata/data');
    expect(config.http).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(config.jwt.accessExpirySeconds).toBe(900);
    expect(config.jwt.refreshExpirySeconds).toBe(604_800);
    expect(config.hotProjection.unavailablePolicy).toBe('fail-closed');
    expect(config.worker.nice).toBe(10);
    expect(load({ WORKER_NICE: '0' }).worker.nice).toBe(0);
    expect(config.worker.batchIntervalMs).toBe(100);
    expect(load({ WORKER_BATCH_INTERVAL_MS: '0' }).worker.batchIntervalMs).toBe(0);
  });

  it('takes the supplier state from its GSTIN and points at the shipped catalog and tariff', () => {
    const config = load({ SUPPLIER_GSTIN: '27aapfu0939f1zv' });
    expect(config.supplier).toMatchObject({ gstin: '27AAPFU0939F1ZV', stateCode: '27', sac: '998412' });
    expect(config.billing.catalogDir).toBe('/srv/khata/schemas/catalog');
    expect(config.billing.destinationTariffFile).toBe('/srv/khata/schemas/tariffs/intl-2026.json');
    expect(load({ DESTINATION_TARIFF: 'none' }).billing.destinationTariffFile).toBeNull();
    expect(load({}).billing).toMatchObject({ callSecondsMax: 7200, reservationGraceSeconds: 900 });
  });

  it('is frozen all the way down', () => {
    const config = load({ CORS_ORIGINS: 'https://a.example' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.http)).toBe(true);
    expect(Object.isFrozen(config.corsOrigins)).toBe(true);
    expect(() => {
      (config.http as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('composes DATABASE_URL from DB_HOST and friends, escaping the password', () => {
    const config = load({ DB_HOST: 'db', DB_PORT: '6543', DB_NAME: 'ledger', DB_USER: 'khata', DB_PASSWORD: 'p@ss/w' });
    expect(config.database.url?.reveal()).toBe('postgres://khata:p%40ss%2Fw@db:6543/ledger');
    const direct = load({ DATABASE_URL: 'postgres://x@h/d', DB_HOST: 'ignored' });
    expect(direct.database.url?.reveal()).toBe('postgres://x@h/d');
  });

  it('composes REDIS_URL from REDIS_HOST and REDIS_PORT', () => {
    expect(load({ REDIS_HOST: 'cache', REDIS_PORT: '6380' }).redis.url?.reveal()).toBe('redis://cache:6380');
  });

  it('reads a list of FreeSWITCH nodes sharing one port and password', () => {
    const config = load({ FREESWITCH_ESL_HOST: 'fs1, fs2', FREESWITCH_ESL_PASSWORD: 'ClueCon' });
    expect(config.freeswitch.nodes.map((n) => [n.host, n.port, n.password.reveal()])).toEqual([
      ['fs1', 8021, 'ClueCon'],
      ['fs2', 8021, 'ClueCon'],
    ]);
  });

  it('reads how refused calls end and the optional low-balance warning', () => {
    expect(load({}).freeswitch).toMatchObject({
      deniedHangupCause: 'OUTGOING_CALL_BARRED',
      lowBalanceWarning: null,
      commandConnections: 4,
    });
    const config = load({
      FREESWITCH_DENIED_HANGUP_CAUSE: 'CALL_REJECTED',
      FREESWITCH_LOW_BALANCE_SOUND: '/usr/share/freeswitch/sounds/khata/low_balance.wav',
      FREESWITCH_LOW_BALANCE_SECONDS: '45',
      FREESWITCH_COMMAND_CONNECTIONS: '8',
    });
    expect(config.freeswitch).toMatchObject({
      deniedHangupCause: 'CALL_REJECTED',
      lowBalanceWarning: { soundPath: '/usr/share/freeswitch/sounds/khata/low_balance.wav', secondsBeforeEnd: 45 },
      commandConnections: 8,
    });
  });

  it('parses durations with units', () => {
    const config = load({ JWT_ACCESS_EXPIRY: '10m', JWT_REFRESH_EXPIRY: '30d' });
    expect(config.jwt.accessExpirySeconds).toBe(600);
    expect(config.jwt.refreshExpirySeconds).toBe(2_592_000);
  });

  it('reads the identity key directory, key rotation and lockout thresholds', () => {
    const defaults = load({});
    expect(defaults.jwt.keysDir).toBe('/srv/khata/.khata/keys');
    expect(defaults.jwt.keyRotationSeconds).toBe(2_592_000);
    expect(defaults.lockout).toEqual({ failuresMax: 5, windowSeconds: 900, durationSeconds: 900 });
    const custom = load({
      JWT_KEYS_DIR: '/run/secrets/khata-keys',
      JWT_KEY_ROTATION: 'never',
      LOCKOUT_FAILURES_MAX: '10',
      LOCKOUT_WINDOW: '1h',
      LOCKOUT_DURATION: '30m',
    });
    expect(custom.jwt.keysDir).toBe('/run/secrets/khata-keys');
    expect(custom.jwt.keyRotationSeconds).toBeNull();
    expect(custom.lockout).toEqual({ failuresMax: 10, windowSeconds: 3_600, durationSeconds: 1_800 });
  });

  it('keeps finished scheduler jobs 30 days unless told otherwise', () => {
    expect(load({}).retention.finishedJobSeconds).toBe(2_592_000);
    expect(load({ FINISHED_JOB_RETENTION: '90d' }).retention.finishedJobSeconds).toBe(7_776_000);
  });

  const bad: [string, Record<string, string>, string][] = [
    ['an unknown event store', { EVENT_STORE: 'mysql' }, 'EVENT_STORE'],
    ['a postgres event store without a database', { EVENT_STORE: 'postgres' }, 'DATABASE_URL'],
    ['an EventStoreDB store without its URL', { EVENT_STORE: 'eventstoredb' }, 'EVENTSTORE_URL'],
    ['a port that is not a number', { PORT: 'eighty' }, 'PORT'],
    ['a port out of range', { PORT: '70000' }, 'PORT'],
    ['a DATABASE_URL that is not PostgreSQL', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    ['a REDIS_URL that is not Redis', { REDIS_URL: 'http://x' }, 'REDIS_URL'],
    ['a weak JWT secret in production', { NODE_ENV: 'production', JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['a malformed duration', { JWT_ACCESS_EXPIRY: 'soon' }, 'JWT_ACCESS_EXPIRY'],
    ['a Razorpay key without its secret', { RAZORPAY_KEY_ID: 'rzp_test_x' }, 'RAZORPAY_KEY_SECRET'],
    ['a webhook user without a password', { CDR_WEBHOOK_USER: 'fs' }, 'CDR_WEBHOOK_PASSWORD'],
    ['a FreeSWITCH host without a password', { FREESWITCH_ESL_HOST: 'fs1' }, 'FREESWITCH_ESL_PASSWORD'],
    [
      'a hangup cause that is not a cause name',
      { FREESWITCH_DENIED_HANGUP_CAUSE: 'no thanks' },
      'FREESWITCH_DENIED_HANGUP_CAUSE',
    ],
    [
      'a hangup cause FreeSWITCH does not know (it would silently become NORMAL_CLEARING)',
      { FREESWITCH_DENIED_HANGUP_CAUSE: 'ALLOTED_TIMEOUT' },
      'FREESWITCH_DENIED_HANGUP_CAUSE',
    ],
    ['a relative warning sound', { FREESWITCH_LOW_BALANCE_SOUND: 'low.wav' }, 'FREESWITCH_LOW_BALANCE_SOUND'],
    [
      'more command connections than allowed',
      { FREESWITCH_COMMAND_CONNECTIONS: '64' },
      'FREESWITCH_COMMAND_CONNECTIONS',
    ],
    ['a CORS origin with a path', { CORS_ORIGINS: 'https://a.example/x' }, 'CORS_ORIGINS'],
    ['an unknown log level', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['a supplier GSTIN of the wrong shape', { SUPPLIER_GSTIN: '29ABC' }, 'SUPPLIER_GSTIN'],
    [
      'a supplier state that contradicts its GSTIN',
      { SUPPLIER_GSTIN: '27AAPFU0939F1ZV', SUPPLIER_STATE_CODE: '29' },
      'SUPPLIER_STATE_CODE',
    ],
    ['a call ceiling below a minute', { CALL_SECONDS_MAX: '30' }, 'CALL_SECONDS_MAX'],
    ['a worker nice value beyond 19', { WORKER_NICE: '20' }, 'WORKER_NICE'],
    ['a negative worker nice value (a higher priority)', { WORKER_NICE: '-5' }, 'WORKER_NICE'],
    ['a worker batch interval over a second', { WORKER_BATCH_INTERVAL_MS: '1001' }, 'WORKER_BATCH_INTERVAL_MS'],
    ['a lockout threshold of zero', { LOCKOUT_FAILURES_MAX: '0' }, 'LOCKOUT_FAILURES_MAX'],
    ['a lockout window that is not a duration', { LOCKOUT_WINDOW: 'a while' }, 'LOCKOUT_WINDOW'],
    ['a key rotation that is not a duration', { JWT_KEY_ROTATION: 'monthly' }, 'JWT_KEY_ROTATION'],
    ['a job retention that is not a duration', { FINISHED_JOB_RETENTION: 'a month' }, 'FINISHED_JOB_RETENTION'],
    ['a job retention shorter than a day', { FINISHED_JOB_RETENTION: '12h' }, 'FINISHED_JOB_RETENTION'],
  ];
  for (const [label, env, variable] of bad) {
    it(`stops on ${label}, naming ${variable}`, () => {
      let caught: unknown;
      try {
        load(env);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe(variable);
      expect((caught as ConfigError).message).toContain(variable);
    });
  }

  it('never prints a secret', () => {
    const config = load({ DATABASE_URL: 'postgres://u:hunter2@h/d', JWT_SECRET: 'x'.repeat(40) });
    const printed = [JSON.stringify(config), inspect(config, { depth: 10 }), String(config.jwt.secret)].join('\n');
    expect(printed).not.toContain('hunter2');
    expect(printed).not.toContain('x'.repeat(40));
    expect(new Secret('s').reveal()).toBe('s');
  });
});
