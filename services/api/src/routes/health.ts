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

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS)),
  ]);
}

/** Liveness (the process answers), readiness (its dependencies answer), and Prometheus metrics. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/health', { schema: { tags: ['operations'], response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/ready',
    { schema: { tags: ['operations'], response: { 200: Ready, 503: Ready } } },
    async (_request, reply) => {
      const { khata } = app;
      const checks: Record<string, string> = {};
      const run = async (name: string, check: () => Promise<unknown>) => {
        try {
          await withTimeout(check());
          checks[name] = 'ok';
        } catch (error) {
          checks[name] = error instanceof Error ? error.message : String(error);
        }
      };
      await Promise.all([
        run('eventStore', () => khata.eventStore.headPosition()),
        run('readModels', () => khata.readDb.query('SELECT 1')),
        run('hotProjection', () => khata.hot.store.checkpoint()),
      ]);
      const ready = Object.values(checks).every((value) => value === 'ok');
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
    },
  );

  app.get('/metrics', { schema: { tags: ['operations'], produces: ['text/plain'] } }, async (_request, reply) => {
    const text = await app.khata.metrics.metrics();
    return reply.type(app.khata.metrics.contentType).send(text);
  });
}
