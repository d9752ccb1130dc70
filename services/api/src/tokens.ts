import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { SqlClient } from '@khata/sql';
import type { Authenticator, Principal, Role } from './principal.ts';
import { Unauthenticated } from './principal.ts';

/**
 * API tokens: long random bearer tokens for machines (the FreeSWITCH connector, the CDR webhook) and for
 * the first administrator. Only their SHA-256 is stored; the token is shown once, when created.
 */
const TOKEN_PREFIX = 'khata_';
const TOKEN_BYTES = 32;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createApiToken(
  db: SqlClient,
  role: Exclude<Role, 'customer'>,
  label: string,
): Promise<{ tokenId: string; token: string }> {
  const token = `${TOKEN_PREFIX}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
  const tokenId = randomUUID();
  await db.query('INSERT INTO api.tokens (token_id, token_hash, role, label) VALUES ($1, $2, $3, $4)', [
    tokenId,
    hashToken(token),
    role,
    label,
  ]);
  return { tokenId, token };
}

export async function hasAdminToken(db: SqlClient): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM api.tokens WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1");
  return rows.length > 0;
}

/** Authenticates `Bearer khata_…` tokens; passes any other bearer token to `next` (e.g. user JWTs). */
export function apiTokens(db: SqlClient, next: Authenticator | null = null): Authenticator {
  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined) return null;
    const match = /^Bearer (\S+)$/.exec(header);
    const token = match?.[1];
    if (token === undefined) throw new Unauthenticated('the Authorization header must be "Bearer <token>"');
    if (!token.startsWith(TOKEN_PREFIX)) {
      if (next !== null) return next(request);
      throw new Unauthenticated('unknown token');
    }
    const [row] = await db.query<{ token_id: string; role: Role }>(
      'SELECT token_id, role FROM api.tokens WHERE token_hash = $1 AND revoked_at IS NULL',
      [hashToken(token)],
      { name: 'khata_api_token' },
    );
    if (row === undefined) throw new Unauthenticated('unknown or revoked token');
    const principal: Principal = { userId: `token:${row.token_id}`, role: row.role, accountIds: [], sessionId: null };
    return principal;
  };
}
