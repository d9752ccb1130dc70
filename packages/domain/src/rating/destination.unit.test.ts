import { describe, expect, it } from 'vitest';
import { matchDestination, normalizeDialled } from './destination.ts';
import { parseTariff } from './tariff.ts';

function destinations(...entries: [name: string, prefixes: string[]][]) {
  return parseTariff({
    id: 'prefixes',
    currency: 'INR',
    timezone: 'Asia/Kolkata',
    destinations: entries.map(([name, prefixes]) => ({
      name,
      prefixes,
      ratePlans: [
        {
          days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
          from: '00:00',
          weight: 0,
          connectFee: '0',
          rounding: { method: 'up', decimals: 2 },
          steps: [{ from: 0, price: '1.00', unit: 60, increment: 60 }],
        },
      ],
    })),
  });
}

describe('normalizeDialled', () => {
  it('strips a leading + or 00 and ignores spaces and dashes', () => {
    expect(normalizeDialled('+44 20 7946-0000')).toBe('442079460000');
    expect(normalizeDialled('0044 20 7946 0000')).toBe('442079460000');
    expect(normalizeDialled('442079460000')).toBe('442079460000');
    expect(normalizeDialled(' 98765-43210 ')).toBe('9876543210');
  });

  it('refuses what is not a phone number', () => {
    for (const bad of ['', '+', '00', 'abc', '44x1', '+-', '++44', '4'.repeat(33)]) {
      expect(normalizeDialled(bad), bad).toBeNull();
    }
  });
});

describe('matchDestination', () => {
  const tariff = destinations(['UK', ['44']], ['UK mobile', ['447', '4475']], ['USA', ['1']], ['Rest of world', ['*']]);
  const nameOf = (dialled: string) => matchDestination(tariff, dialled)?.destination.name ?? null;

  it('picks the longest matching prefix', () => {
    expect(nameOf('442079460000')).toBe('UK');
    expect(nameOf('447700900123')).toBe('UK mobile');
    expect(matchDestination(tariff, '447512345678')?.prefix).toBe('4475');
    expect(nameOf('14155550100')).toBe('USA');
  });

  it('matches the same destination with +, 00, spaces or dashes', () => {
    for (const dialled of ['+44 7700 900123', '0044-7700-900123', '447700900123']) {
      expect(nameOf(dialled), dialled).toBe('UK mobile');
    }
  });

  it('falls back to * for any other number', () => {
    expect(matchDestination(tariff, '+91 98765 43210')).toMatchObject({ prefix: '*', digits: '919876543210' });
  });

  it('matches nothing without a * destination, and never a non-number', () => {
    const ukOnly = destinations(['UK', ['44']]);
    expect(matchDestination(ukOnly, '+91 98765 43210')).toBeNull();
    expect(matchDestination(tariff, 'anonymous')).toBeNull();
  });
});
