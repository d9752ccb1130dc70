import type { Khata } from '@khata/runtime';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { healthRoutes } from './routes/health.ts';
import type { RunningServer } from './server.ts';

/** An orchestrator's probe or a Prometheus scrape: answered well within this, or the connection is dropped. */
const HEALTH_REQUEST_TIMEOUT_MILLISECONDS = 10_000;

export interface HealthAppDeps {
  readonly khata: Khata;
  /** A pino logger, or false/absent for none. */
  readonly logger?: false | FastifyBaseLogger;
  /** Close Khata when the app closes (true for `khata start --worker-only`). */
  readonly ownsKhata?: boolean;
}

/**
 * The HTTP side of a process that serves no API (`khata start --worker-only`): `/health`, `/ready` and
 * `/metrics` exactly as the API serves them, and nothing else, so orchestrators can probe workers and
 * Prometheus can scrape their projection lag and log followers.
 */
export async function buildHealthApp(deps: HealthAppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger === undefined || deps.logger === false ? { logger: false } : { loggerInstance: deps.logger }),
    requestTimeout: HEALTH_REQUEST_TIMEOUT_MILLISECONDS,
    connectionTimeout: HEALTH_REQUEST_TIMEOUT_MILLISECONDS,
    return503OnClosing: true,
    // Probes and scrapes arrive every few seconds; logging each would drown the worker's own log.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.decorate('khata', deps.khata);
  if (deps.ownsKhata === true) app.addHook('onClose', async () => deps.khata.close());
  await app.register(healthRoutes);
  return app as unknown as FastifyInstance;
}

/** Listens on `host`:`port`; `close()` stops listening (and closes Khata when it owns it). */
export async function startHealthServer(
  deps: HealthAppDeps & { readonly host: string; readonly port: number },
): Promise<RunningServer> {
  const app = await buildHealthApp(deps);
  const address = await app.listen({ host: deps.host, port: deps.port });
  let closing: Promise<void> | null = null;
  return {
    url: address,
    close: () => {
      closing ??= app.close();
      return closing;
    },
  };
}
