import type { FastifyRequest } from 'fastify';

export type Role = 'customer' | 'admin' | 'auditor' | 'finance' | 'system';

/** Who is calling (SPEC §12 RBAC). Customers act on their own accounts only. */
export interface Principal {
  readonly userId: string;
  readonly role: Role;
  /** Customers: the accounts they own. Other roles: empty (they see all accounts). */
  readonly accountIds: readonly string[];
  readonly sessionId: string | null;
}

/**
 * Resolves the caller from a request (a bearer token). Returns null when the request carries no
 * credentials; throws `Unauthenticated` when it carries bad ones.
 */
export type Authenticator = (request: FastifyRequest) => Promise<Principal | null>;

export class Unauthenticated extends Error {
  override readonly name = 'Unauthenticated';
}

/**
 * A fixed table of bearer tokens → principals, for tests and for running without the identity service.
 * Tokens are compared exactly; anything else is refused.
 */
export function staticTokens(tokens: ReadonlyMap<string, Principal>): Authenticator {
  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined) return null;
    const match = /^Bearer (\S+)$/.exec(header);
    const principal = match === null ? undefined : tokens.get(match[1] as string);
    if (principal === undefined) throw new Unauthenticated('unknown or malformed bearer token');
    return principal;
  };
}

/** Per-route access rules (declared in each route's `config.access`). */
export interface Access {
  /** Roles allowed; a customer is further limited to its own accounts. */
  readonly roles: readonly Role[];
  /** No credentials needed (login, registration, token refresh). */
  readonly public?: boolean;
  /** Where the route names the account it touches (checked against a customer's accounts). */
  readonly account?: 'params.id' | 'body.accountId' | 'query.accountId' | 'none';
}

export const ROLES: readonly Role[] = ['customer', 'admin', 'auditor', 'finance', 'system'];
/** Reads every role may make (customers on their own accounts). */
export const READERS: readonly Role[] = ['customer', 'admin', 'auditor', 'finance'];
