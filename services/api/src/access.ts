import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Access, type Authenticator, type Principal, Unauthenticated } from './principal.ts';
import { ApiProblem, forbidden, notFound } from './problems.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Routes under /api/v1 without it are refused (fail closed). */
    access?: Access;
    /** POST routes that create or charge honour `Idempotency-Key`. */
    idempotent?: boolean;
  }
}

function accountOf(request: FastifyRequest, where: Access['account']): string | null {
  const pick = (source: unknown, key: string): string | null => {
    const value = (source as Record<string, unknown> | undefined)?.[key];
    return typeof value === 'string' ? value.toLowerCase() : null;
  };
  switch (where) {
    case 'params.id':
      return pick(request.params, 'id');
    case 'body.accountId':
      return pick(request.body, 'accountId');
    case 'query.accountId':
      return pick(request.query, 'accountId');
    default:
      return null;
  }
}

/** May this principal act on this account? Staff roles see every account; customers their own. */
export function canSeeAccount(principal: Principal, accountId: string): boolean {
  return principal.role !== 'customer' || principal.accountIds.includes(accountId.toLowerCase());
}

/**
 * Authentication on every /api/v1 request, then each route's `access` rule: the role must be listed,
 * and a customer may only touch its own accounts — anyone else's answers 404, as if it did not exist.
 */
export function registerAccess(app: FastifyInstance, authenticate: Authenticator): void {
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api/v1')) return;
    // Browsers cannot set headers on a WebSocket: the live stream also takes the token as a parameter.
    if (request.headers.authorization === undefined && request.url.startsWith('/api/v1/stream?')) {
      const token = new URL(request.url, 'http://localhost').searchParams.get('access_token');
      if (token !== null) request.headers.authorization = `Bearer ${token}`;
    }
    // Public routes (login, registration) do not look at credentials at all.
    if (request.routeOptions.config.access?.public === true) return;
    try {
      request.principal = await authenticate(request);
    } catch (error) {
      if (error instanceof Unauthenticated)
        throw new ApiProblem(401, 'UNAUTHENTICATED', 'Unauthenticated', error.message);
      throw error;
    }
  });
  // Before validation, so a caller who may not use a route learns nothing about what it accepts.
  app.addHook('preValidation', async (request) => {
    if (!request.url.startsWith('/api/v1') || request.is404) return;
    const access = request.routeOptions.config.access;
    if (access === undefined) throw forbidden();
    if (access.public === true) return;
    const principal = request.principal;
    if (principal === null)
      throw new ApiProblem(401, 'UNAUTHENTICATED', 'Unauthenticated', 'a bearer token is required');
    if (!access.roles.includes(principal.role)) throw forbidden();
    const accountId = accountOf(request, access.account ?? 'none');
    if (accountId !== null && !canSeeAccount(principal, accountId)) throw notFound('account');
  });
}

export function requirePrincipal(request: FastifyRequest): Principal {
  if (request.principal === null)
    throw new ApiProblem(401, 'UNAUTHENTICATED', 'Unauthenticated', 'a bearer token is required');
  return request.principal;
}
