/**
 * The HTTP side of a worker-only process (`khata start --worker-only`): what an orchestrator probes and
 * Prometheus scrapes, over a real listening socket.
 */
import { resolve } from 'node:path';
import { loadConfig } from '@khata/config';
import { interruptible } from '@khata/event-store/testing';
import { type Khata, LogFollowers, openKhata } from '@khata/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHealthApp, startHealthServer } from './health-server.ts';
import type { RunningServer } from './server.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const WAIT_MILLISECONDS = 20_000;

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MILLISECONDS;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let khata: Khata;
let server: RunningServer;

beforeAll(async () => {
  const config = loadConfig(
    { KHATA_DATA_DIR: 'memory://', JWT_KEYS_DIR: 'memory://', NODE_ENV: 'test' },
    { cwd: ROOT },
  );
  khata = await openKhata(config, {
    roles: { api: false, worker: true },
    migrate: true,
    passwordCost: { logN: 10, blockSize: 8, parallelization: 1 },
  });
  await khata.start();
  server = await startHealthServer({ khata, host: '127.0.0.1', port: 0 });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await khata?.close();
});

describe('health server of a worker-only process', () => {
  it('answers /health and /ready, listing its log followers', async () => {
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { eventStore: 'ok', readModels: 'ok', hotProjection: 'ok', 'follower:tariffs': 'ok' },
    });
  });

  it('serves the projection lag and the log followers to Prometheus', async () => {
    let text = '';
    await until(async () => {
      text = await (await fetch(`${server.url}/metrics`)).text();
      return /khata_projection_lag_events\{projection="balances",shard="\d+"} \d+/.test(text);
    }, 'the first lag measurement');
    expect(text).toContain('khata_log_follower_failing_seconds{follower="tariffs"} 0');
    expect(text).toContain('khata_log_follower_restarts_total{follower="tariffs"} 0');
    expect(text).toContain('khata_process_');
  });

  it('serves nothing else: no API, no API docs', async () => {
    for (const path of ['/api/v1/accounts', '/api-docs', '/api/v1/stream', '/freeswitch/cdr']) {
      expect((await fetch(`${server.url}${path}`)).status).toBe(404);
    }
    expect((await fetch(`${server.url}/health`, { method: 'POST' })).status).toBe(404);
  });

  it('reports a log follower failing for longer than the bound as not ready, and ready again once it follows', async () => {
    const outage = interruptible(khata.eventStore);
    let now = 1_000_000;
    const followers = new LogFollowers({ now: () => now });
    const app = await buildHealthApp({ khata: { ...khata, followers } });
    const abort = new AbortController();
    const follower = followers.follow({
      name: 'probe',
      store: outage.store,
      after: await khata.eventStore.headPosition(),
      signal: abort.signal,
      retryDelayMilliseconds: { min: 5, max: 20 },
      handle: () => {},
    });
    try {
      outage.fail();
      await until(() => follower.status.state === 'retrying', 'the failure');
      now += 10_000;
      // A blip shorter than the bound is not an outage.
      expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);

      now += 25_000;
      const failing = await app.inject({ method: 'GET', url: '/ready' });
      expect(failing.statusCode).toBe(503);
      expect(failing.json().status).toBe('unavailable');
      expect(failing.json().checks['follower:probe']).toMatch(/^failing for 35 s \(\d+ attempts\): .*test outage/);
      expect(failing.json().checks.eventStore).toBe('ok');

      outage.recover();
      await until(() => follower.status.restarts === 1, 'the restart');
      // Resumed, then quiet for the stable period: recovered although no event has come.
      now += 60_000;
      const recovered = await app.inject({ method: 'GET', url: '/ready' });
      expect(recovered.statusCode).toBe(200);
      expect(recovered.json().checks['follower:probe']).toBe('ok');
    } finally {
      abort.abort();
      await follower.done;
      await app.close();
    }
  });
});
