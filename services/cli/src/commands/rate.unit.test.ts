import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliContext, EXIT_OK, EXIT_USAGE, UsageError } from '../command.ts';
import { rateCommand } from './rate.ts';

const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** UK by the minute then by the second, a weekday peak from 08:00, and a wildcard-free destination list. */
const tariff = {
  id: 'cli-test',
  currency: 'INR',
  timezone: 'Asia/Kolkata',
  destinations: [
    {
      name: 'UK',
      prefixes: ['44'],
      ratePlans: [
        {
          days: EVERY_DAY,
          from: '00:00',
          weight: 0,
          connectFee: '0.40',
          rounding: { method: 'up', decimals: 4 },
          steps: [
            { from: 0, price: '0.20', unit: 60, increment: 60 },
            { from: 60, price: '0.10', unit: 60, increment: 1 },
          ],
        },
        {
          days: ['mon', 'tue', 'wed', 'thu', 'fri'],
          from: '08:00',
          weight: 10,
          connectFee: '0.40',
          rounding: { method: 'up', decimals: 4 },
          steps: [
            { from: 0, price: '0.40', unit: 60, increment: 60 },
            { from: 60, price: '0.20', unit: 60, increment: 1 },
          ],
        },
      ],
    },
  ],
};

let directory = '';
let tariffPath = '';

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'khata-rate-'));
  tariffPath = join(directory, 'tariff.json');
  await writeFile(tariffPath, JSON.stringify(tariff));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const context: CliContext = {
    root: directory,
    env: {},
    config: () => {
      throw new Error('rate needs no configuration');
    },
    stdout: (text) => {
      stdout += `${text}\n`;
    },
    stderr: (text) => {
      stderr += `${text}\n`;
    },
  };
  const code = await rateCommand.run(args, context);
  return { code, stdout, stderr };
}

const call = (...more: string[]) => ['--tariff', tariffPath, '--destination', '+44 20 7946 0000', ...more];

describe('khata rate', () => {
  it('prints the rated call as one JSON object', async () => {
    // Off-peak 07:59:00 for 90 s: fee ₹0.40 + first minute ₹0.20 (all off-peak), then 30 s of peak at ₹0.20/min.
    const result = await run(call('--start', '2026-04-01T07:59:00+05:30', '--duration', '90'));
    expect(result.code).toBe(EXIT_OK);
    const output = JSON.parse(result.stdout);
    expect(output).toMatchObject({ cost: '0.70', currency: 'INR', billedSeconds: 90, destination: 'UK' });
    expect(output.slices.map((slice: { start: string }) => slice.start)).toEqual([
      '2026-04-01T02:29:00.000Z',
      '2026-04-01T02:30:00.000Z',
    ]);
  });

  it('prints the longest affordable duration with --max-duration', async () => {
    // Saturday, off-peak all day: ₹1.00 − ₹0.40 − ₹0.20 = ₹0.40 at ₹0.10/min = 240 s after the first minute.
    const result = await run(call('--start', '2026-04-04T10:00:00+05:30', '--max-duration', '--credit', '1.00'));
    expect(result.code).toBe(EXIT_OK);
    expect(JSON.parse(result.stdout)).toMatchObject({
      maxDurationSeconds: 300,
      cost: '1.00',
      currency: 'INR',
      destination: 'UK',
    });
  });

  it('prices zero for an unanswered call', async () => {
    const result = await run(call('--start', '2026-04-04T10:00:00+05:30', '--duration', '90', '--unanswered'));
    expect(JSON.parse(result.stdout)).toMatchObject({ cost: '0.00', billedSeconds: 0 });
  });

  it('uses free seconds first with --free-seconds', async () => {
    // 90 s with one free minute at a 60 s pulse: 30 s overage from 10:01, billed a minute at ₹0.20 + ₹0.40 fee.
    const result = await run(call('--start', '2026-04-04T10:00:00+05:30', '--duration', '90', '--free-seconds', '60'));
    expect(JSON.parse(result.stdout)).toMatchObject({ cost: '0.60', freeSecondsUsed: 60, overageSeconds: 30 });
  });

  it('reports DESTINATION_NOT_RATED with exit code 2', async () => {
    const result = await run([
      '--tariff',
      tariffPath,
      '--destination',
      '+1 415 555 0100',
      '--start',
      '2026-04-04T10:00:00Z',
      '--duration',
      '60',
    ]);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toContain('DESTINATION_NOT_RATED');
    expect(result.stdout).toBe('');
  });

  it('names the field of an invalid tariff, with exit code 2', async () => {
    const broken = join(directory, 'broken.json');
    const plan = tariff.destinations[0]?.ratePlans[0];
    await writeFile(
      broken,
      JSON.stringify({
        ...tariff,
        destinations: [{ ...tariff.destinations[0], ratePlans: [{ ...plan, connectFee: 0.4 }] }],
      }),
    );
    const result = await run([
      '--tariff',
      broken,
      '--destination',
      '44',
      '--start',
      '2026-04-04T10:00:00Z',
      '--duration',
      '60',
    ]);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toContain('/destinations/0/ratePlans/0/connectFee');
  });

  it('refuses bad arguments naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [call('--start', '2026-04-04T10:00:00', '--duration', '60'), /--start/],
      [call('--start', '2026-04-04T10:00:00Z', '--duration', '-5'), /--duration/],
      [call('--start', '2026-04-04T10:00:00Z', '--duration', '1.5'), /--duration/],
      [call('--start', '2026-04-04T10:00:00Z'), /--duration is required/],
      [call('--start', '2026-04-04T10:00:00Z', '--max-duration', '--credit', '1.23456'), /--credit/],
      [call('--start', '2026-04-04T10:00:00Z', '--max-duration'), /--credit is required/],
      [call('--start', '2026-04-04T10:00:00Z', '--duration', '60', '--credit', '5'), /--credit needs --max-duration/],
      [
        ['--tariff', tariffPath, '--destination', 'home', '--start', '2026-04-04T10:00:00Z', '--duration', '60'],
        /--destination/,
      ],
      [['--destination', '44', '--start', '2026-04-04T10:00:00Z', '--duration', '60'], /--tariff is required/],
      [
        [
          '--tariff',
          join(directory, 'missing.json'),
          '--destination',
          '44',
          '--start',
          '2026-04-04T10:00:00Z',
          '--duration',
          '1',
        ],
        /--tariff/,
      ],
      [call('--start', '2026-04-04T10:00:00Z', '--duration', '60', '--colour', 'red'), /colour/],
    ];
    for (const [args, message] of cases) {
      await expect(run(args), args.join(' ')).rejects.toThrow(UsageError);
      await expect(run(args), args.join(' ')).rejects.toThrow(message);
    }
  });
});
