/**
 * `khata start --worker-only` as a real process: it serves no API, but answers the orchestrator's probes and
 * Prometheus's scrapes on PORT (what the Dockerfile's health check and the Kubernetes probes call).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const START_TIMEOUT_MS = 120_000;
const WAIT_MS = 30_000;

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

describe('khata start --worker-only, end to end', { timeout: 240_000 }, () => {
  let dataDir: string;
  let child: ChildProcess | null = null;
  let stdout = '';
  let stderr = '';
  let base = '';

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'khata-worker-e2e-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(
      process.execPath,
      [join(ROOT, 'services/cli/src/main.ts'), 'start', '--worker-only', '--port', String(port)],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          KHATA_DATA_DIR: join(dataDir, 'data'),
          JWT_KEYS_DIR: join(dataDir, 'keys'),
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
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
  }, START_TIMEOUT_MS + 10_000);
  afterAll(async () => {
    if (child !== null && child.exitCode === null) child.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers /health, /ready and /metrics (with projection lag), nothing else, and stops cleanly', async () => {
    expect(stdout).toContain('khata started (worker)');
    expect(stdout).toContain(`metrics       ${base}/metrics`);
    expect(stdout).toContain(`health        ${base}/health  ${base}/ready`);
    expect(stdout).not.toMatch(/^ {2}API /m);
    // With no FreeSWITCH to serve, the background work yields the CPU (WORKER_NICE, 10 by default).
    expect(stdout).toContain('CPU priority  nice 10 (WORKER_NICE)');
    const stat = await readFile(`/proc/${child?.pid}/stat`, 'utf8');
    // Fields after the command name's closing parenthesis start at field 3 (state); nice is field 19.
    expect(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]).toBe('10');

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { 'follower:tariffs': 'ok' } });

    let metrics = '';
    const deadline = Date.now() + WAIT_MS;
    while (!/khata_projection_lag_events\{projection="balances"/.test(metrics)) {
      if (Date.now() > deadline) throw new Error(`no projection lag on /metrics:\n${metrics}`);
      metrics = await (await fetch(`${base}/metrics`)).text();
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(metrics).toContain('khata_log_follower_restarts_total{follower="tariffs"} 0');

    expect((await fetch(`${base}/api/v1/accounts`)).status).toBe(404);
    expect((await fetch(`${base}/api-docs`)).status).toBe(404);

    const running = child as ChildProcess;
    const exited = new Promise<number | null>((done) => running.once('exit', (code) => done(code)));
    running.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
