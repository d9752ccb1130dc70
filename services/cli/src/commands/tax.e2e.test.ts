import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../../..');
/** A CLI run is a fresh Node process; bound it so a hang fails the test instead of stalling CI. */
const RUN_TIMEOUT_MS = 20_000;

function khataTax(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['services/cli/src/main.ts', 'tax', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
    env: { ...process.env, KHATA_DEBUG: '0' },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('khata tax', () => {
  it('prints IGST for a supply from Karnataka to Maharashtra as one JSON object with two-decimal amounts', () => {
    const run = khataTax('--amount', '3350.40', '--supplier-state', '29', '--place-of-supply', '27');
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      taxable: '3350.40',
      cgst: '0.00',
      sgst: '0.00',
      utgst: '0.00',
      igst: '603.07',
      totalTax: '603.07',
      total: '3953.47',
    });
  });

  it('prints CGST and SGST rounded separately within Karnataka', () => {
    const run = khataTax('--amount', '3350.40', '--supplier-state', '29', '--place-of-supply', '29');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ cgst: '301.54', sgst: '301.54', igst: '0.00', total: '3953.48' });
  });

  it('charges IGST to an SEZ in the same state, and UTGST within Chandigarh', () => {
    const sez = khataTax('--amount', '100', '--supplier-state', '29', '--place-of-supply', '29', '--sez');
    expect(JSON.parse(sez.stdout)).toMatchObject({ igst: '18.00', cgst: '0.00', total: '118.00' });
    const chandigarh = khataTax('--amount', '100', '--supplier-state', '04', '--place-of-supply', '04');
    expect(JSON.parse(chandigarh.stdout)).toMatchObject({ cgst: '9.00', utgst: '9.00', sgst: '0.00' });
  });

  it('splits a GST-inclusive recharge so that it adds up to what was paid', () => {
    const run = khataTax('--amount', '500', '--supplier-state', '27', '--place-of-supply', '27', '--inclusive');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      taxable: '423.73',
      cgst: '38.14',
      sgst: '38.13',
      utgst: '0.00',
      igst: '0.00',
      totalTax: '76.27',
      total: '500.00',
    });
  });

  it('warns when the GSTIN is registered in another state but taxes by the place of supply', () => {
    const run = khataTax(
      '--amount',
      '3350.40',
      '--supplier-state',
      '29',
      '--place-of-supply',
      '29',
      '--gstin',
      '27AAPFU0939F1ZV',
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/warning: GSTIN 27AAPFU0939F1ZV is registered in 27 \(Maharashtra\).*29 \(Karnataka\)/);
    expect(JSON.parse(run.stdout)).toMatchObject({ cgst: '301.54', sgst: '301.54', igst: '0.00' });
  });

  it('accepts a valid GSTIN of the place of supply without a warning', () => {
    const run = khataTax(
      '--amount',
      '10',
      '--supplier-state',
      '29',
      '--place-of-supply',
      '24',
      '--gstin',
      '24AAQCA8719H1ZC',
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ igst: '1.80', total: '11.80' });
  });

  it('exits 2 naming the field for a bad GSTIN, state code or amount, and prints nothing on stdout', () => {
    const base = ['--amount', '100', '--supplier-state', '29', '--place-of-supply', '27'];
    const cases: { args: string[]; field: RegExp }[] = [
      { args: [...base, '--gstin', '27AAPFU0939F1ZX'], field: /--gstin: GSTIN check character/ },
      { args: ['--amount', '100', '--supplier-state', '40', '--place-of-supply', '27'], field: /--supplier-state: 40/ },
      {
        args: ['--amount', '100', '--supplier-state', '29', '--place-of-supply', '25'],
        field: /--place-of-supply: 25 .*retired/,
      },
      { args: ['--amount', '1e3', '--supplier-state', '29', '--place-of-supply', '27'], field: /--amount/ },
      {
        args: ['--amount=-5', '--supplier-state', '29', '--place-of-supply', '27'],
        field: /--amount must not be negative/,
      },
      { args: ['--supplier-state', '29', '--place-of-supply', '27'], field: /--amount is required/ },
      { args: [...base, '--inclusive', '--amount', '10.005'], field: /--amount: .*two decimals/ },
      { args: [...base, '--rate', '5'], field: /--rate/ },
    ];
    for (const { args, field } of cases) {
      const run = khataTax(...args);
      expect({ args, status: run.status, stdout: run.stdout }).toEqual({ args, status: 2, stdout: '' });
      expect(run.stderr, args.join(' ')).toMatch(field);
    }
  });
});
