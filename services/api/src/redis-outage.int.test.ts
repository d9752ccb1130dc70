import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describeWithService, redis } from '@khata/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type TestApi, testApi } from './testing.ts';

/**
 * A TCP relay in front of the test Redis, so that this test can take "Redis" away from one API without
 * touching the server other test files share.
 */
async function relayTo(target: URL): Promise<{ url: string; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${address.port}`,
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

describeWithService(redis(), 'the API after Redis is lost', (redisUrl) => {
  let api: TestApi;
  beforeAll(async () => {
    const relay = await relayTo(new URL(redisUrl));
    api = await testApi({ env: { REDIS_URL: relay.url } });
    await relay.cut();
  }, 120_000);
  afterAll(async () => {
    if (api === undefined) return;
    // Its Redis is behind the cut relay: the keys it wrote before the cut are deleted here, on the real server.
    await api.close({ redisReachable: false });
    const direct = new Redis(redisUrl);
    try {
      const keys = await direct.keys(`{khata}:${api.redisKeyPrefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      await direct.del(...keys);
    } finally {
      direct.disconnect();
    }
  });

  it('keeps answering requests without the rate-limit counters, promptly', async () => {
    for (let i = 0; i < 3; i += 1) {
      const started = performance.now();
      const response = await api.app.inject({
        method: 'GET',
        url: '/api/v1/tariffs',
        headers: { authorization: `Bearer ${api.token('admin')}` },
      });
      expect(response.statusCode).toBe(200);
      // The limiter's connection fails at once instead of waiting for Redis to come back.
      expect(performance.now() - started).toBeLessThan(1_500);
    }
  });

  it('still refuses a wrong password on the auth routes instead of failing with 500', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'nobody@outage.example', password: 'not the password at all' },
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toContain('application/problem+json');
  });

  it('reports Redis as unavailable on /ready', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/ready' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      status: 'unavailable',
      checks: { hotProjection: expect.not.stringMatching(/^ok$/) },
    });
  });
});
