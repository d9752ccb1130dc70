import { readiness } from '@khata/runtime';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';

const Health = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });
const Ready = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
    checks: Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.String()])),
  },
  { additionalProperties: false },
);

/**
 * Liveness (the process answers), readiness (its dependencies answer and its log followers are not stuck:
 * `readiness` in @khata/runtime), and Prometheus metrics. Served by the API, and alone by `--worker-only`
 * processes (`health-server.ts`).
 */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/health', { schema: { tags: ['operations'], response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/ready',
    { schema: { tags: ['operations'], response: { 200: Ready, 503: Ready } } },
    async (_request, reply) => {
      const { ready, checks } = await readiness(app.khata);
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
    },
  );

  app.get('/metrics', { schema: { tags: ['operations'], produces: ['text/plain'] } }, async (_request, reply) => {
    const text = await app.khata.metrics.metrics();
    return reply.type(app.khata.metrics.contentType).send(text);
  });
}
