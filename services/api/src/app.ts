import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import { InvalidAppend } from '@khata/event-store';
import { InvalidCommand } from '@khata/ledger';
import { isStoreUnavailable, type Khata } from '@khata/runtime';
import { Problem } from '@khata/schemas/api';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { registerAccess } from './access.ts';
import { registerIdempotency } from './idempotency.ts';
import type { Authenticator, Principal } from './principal.ts';
import { ApiProblem, type ProblemBody, problemType, titleOf } from './problems.ts';
import { accountRoutes } from './routes/accounts.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { callRoutes } from './routes/calls.ts';
import { cdrBatchRoutes } from './routes/cdr-batch.ts';
import { freeswitchRoutes } from './routes/freeswitch.ts';
import { healthRoutes } from './routes/health.ts';
import { readRoutes } from './routes/reads.ts';
import { streamRoutes } from './routes/stream.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { tariffRoutes } from './routes/tariffs.ts';
import { identityTokens, registerSecurity } from './security.ts';
import { apiTokens } from './tokens.ts';

export interface ApiDeps {
  readonly khata: Khata;
  /** How callers are identified; by default API tokens, then the identity service's JWTs. */
  readonly authenticate?: Authenticator;
  /** A pino logger, pino options, or false for none (tests). */
  readonly logger?: boolean | { readonly level: string } | FastifyBaseLogger;
  /** Close Khata when the app closes (true for `khata start`; tests own their Khata). */
  readonly ownsKhata?: boolean;
}

/** Bytes of a request body; CDR and command bodies are a few kilobytes. */
export const BODY_BYTES_MAX = 256 * 1024;
/** A request taking longer than this is answered 503 by the server (SPEC §15: fail fast). */
export const REQUEST_TIMEOUT_MS = 30_000;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** A route as registered: what the schema and access tests walk through. */
export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  readonly access: import('./principal.ts').Access | undefined;
  readonly schema: unknown;
  readonly websocket: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    khata: Khata;
    routeTable: readonly RouteEntry[];
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export type Api = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * Builds the HTTP API (SPEC §13): routes under /api/v1 with JSON Schemas from `schemas/`, problem+json
 * errors, per-route roles, idempotency keys, OpenAPI at /api-docs, live updates over WebSocket. It does
 * not listen: `server.ts` does, and tests use `app.inject()`.
 */
export async function buildApp(deps: ApiDeps): Promise<Api> {
  const app = Fastify({
    ...loggerOptions(deps.logger),
    bodyLimit: BODY_BYTES_MAX,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: REQUEST_TIMEOUT_MS,
    return503OnClosing: true,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('khata', deps.khata);
  app.decorateRequest('principal', null);
  if (deps.ownsKhata === true) app.addHook('onClose', async () => deps.khata.close());
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addSchema(Problem);
  const routes: RouteEntry[] = [];
  app.decorate('routeTable', routes);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({
        method,
        url: route.url,
        access: route.config?.access,
        schema: route.schema,
        websocket: route.websocket === true,
      });
    }
  });
  registerAccess(app, deps.authenticate ?? apiTokens(deps.khata.readDb, identityTokens(deps.khata.identity)));
  registerIdempotency(app);
  await registerSecurity(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Khata API',
        version: '1.0.0',
        description:
          'Event-sourced billing ledger for Indian cloud telephony. Money is a decimal string in rupees beside a currency.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api-docs' });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error, request.url, request.id);
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    void reply.status(problem.status).type('application/problem+json').send(problem);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .type('application/problem+json')
      .send({
        type: problemType('NOT_FOUND'),
        title: 'Not found',
        status: 404,
        detail: `no route ${request.method} ${request.url.split('?')[0]}`,
        instance: request.url,
        requestId: request.id,
      });
  });

  await app.register(healthRoutes);
  await app.register(freeswitchRoutes);
  await app.register(
    async (v1) => {
      await v1.register(authRoutes);
      await v1.register(accountRoutes);
      await v1.register(readRoutes);
      await v1.register(subscriptionRoutes);
      await v1.register(callRoutes);
      await v1.register(cdrBatchRoutes);
      await v1.register(tariffRoutes);
      await v1.register(auditRoutes);
      await v1.register(streamRoutes);
    },
    { prefix: '/api/v1' },
  );
  return app as unknown as Api;
}

function loggerOptions(
  logger: ApiDeps['logger'],
): { logger: boolean | { level: string } } | { loggerInstance: FastifyBaseLogger } {
  if (logger === undefined || logger === false) return { logger: false };
  if (logger === true) return { logger: true };
  if ('child' in logger) return { loggerInstance: logger };
  return { logger: { level: logger.level } };
}

function toProblem(error: FastifyError, instance: string, requestId: string): ProblemBody {
  const base = { instance, requestId };
  if (error instanceof ApiProblem) {
    return {
      type: problemType(error.code),
      title: error.title,
      status: error.status,
      detail: error.message,
      code: error.code,
      ...error.extra,
      ...base,
    };
  }
  if (error.validation !== undefined) {
    const errors = error.validation.map((issue) => {
      const params = issue.params as Record<string, unknown>;
      const missing = typeof params.missingProperty === 'string' ? `/${params.missingProperty}` : '';
      const extra = typeof params.additionalProperty === 'string' ? `/${params.additionalProperty}` : '';
      const message =
        extra !== '' ? 'is not allowed here' : missing !== '' ? 'is required' : (issue.message ?? 'is invalid');
      return { pointer: `/${error.validationContext ?? 'body'}${issue.instancePath}${missing}${extra}`, message };
    });
    return {
      type: problemType('VALIDATION_FAILED'),
      title: 'Invalid request',
      status: 400,
      detail: 'the request does not match its schema',
      code: 'VALIDATION_FAILED',
      errors,
      ...base,
    };
  }
  if (error instanceof InvalidCommand) {
    return {
      type: problemType('VALIDATION_FAILED'),
      title: 'Invalid request',
      status: 400,
      detail: error.message,
      code: 'VALIDATION_FAILED',
      errors: error.issues.map((issue) => ({ pointer: issue.path || '/', message: issue.message })),
      ...base,
    };
  }
  if (error instanceof InvalidAppend) {
    return {
      type: problemType(error.code),
      title: titleOf(error.code),
      status: 422,
      detail: error.message,
      code: error.code,
      ...base,
    };
  }
  if (isStoreUnavailable(error)) {
    return {
      type: problemType('SERVICE_UNAVAILABLE'),
      title: 'Service unavailable',
      status: 503,
      detail: 'a backing store is unreachable; nothing was written',
      code: 'SERVICE_UNAVAILABLE',
      ...base,
    };
  }
  const status =
    typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  if (status === 429) {
    return {
      type: problemType('RATE_LIMITED'),
      title: 'Too many requests',
      status,
      detail: error.message,
      code: 'RATE_LIMITED',
      ...base,
    };
  }
  if (status === 413)
    return {
      type: problemType('PAYLOAD_TOO_LARGE'),
      title: 'Payload too large',
      status,
      detail: `the body exceeds ${BODY_BYTES_MAX} bytes`,
      code: 'PAYLOAD_TOO_LARGE',
      ...base,
    };
  if (status === 415)
    return {
      type: problemType('UNSUPPORTED_MEDIA_TYPE'),
      title: 'Unsupported media type',
      status,
      detail: error.message,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      ...base,
    };
  if (status < 500) {
    const code = status === 400 ? 'BAD_REQUEST' : `HTTP_${status}`;
    return { type: problemType(code), title: titleOf(code), status, detail: error.message, code, ...base };
  }
  // Never a stack trace or an internal message to the caller; the log has them.
  return {
    type: problemType('INTERNAL'),
    title: 'Internal error',
    status: 500,
    detail: 'an unexpected error occurred; it has been logged',
    code: 'INTERNAL',
    ...base,
  };
}
