/**
 * Problem bodies through fastify's response serializer, compiled from the shared `Problem` schema as every
 * route's error responses are: each kind of detail value comes out as given, and nothing the schema does
 * not name gets through.
 */
import { Problem } from '@khata/schemas/api';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';

describe('the Problem response schema', () => {
  it('writes details of every allowed kind (string, number, boolean, null) unchanged', async () => {
    const app = Fastify();
    app.addSchema(Problem);
    const body = {
      type: 'https://khata.dev/problems/weak-password',
      title: 'Weak password',
      status: 422,
      detail: 'the password is too easy to guess',
      code: 'WEAK_PASSWORD',
      details: { hint: 'Add another word or two.', lengthMin: 12, limitRupees: 2.5, retryable: false, reason: null },
      errors: [{ pointer: '/password', message: 'too easy to guess' }],
      requestId: 'req-1',
    };
    app.get('/problem', { schema: { response: { 422: { $ref: 'Problem#' } } } }, async (_request, reply) =>
      reply.code(422).send({ ...body, internal: 'not in the schema' }),
    );
    try {
      const response = await app.inject({ method: 'GET', url: '/problem' });
      expect(response.statusCode).toBe(422);
      expect(response.json()).toEqual(body);
    } finally {
      await app.close();
    }
  });
});
