import { flushCompileCache } from 'node:module';
import { parseArgs } from 'node:util';
import { type RunningServer, startHealthServer, startServer } from '@khata/api';
import { EslConnector } from '@khata/esl-service';
import { lowerPriority, openKhata, type PriorityChange } from '@khata/runtime';
import { pino } from 'pino';
import { type CliCommand, EXIT_OK, UsageError } from '../command.ts';
import { firstAdmin } from '../first-admin.ts';

export const startCommand: CliCommand = {
  name: 'start',
  summary: 'start Khata (embedded defaults: no external service needed)',
  usage: `usage: khata start [--api-only | --worker-only] [--port N] [--host H]

Runs the API and the worker (projections, hot projection, scheduler, process managers) in one process.
With no configuration everything is embedded: events and read models in PGlite (./.khata/data), the
hot projection in process. It migrates, loads the catalog, creates the first administrator when there
is none (printing the credentials once) and prints the URLs of the API, its documentation and metrics.

--api-only     serve the API only (production: shared PostgreSQL/Redis/EventStoreDB, workers elsewhere)
--worker-only  run the background work only, with /health, /ready and /metrics (nothing else) on the port;
               without FreeSWITCH it lowers its CPU priority to WORKER_NICE (default 10, 0 to keep it)
--port, --host override PORT and HOST`,
  async run(args, context) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        'api-only': { type: 'boolean' },
        'worker-only': { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
      },
    });
    if (values['api-only'] === true && values['worker-only'] === true)
      throw new UsageError('choose one of --api-only and --worker-only');
    const config = context.config();
    const roles = { api: values['worker-only'] !== true, worker: values['api-only'] !== true };
    const port = values.port === undefined ? config.http.port : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError('--port must be a port number');
    const host = values.host ?? config.http.host;
    // Logs go to stderr as JSON lines; stdout carries the summary a person reads.
    const logger = pino({ level: config.logLevel }, pino.destination(2));
    const log = {
      info: (message: string, fields?: Record<string, unknown>) => logger.info(fields ?? {}, message),
      warn: (message: string, fields?: Record<string, unknown>) => logger.warn(fields ?? {}, message),
      error: (message: string, fields?: Record<string, unknown>) => logger.error(fields ?? {}, message),
    };
    // A process with only the background work yields the cores to those deciding calls and serving requests.
    let priority: PriorityChange | null = null;
    if (!roles.api && config.freeswitch.nodes.length === 0 && config.worker.nice > 0) {
      priority = lowerPriority(config.worker.nice);
      if (priority.error !== undefined) {
        log.warn('could not lower the CPU priority of the worker', { nice: config.worker.nice, error: priority.error });
      }
    }
    const khata = await openKhata(config, { roles, migrate: true, log });
    let server: RunningServer | null = null;
    let connector: EslConnector | null = null;
    try {
      await khata.start();
      // One connector per FreeSWITCH node: only the process that runs the worker role connects, never API replicas.
      if (roles.worker && config.freeswitch.nodes.length > 0) {
        connector = new EslConnector({
          khata,
          nodes: config.freeswitch.nodes,
          deniedHangupCause: config.freeswitch.deniedHangupCause,
          lowBalanceWarning: config.freeswitch.lowBalanceWarning,
          commandConnections: config.freeswitch.commandConnections,
          log,
        });
        await connector.start();
      }
      const announcement = await firstAdmin(khata);
      // A worker serves no API, but orchestrators probe it and Prometheus scrapes its projection lag.
      server = roles.api
        ? await startServer({ khata, host, port, logger, ownsKhata: true })
        : await startHealthServer({ khata, host, port, logger, ownsKhata: true });
      const base = server.url;
      context.stdout(
        `khata started (${[roles.api ? 'api' : '', roles.worker ? 'worker' : ''].filter(Boolean).join(' + ')})`,
      );
      context.stdout(
        `  event store   ${khata.eventStore.kind}${khata.eventStore.kind === 'pglite' ? ` (${config.dataDir})` : ''}`,
      );
      context.stdout(`  hot projection ${khata.hot.store.kind}`);
      if (priority !== null) context.stdout(`  CPU priority  nice ${priority.to} (WORKER_NICE)`);
      if (connector !== null)
        context.stdout(`  FreeSWITCH    ${connector.nodes.map((node) => node.name).join(', ')} (ESL)`);
      if (roles.api) {
        context.stdout(`  API           ${base}/api/v1`);
        context.stdout(`  API docs      ${base}/api-docs`);
      }
      context.stdout(`  metrics       ${base}/metrics`);
      context.stdout(`  health        ${base}/health  ${base}/ready`);
      for (const line of announcement) context.stdout(line);
      // Everything a running Khata loads is loaded now: write Node's compile cache (when it is on) so that
      // the next start finds it even if this process is killed rather than stopped.
      flushCompileCache();
      context.stdout('press Ctrl-C to stop');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      context.stdout('khata stopping: finishing requests in flight');
    } finally {
      await connector?.close();
      if (server !== null) await server.close();
      else await khata.close();
    }
    return EXIT_OK;
  },
};
