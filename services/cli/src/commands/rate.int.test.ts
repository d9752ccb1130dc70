import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Runs the real `khata rate` process on the example tariff shipped in schemas/tariffs: what an operator
// types, down to the exit code.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const main = join(root, 'services/cli/src/main.ts');
const international = join(root, 'schemas/tariffs/intl-2026.json');
const PROCESS_TIMEOUT_MS = 20_000;

function khata(...args: string[]) {
  const result = spawnSync(process.execPath, [main, 'rate', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: PROCESS_TIMEOUT_MS,
    env: { ...process.env, KHATA_DEBUG: '0' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('khata rate (process)', () => {
  it('rates a UK mobile call across the 20:00 change to evening rates and exits 0', () => {
    const result = khata(
      '--tariff',
      international,
      '--destination',
      '+44 7700 900123',
      '--start',
      '2026-04-01T19:58:30+05:30',
      '--duration',
      '185',
    );
    expect(result.code).toBe(0);
    // Peak ₹15/min for 90 s (a whole first minute, then 30 s) = ₹22.50; evening ₹12/min for 95 s = ₹19;
    // connect fee ₹0.40.
    expect(JSON.parse(result.stdout)).toMatchObject({
      cost: '41.90',
      currency: 'INR',
      billedSeconds: 185,
      destination: 'UK mobile',
    });
  });

  it('prints the longest affordable call with --max-duration', () => {
    const result = khata(
      '--tariff',
      international,
      '--destination',
      '001 415 555 0100',
      '--start',
      '2026-04-04T12:00:00+05:30',
      '--max-duration',
      '--credit',
      '10',
    );
    expect(result.code).toBe(0);
    // Weekend ₹3/min: first minute ₹3, then per second: ₹7 more buys 140 s.
    expect(JSON.parse(result.stdout)).toMatchObject({ maxDurationSeconds: 200, cost: '10.00' });
  });

  it('exits 2 naming the option for a bad argument', () => {
    const result = khata(
      '--tariff',
      international,
      '--destination',
      '447700900123',
      '--start',
      'yesterday',
      '--duration',
      '60',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--start');
    expect(result.stdout).toBe('');
  });
});
