import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { Identity } from '@khata/identity';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { type Authenticator, type Principal, Unauthenticated } from './principal.ts';
import { problemType } from './problems.ts';

/** Requests per minute per caller (token, else address) on the API. */
export const API_REQUESTS_PER_MINUTE_MAX = 1_200;
/** Auth attempts (login, registration, refresh, MFA) per minute per address, and per e-mail address. */
export const AUTH_ATTEMPTS_PER_MINUTE_MAX = 20;
export const AUTH_ATTEMPTS_PER_ACCOUNT_PER_MINUTE_MAX = 10;

/** Bearer JWTs issued by the identity service (SPEC §12). */
export function identityTokens(identity: Identity): Authenticator {
  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined) return null;
    const token = /^Bearer (\S+)$/.exec(header)?.[1];
    if (token === undefined) throw new Unauthenticated('the Authorization header must be "Bearer <token>"');
    const verified = await identity.verifyAccessToken(token);
    if (!verified.ok) throw new Unauthenticated(verified.rejection.message);
    const { principal } = verified;
    const mapped: Principal = {
      userId: principal.userId,
      role: principal.role,
      accountIds: principal.accountId === null ? [] : [principal.accountId],
      sessionId: principal.sessionId,
    };
    return mapped;
  };
}

const tooMany = (request: FastifyRequest, context: { after: string; max: number; ttl: number }) => ({
  type: problemType('RATE_LIMITED'),
  title: 'Too many requests',
  status: 429,
  detail: `more than ${context.max} requests; retry after ${context.after}`,
  code: 'RATE_LIMITED',
  instance: request.url,
  requestId: request.id,
  statusCode: 429,
});

/**
 * Security headers (helmet), CORS for the configured origins only, and rate limits — counted in Redis
 * when configured so every API replica shares them, else in process.
 */
export async function registerSecurity(app: FastifyInstance): Promise<void> {
  const { config } = app.khata;
  // The API serves JSON; the one HTML page (Swagger UI) needs its inline scripts, so no CSP here.
  await app.register(helmet, { contentSecurityPolicy: false });
  await app.register(cors, {
    origin: config.corsOrigins.length === 0 ? false : [...config.corsOrigins],
    credentials: true,
  });
  const counters = limiterRedis(app);
  await app.register(rateLimit, {
    global: true,
    max: API_REQUESTS_PER_MINUTE_MAX,
    timeWindow: 60_000,
    // Rate limits protect the API; they must not take it down. While Redis cannot count, requests pass.
    skipOnError: true,
    ...(counters === null ? {} : { redis: counters, nameSpace: 'khata-rate:' }),
    keyGenerator: (request) => {
      const auth = request.headers.authorization;
      return auth === undefined ? `ip:${request.ip}` : `token:${auth.slice(-32)}`;
    },
    allowList: (request) => !request.url.startsWith('/api/'),
    errorResponseBuilder: tooMany,
    addHeaders: {
      'retry-after': true,
      'x-ratelimit-limit': true,
      'x-ratelimit-remaining': true,
      'x-ratelimit-reset': true,
    },
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode === 429) reply.type('application/problem+json');
    return payload;
  });
}

/** How long a rate-limit counter may take in Redis before the request goes on without it. */
const LIMITER_COMMAND_TIMEOUT_MS = 250;
type Redis = NonNullable<FastifyInstance['khata']['redis']>;
const limiterConnections = new WeakMap<FastifyInstance['khata'], Redis>();

/**
 * The rate limiters' own Redis connection: it fails at once while Redis is unreachable (no offline
 * queue, a short command timeout) instead of holding every request for the reconnect, as the shared
 * connection, made for the hot projection's retries, would. One per Khata, closed with it.
 */
function limiterRedis(app: FastifyInstance): Redis | null {
  const { redis } = app.khata;
  if (redis === null) return null;
  let connection = limiterConnections.get(app.khata);
  if (connection === undefined) {
    connection = redis.duplicate({
      enableOfflineQueue: false,
      commandTimeout: LIMITER_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
    });
    connection.on('error', () => {});
    limiterConnections.set(app.khata, connection);
    const owned = connection;
    app.addHook('onClose', async () => {
      owned.disconnect();
      limiterConnections.delete(app.khata);
    });
  }
  return connection;
}

/** Route options of the auth routes: a per-address limit replacing the API's (one limiter runs per request). */
export const authRouteLimit = {
  rateLimit: {
    max: AUTH_ATTEMPTS_PER_MINUTE_MAX,
    timeWindow: 60_000,
    keyGenerator: (request: FastifyRequest) => `auth-ip:${request.ip}`,
  },
};

const ACCOUNT_WINDOW_SECONDS = 60;
/** Counters kept in process when there is no Redis (bounded; the oldest windows go first). */
const LOCAL_COUNTERS_MAX = 50_000;

/**
 * The per-account limit of the auth routes (the e-mail address named in the body), as a second,
 * fixed-window counter: in Redis when configured (INCR + EXPIRE, shared by replicas), else in process.
 */
export function authAccountLimit(app: FastifyInstance): preHandlerAsyncHookHandler {
  const redis = limiterRedis(app);
  const local = new Map<string, { window: number; count: number }>();
  const countLocally = (key: string, window: number): number => {
    const entry = local.get(key) ?? { window, count: 0 };
    entry.count += 1;
    local.set(key, entry);
    if (local.size > LOCAL_COUNTERS_MAX) {
      for (const [k, v] of local) if (v.window < window) local.delete(k);
    }
    return entry.count;
  };
  return async (request, reply) => {
    const email = (request.body as { email?: unknown } | undefined)?.email;
    if (typeof email !== 'string') return;
    const window = Math.floor(Date.now() / 1000 / ACCOUNT_WINDOW_SECONDS);
    const key = `khata-rate:auth-email:${email.toLowerCase()}:${window}`;
    let count: number;
    if (redis !== null) {
      try {
        count = await redis.incr(key);
        if (count === 1) await redis.expire(key, ACCOUNT_WINDOW_SECONDS * 2);
      } catch {
        // Redis cannot count: this replica counts alone until it can (a weaker limit, never none).
        count = countLocally(key, window);
      }
    } else {
      count = countLocally(key, window);
    }
    if (count > AUTH_ATTEMPTS_PER_ACCOUNT_PER_MINUTE_MAX) {
      const retryAfter = (window + 1) * ACCOUNT_WINDOW_SECONDS - Math.floor(Date.now() / 1000);
      void reply
        .status(429)
        .header('retry-after', String(Math.max(1, retryAfter)))
        .type('application/problem+json')
        .send(
          tooMany(request, {
            after: `${retryAfter} seconds`,
            max: AUTH_ATTEMPTS_PER_ACCOUNT_PER_MINUTE_MAX,
            ttl: retryAfter * 1000,
          }),
        );
      return reply;
    }
  };
}
