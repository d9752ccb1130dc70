/**
 * The README's first command, end to end: `khata start` as a real process on a free port in a temporary
 * directory (embedded database), driven over HTTP through a customer's whole life, then restarted to show
 * the data survived.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const START_TIMEOUT_MS = 90_000;

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

interface Running {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly base: string;
}

async function start(dataDir: string, port: number): Promise<Running> {
  let stdout = '';
  let stderr = '';
  // Through the launcher, as the README runs it (it execs Node, so the child is the server itself).
  const child = spawn(join(ROOT, 'khata'), ['start', '--port', String(port)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KHATA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!stdout.includes('press Ctrl-C to stop')) {
    if (child.exitCode !== null) throw new Error(`khata start exited ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`khata start did not come up: ${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, stdout: () => stdout, base: `http://127.0.0.1:${port}` };
}

async function stop(running: Running): Promise<number | null> {
  const exited = new Promise<number | null>((done) => running.child.once('exit', (code) => done(code)));
  running.child.kill('SIGTERM');
  return exited;
}

describe('khata start, end to end', { timeout: 240_000 }, () => {
  let dataDir: string;
  let port: number;
  let running: Running | null = null;
  let token = '';

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'khata-e2e-'));
    port = await freePort();
  });
  afterAll(async () => {
    if (running !== null && running.child.exitCode === null) await stop(running);
    await rm(dataDir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${(running as Running).base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  };

  const settle = async (accountId: string, version: string) => {
    for (let i = 0; i < 200; i += 1) {
      const balance = await call('GET', `/api/v1/accounts/${accountId}/balance`);
      if (balance.status === 200 && BigInt(balance.body.streamVersion) >= BigInt(version)) return balance.body;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('read models did not catch up');
  };

  it('runs a customer’s life over HTTP and keeps it across a restart', async () => {
    running = await start(dataDir, port);
    expect(running.stdout()).toContain(`API           http://127.0.0.1:${port}/api/v1`);
    expect(running.stdout()).toContain('/api-docs');
    expect(running.stdout()).toContain('/metrics');
    // The API and the background work in one process: its CPU priority stays (only a worker alone yields it).
    expect(running.stdout()).not.toContain('CPU priority');
    // The launcher bounds the server's heap (KHATA_HEAP_MB, 160 MiB unless told) and lets it double between
    // full collections.
    const argv = (await readFile(`/proc/${running.child.pid}/cmdline`, 'utf8')).split('\0');
    expect(argv).toEqual(
      expect.arrayContaining(['--max-old-space-size=160', '--max-semi-space-size=8', '--heap-growing-percent=100']),
    );
    token = /Bearer (khata_\S+)/.exec(running.stdout())?.[1] ?? '';
    expect(token).not.toBe('');

    const opened = await call('POST', '/api/v1/accounts', {
      legalName: 'End To End Pvt Ltd',
      contact: { name: 'E', email: 'e@e2e.example', phone: '+91 98450 00003' },
      billingAddress: { line1: '1 Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
      billingMode: 'prepaid',
    });
    expect(opened.status).toBe(201);
    const { accountId } = opened.body;

    const topup = await call('POST', `/api/v1/accounts/${accountId}/topups`, { amount: '2360.00' });
    expect(topup.status).toBe(201);
    expect((await call('POST', `/api/v1/accounts/${accountId}/topups/${topup.body.topupId}/confirm`)).status).toBe(200);

    const subscribed = await call(
      'POST',
      '/api/v1/subscriptions',
      { accountId, planId: 'professional', cycle: 'monthly' },
      { 'idempotency-key': randomUUID() },
    );
    expect(subscribed.status).toBe(201);

    const authorized = await call('POST', '/api/v1/calls/authorize', {
      callId: 'e2e-call-1',
      accountCode: accountId,
      destination: '+919845012345',
    });
    expect(authorized.body).toMatchObject({ authorized: true, reason: 'OK', maxSeconds: 7200 });
    const ended = await call('POST', '/api/v1/calls/e2e-call-1/end', {
      accountId,
      answeredAt: new Date().toISOString(),
      billableMilliseconds: 95_000,
    });
    expect(ended.status).toBe(200);
    expect(ended.body.events[0]).toMatchObject({
      type: 'CdrRated',
      data: { billedSeconds: 120, freeSecondsUsed: 120 },
    });

    const cdr = await call('POST', '/api/v1/cdrs', {
      callId: 'e2e-call-2',
      accountId,
      leg: 'A',
      destination: '+918022334455',
      startedAt: new Date().toISOString(),
      answeredAt: new Date().toISOString(),
      billableMilliseconds: 30_000,
    });
    expect(cdr.status).toBe(200);
    const balance = await settle(accountId, cdr.body.streamVersion);
    expect(balance).toMatchObject({
      wallet: '1001.00',
      reserved: '0.00',
      currency: 'INR',
      freeSecondsLeft: 30_000 - 180,
    });

    const verification = await call('POST', `/api/v1/audit/accounts/${accountId}/verify`);
    expect(verification.body).toMatchObject({ ok: true, differences: [], chain: { ok: true } });

    expect(await stop(running)).toBe(0);
    running = await start(dataDir, port);
    expect(running.stdout()).not.toContain('first administrator created');
    const after = await call('GET', `/api/v1/accounts/${accountId}/balance`);
    expect(after.body).toMatchObject({ wallet: '1001.00', streamVersion: balance.streamVersion });
    const again = (await call('POST', `/api/v1/audit/accounts/${accountId}/verify`)).body;
    expect(again.differences).toEqual([]);
    expect(again).toMatchObject({ ok: true });
  });
});
