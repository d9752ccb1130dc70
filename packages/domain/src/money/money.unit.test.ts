import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fraction, Money, MoneyFormatError, type RoundingMode, roundDivision } from './money.ts';

const units = fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n });
const money = units.map((u) => Money.ofUnits(u));
const modes: RoundingMode[] = ['up', 'down', 'half-up'];

describe('Money', () => {
  it('parses and prints decimal strings exactly', () => {
    expect(Money.parse('349').toString()).toBe('349.00');
    expect(Money.parse('1.99').units).toBe(19_900n);
    expect(Money.parse('0.0125').toString()).toBe('0.0125');
    expect(Money.parse('-12.5').toString()).toBe('-12.50');
    expect(Money.parse('4999.00').toFixedDecimals(2)).toBe('4999.00');
    expect(Money.ofPaise(1n).toString()).toBe('0.01');
    expect(JSON.stringify({ amount: Money.parse('9590') })).toBe('{"amount":"9590.00"}');
  });

  it('refuses anything that is not an exact decimal of at most four places', () => {
    for (const bad of ['', '1e3', '0.00001', '1,000', 'NaN', ' ', '1.', '.5', '+1', '0x10', '١٢']) {
      expect(() => Money.parse(bad), bad).toThrow(MoneyFormatError);
    }
    expect(() => Money.parse(12 as unknown as string)).toThrow(MoneyFormatError);
  });

  it('round-trips through its string form (property)', () => {
    fc.assert(fc.property(money, (m) => Money.parse(m.toString()).equals(m)));
  });

  it('round-trips paise exactly (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), (paise) => {
        for (const mode of modes) expect(Money.ofPaise(paise).toPaise(mode)).toBe(paise);
      }),
    );
  });

  it('adds associatively and commutatively, with zero as identity (property)', () => {
    fc.assert(
      fc.property(money, money, money, (a, b, c) => {
        expect(
          a
            .plus(b)
            .plus(c)
            .equals(a.plus(b.plus(c))),
        ).toBe(true);
        expect(a.plus(b).equals(b.plus(a))).toBe(true);
        expect(a.plus(Money.zero).equals(a)).toBe(true);
        expect(a.minus(b).plus(b).equals(a)).toBe(true);
        expect(Money.sum([a, b, c]).equals(a.plus(b).plus(c))).toBe(true);
      }),
    );
  });

  it('rounds monotonically: a ≤ b implies round(a) ≤ round(b) for every mode (property)', () => {
    fc.assert(
      fc.property(money, money, fc.integer({ min: 0, max: 4 }), (a, b, decimals) => {
        const [low, high] = a.compare(b) <= 0 ? [a, b] : [b, a];
        for (const mode of modes) {
          expect(low.round(decimals, mode).compare(high.round(decimals, mode))).toBeLessThanOrEqual(0);
          expect(low.toPaise(mode) <= high.toPaise(mode)).toBe(true);
        }
      }),
    );
  });

  it('rounds within one step of the exact value, in the direction each mode promises (property)', () => {
    fc.assert(
      fc.property(money, fc.integer({ min: 0, max: 4 }), (m, decimals) => {
        const step = 10n ** BigInt(4 - decimals);
        const up = m.round(decimals, 'up').units;
        const down = m.round(decimals, 'down').units;
        const half = m.round(decimals, 'half-up').units;
        expect(up >= m.units && up - m.units < step).toBe(true);
        expect(down * (m.units < 0n ? -1n : 1n) <= m.units * (m.units < 0n ? -1n : 1n)).toBe(true);
        const distance = half > m.units ? half - m.units : m.units - half;
        expect(distance * 2n <= step).toBe(true);
      }),
    );
  });

  it('names each rounding: up is towards +∞, down towards zero, half-up away from zero on a tie', () => {
    expect(roundDivision(5n, 2n, 'up')).toBe(3n);
    expect(roundDivision(-5n, 2n, 'up')).toBe(-2n);
    expect(roundDivision(5n, 2n, 'down')).toBe(2n);
    expect(roundDivision(-5n, 2n, 'down')).toBe(-2n);
    expect(roundDivision(5n, 2n, 'half-up')).toBe(3n);
    expect(roundDivision(-5n, 2n, 'half-up')).toBe(-3n);
    expect(roundDivision(4n, 3n, 'half-up')).toBe(1n);
    expect(Money.parse('0.005').toPaise('half-up')).toBe(1n);
    expect(Money.parse('0.0049').toPaise('half-up')).toBe(0n);
    expect(Money.parse('0.0001').toPaise('up')).toBe(1n);
    expect(() => Money.parse('0.0049').toFixedDecimals(2)).toThrow(RangeError);
  });
});

describe('Fraction', () => {
  it('keeps a per-second share of a per-minute price exact and rounds it once', () => {
    // 7 seconds at ₹1.99 per 60 s = ₹0.23216666…
    const cost = Money.parse('1.99').toFraction().times(7n).dividedBy(60n);
    expect(cost.toString()).toBe('1393/6000');
    expect(cost.toMoney(4, 'up').toString()).toBe('0.2322');
    expect(cost.toMoney(4, 'down').toString()).toBe('0.2321');
    expect(cost.toMoney(2, 'half-up').toString()).toBe('0.23');
    expect(cost.isExactMoney()).toBe(false);
  });

  it('floors and ceils negative and positive values', () => {
    expect(Fraction.of(7n, 2n).floor()).toBe(3n);
    expect(Fraction.of(-7n, 2n).floor()).toBe(-4n);
    expect(Fraction.of(7n, 2n).ceil()).toBe(4n);
    expect(Fraction.of(-7n, 2n).ceil()).toBe(-3n);
    expect(Fraction.of(6n, 2n).floor()).toBe(3n);
  });

  it('adds exactly and stays in lowest terms (property)', () => {
    const fraction = fc
      .tuple(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.bigInt({ min: 1n, max: 10n ** 6n }))
      .map(([n, d]) => Fraction.of(n, d));
    fc.assert(
      fc.property(fraction, fraction, fraction, (a, b, c) => {
        expect(
          a
            .plus(b)
            .plus(c)
            .compare(a.plus(b.plus(c))),
        ).toBe(0);
        expect(a.minus(a).compare(Fraction.zero)).toBe(0);
        const sum = a.plus(b);
        expect(sum.denominator > 0n).toBe(true);
      }),
    );
  });
});
