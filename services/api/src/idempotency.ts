import { createHash } from 'node:crypto';
import { IDEMPOTENCY_KEY_RETENTION_HOURS } from '@khata/runtime';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { v5 as uuidV5 } from 'uuid';
import { canonicalizeBody } from './json.ts';
import { ApiProblem } from './problems.ts';

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header) on POSTs that create or charge: the
 * same key with the same body replays the stored response; with another body it is 422; while the first
 * is still running it is 409. Keys are scoped to the caller and kept IDEMPOTENCY_KEY_RETENTION_HOURS (24);
 * the worker's retention deletes them after that. The command run under a key gets a command id derived
 * from it, so even a lost stored response cannot charge twice.
 */
export const IDEMPOTENCY_KEY_LENGTH_MAX = 255;
const NAMESPACE = '8c3e1f0a-2b4d-5e6f-8a7b-9c0d1e2f3a4b';

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: { principal: string; key: string; fresh: boolean } | null;
  }
}

function keyOf(request: FastifyRequest): string | null {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return null;
  const value = Array.isArray(raw) ? raw[0] : raw;
  // A structured-field string may arrive quoted.
  const key = value?.replace(/^"(.*)"$/, '$1') ?? '';
  if (key.length === 0 || key.length > IDEMPOTENCY_KEY_LENGTH_MAX || !/^[\x21-\x7e]+$/.test(key)) {
    throw new ApiProblem(
      400,
      'INVALID_IDEMPOTENCY_KEY',
      'Invalid Idempotency-Key',
      `1 to ${IDEMPOTENCY_KEY_LENGTH_MAX} visible ASCII characters`,
    );
  }
  return key;
}

/** The command id of a request: derived from its idempotency key when it has one, else random. */
export function commandIdFor(request: FastifyRequest, fallback: () => string): string {
  const idempotency = request.idempotency;
  if (idempotency === null) return fallback();
  return uuidV5(`${idempotency.principal}\n${request.routeOptions.url}\n${idempotency.key}`, NAMESPACE);
}

export function registerIdempotency(app: FastifyInstance): void {
  app.decorateRequest('idempotency', null);
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST' || request.routeOptions.config.idempotent !== true) return;
    const key = keyOf(request);
    if (key === null || request.principal === null) return;
    const db = app.khata.readDb;
    const principal = request.principal.userId;
    const route = `${request.method} ${request.routeOptions.url}`;
    const bodyHash = createHash('sha256')
      .update(`${request.url}\n${canonicalizeBody(request.body)}`)
      .digest('hex');
    await db.query(
      'DELETE FROM api.idempotency_keys WHERE principal = $1 AND key = $2 AND created_at < now() - make_interval(hours => $3)',
      [principal, key, IDEMPOTENCY_KEY_RETENTION_HOURS],
    );
    const inserted = await db.query(
      `INSERT INTO api.idempotency_keys (principal, key, route, body_hash, state) VALUES ($1, $2, $3, $4, 'in_progress')
       ON CONFLICT (principal, key) DO NOTHING RETURNING key`,
      [principal, key, route, bodyHash],
    );
    if (inserted.length === 1) {
      request.idempotency = { principal, key, fresh: true };
      return;
    }
    const [stored] = await db.query<{
      route: string;
      body_hash: string;
      state: string;
      response_status: number | null;
      response_body: unknown;
    }>(
      'SELECT route, body_hash, state, response_status, response_body FROM api.idempotency_keys WHERE principal = $1 AND key = $2',
      [principal, key],
    );
    if (stored === undefined) return;
    if (stored.route !== route || stored.body_hash !== bodyHash) {
      throw new ApiProblem(
        422,
        'IDEMPOTENCY_KEY_REUSED',
        'Idempotency key reused',
        'this key was used with a different request',
      );
    }
    if (stored.state === 'in_progress') {
      throw new ApiProblem(
        409,
        'IDEMPOTENCY_KEY_IN_USE',
        'Request in progress',
        'a request with this key is still being processed',
      );
    }
    request.idempotency = { principal, key, fresh: false };
    void reply
      .status(stored.response_status ?? 200)
      .header('idempotent-replayed', 'true')
      .type(
        stored.response_status !== null && stored.response_status >= 400
          ? 'application/problem+json'
          : 'application/json',
      )
      .send(stored.response_body);
    return reply;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const idempotency = request.idempotency;
    if (idempotency === null || idempotency === undefined || !idempotency.fresh) return payload;
    const db = app.khata.readDb;
    if (reply.statusCode >= 500) {
      // A failure that may not repeat: let the client retry with the same key.
      await db.query('DELETE FROM api.idempotency_keys WHERE principal = $1 AND key = $2', [
        idempotency.principal,
        idempotency.key,
      ]);
      return payload;
    }
    const body = typeof payload === 'string' && payload.length > 0 ? payload : 'null';
    await db.query(
      `UPDATE api.idempotency_keys SET state = 'done', response_status = $3, response_body = $4::jsonb WHERE principal = $1 AND key = $2`,
      [idempotency.principal, idempotency.key, reply.statusCode, body],
    );
    return payload;
  });
}
