/**
 * The ESL connector as a process of its own (production: one per FreeSWITCH node, SPEC §2), configured like
 * every Khata process (.env.example: FREESWITCH_ESL_HOST, FREESWITCH_ESL_PORT, FREESWITCH_ESL_PASSWORD). It
 * serves `/metrics`, `/health` and `/ready` (the same readiness as the API's, including the top-up follower)
 * on PORT for Prometheus and the orchestrator. `khata start` runs the same
 * connector inside the all-in-one process instead.
 *
 *   node services/esl/src/main.ts
 */
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { loadConfig } from '@khata/config';
import { openKhata, readiness } from '@khata/runtime';
import { EslConnector } from './connector.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');

function log(level: 'info' | 'warn' | 'error') {
  return (text: string, fields: Record<string, unknown> = {}): void => {
    process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: text, ...fields })}\n`);
  };
}

async function main(): Promise<number> {
  const config = loadConfig(process.env, { cwd: REPO_ROOT });
  if (config.freeswitch.nodes.length === 0) {
    process.stderr.write('FREESWITCH_ESL_HOST is not set: there is no FreeSWITCH to connect to\n');
    return 2;
  }
  const logger = { info: log('info'), warn: log('warn'), error: log('error') };
  // Authorization reads the hot projection. With Redis the workers keep it current; embedded, this process
  // keeps its own, which `roles.api` turns on (it serves no API here).
  const khata = await openKhata(config, { roles: { api: config.redis.url === null, worker: false }, log: logger });
  await khata.start();
  const connector = new EslConnector({
    khata,
    nodes: config.freeswitch.nodes,
    deniedHangupCause: config.freeswitch.deniedHangupCause,
    lowBalanceWarning: config.freeswitch.lowBalanceWarning,
    commandConnections: config.freeswitch.commandConnections,
    log: logger,
  });
  await connector.start();
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      void khata.metrics.metrics().then((text) => {
        response.writeHead(200, { 'content-type': khata.metrics.contentType }).end(text);
      });
    } else if (request.url === '/health') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (request.url === '/ready') {
      void readiness(khata).then(({ ready, checks }) => {
        response
          .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: ready ? 'ready' : 'unavailable', checks }));
      });
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((ready) => server.listen(config.http.port, config.http.host, ready));
  logger.info('ESL connector started', {
    nodes: connector.nodes.map((node) => node.name),
    metrics: `http://${config.http.host}:${config.http.port}/metrics`,
  });
  await new Promise<void>((stop) => {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info('ESL connector stopping');
  server.close();
  await connector.close();
  await khata.close();
  return 0;
}

process.exitCode = await main();
