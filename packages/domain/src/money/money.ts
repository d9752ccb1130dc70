/**
 * Exact money (SPEC §4). An amount is an integer count of ten-thousandths of a rupee (₹0.0001), held
 * in a bigint: rated usage needs four decimals, invoices and gateways need paise (two), and converting
 * between them is an explicit, named rounding. No binary floating point ever touches an amount.
 *
 * Intermediate results that are not whole ten-thousandths (a per-second share of a per-minute price,
 * a tax-inclusive split) are `Fraction`s: exact rationals, rounded once where a rule says so.
 */

/** Ten-thousandths of a rupee per rupee. */
export const MONEY_SCALE = 4;
const UNITS_PER_RUPEE = 10_000n;
const UNITS_PER_PAISA = 100n;

/**
 * How to round an exact value to a grid:
 * - `up`: towards +∞ (a caller is never under-charged);
 * - `down`: towards 0;
 * - `half-up`: to the nearest, halves away from zero (GST heads, CGST Rules practice).
 */
export type RoundingMode = 'up' | 'down' | 'half-up';

export class MoneyFormatError extends Error {
  override readonly name = 'MoneyFormatError';
}

const DECIMAL = /^(-)?(\d{1,15})(?:\.(\d{1,4}))?$/;

export class Money {
  /** The amount in ten-thousandths of a rupee. */
  readonly units: bigint;

  private constructor(units: bigint) {
    this.units = units;
  }

  static readonly zero = new Money(0n);

  static ofUnits(units: bigint): Money {
    return units === 0n ? Money.zero : new Money(units);
  }

  static ofPaise(paise: bigint): Money {
    return Money.ofUnits(paise * UNITS_PER_PAISA);
  }

  static ofRupees(rupees: bigint): Money {
    return Money.ofUnits(rupees * UNITS_PER_RUPEE);
  }

  /**
   * Parses a decimal string such as `"349"`, `"1.99"` or `"-0.0125"` (at most four decimals). Anything
   * else, including numbers, exponents and more decimals, is refused rather than rounded.
   */
  static parse(text: string): Money {
    const match = typeof text === 'string' ? DECIMAL.exec(text.trim()) : null;
    if (match === null) {
      throw new MoneyFormatError(`not an amount with at most ${MONEY_SCALE} decimals: ${JSON.stringify(text)}`);
    }
    const [, sign, whole, fraction = ''] = match;
    const units = BigInt(whole as string) * UNITS_PER_RUPEE + BigInt(fraction.padEnd(MONEY_SCALE, '0'));
    return Money.ofUnits(sign === '-' ? -units : units);
  }

  plus(other: Money): Money {
    return Money.ofUnits(this.units + other.units);
  }

  minus(other: Money): Money {
    return Money.ofUnits(this.units - other.units);
  }

  negate(): Money {
    return Money.ofUnits(-this.units);
  }

  times(factor: bigint): Money {
    return Money.ofUnits(this.units * factor);
  }

  /** This amount as an exact fraction, for further exact arithmetic. */
  toFraction(): Fraction {
    return Fraction.of(this.units, UNITS_PER_RUPEE);
  }

  compare(other: Money): -1 | 0 | 1 {
    return this.units < other.units ? -1 : this.units > other.units ? 1 : 0;
  }

  equals(other: Money): boolean {
    return this.units === other.units;
  }

  isZero(): boolean {
    return this.units === 0n;
  }

  isNegative(): boolean {
    return this.units < 0n;
  }

  isPositive(): boolean {
    return this.units > 0n;
  }

  static min(a: Money, b: Money): Money {
    return a.units <= b.units ? a : b;
  }

  static max(a: Money, b: Money): Money {
    return a.units >= b.units ? a : b;
  }

  static sum(amounts: Iterable<Money>): Money {
    let units = 0n;
    for (const amount of amounts) units += amount.units;
    return Money.ofUnits(units);
  }

  /** Whole paise, rounding the sub-paisa part as `mode` says (the explicit step to gateways and invoices). */
  toPaise(mode: RoundingMode): bigint {
    return roundDivision(this.units, UNITS_PER_PAISA, mode);
  }

  /** Rounds to `decimals` (0–4) places. */
  round(decimals: number, mode: RoundingMode): Money {
    const step = 10n ** BigInt(MONEY_SCALE - assertDecimals(decimals));
    return Money.ofUnits(roundDivision(this.units, step, mode) * step);
  }

  /**
   * The canonical decimal string: at least two decimals, more only where the amount has them
   * (`"5.00"`, `"1.99"`, `"0.2322"`). `Money.parse` reads it back exactly.
   */
  toString(): string {
    return formatUnits(this.units, 2);
  }

  /** Exactly `decimals` places; throws when that would drop digits (round first). */
  toFixedDecimals(decimals: number): string {
    const places = assertDecimals(decimals);
    const step = 10n ** BigInt(MONEY_SCALE - places);
    if (this.units % step !== 0n) {
      throw new RangeError(`${this.toString()} has more than ${places} decimals; round it first`);
    }
    const text = formatUnits(this.units, places);
    return text;
  }

  toJSON(): string {
    return this.toString();
  }
}

function formatUnits(units: bigint, minimumDecimals: number): string {
  const negative = units < 0n;
  const magnitude = negative ? -units : units;
  const whole = magnitude / UNITS_PER_RUPEE;
  let fraction = (magnitude % UNITS_PER_RUPEE).toString().padStart(MONEY_SCALE, '0');
  while (fraction.length > minimumDecimals && fraction.endsWith('0')) fraction = fraction.slice(0, -1);
  const body = fraction.length === 0 ? `${whole}` : `${whole}.${fraction}`;
  return negative ? `-${body}` : body;
}

function assertDecimals(decimals: number): number {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > MONEY_SCALE) {
    throw new RangeError(`decimals must be an integer from 0 to ${MONEY_SCALE}, got ${decimals}`);
  }
  return decimals;
}

/** numerator / denominator rounded to an integer as `mode` says (denominator > 0). */
export function roundDivision(numerator: bigint, denominator: bigint, mode: RoundingMode): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  const quotient = numerator / denominator; // truncates towards zero
  const remainder = numerator % denominator;
  if (remainder === 0n) return quotient;
  switch (mode) {
    case 'down':
      return quotient;
    case 'up':
      return numerator > 0n ? quotient + 1n : quotient;
    case 'half-up': {
      const twice = (remainder < 0n ? -remainder : remainder) * 2n;
      if (twice < denominator) return quotient;
      return numerator > 0n ? quotient + 1n : quotient - 1n;
    }
  }
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** An exact rational number of rupees, kept in lowest terms with a positive denominator. */
export class Fraction {
  readonly numerator: bigint;
  readonly denominator: bigint;

  private constructor(numerator: bigint, denominator: bigint) {
    this.numerator = numerator;
    this.denominator = denominator;
  }

  static readonly zero = new Fraction(0n, 1n);

  static of(numerator: bigint, denominator = 1n): Fraction {
    if (denominator === 0n) throw new RangeError('division by zero');
    const sign = denominator < 0n ? -1n : 1n;
    const divisor = gcd(numerator, denominator) || 1n;
    return new Fraction((sign * numerator) / divisor, (sign * denominator) / divisor);
  }

  plus(other: Fraction): Fraction {
    return Fraction.of(
      this.numerator * other.denominator + other.numerator * this.denominator,
      this.denominator * other.denominator,
    );
  }

  minus(other: Fraction): Fraction {
    return this.plus(other.negate());
  }

  negate(): Fraction {
    return Fraction.of(-this.numerator, this.denominator);
  }

  times(other: Fraction | bigint): Fraction {
    if (typeof other === 'bigint') return Fraction.of(this.numerator * other, this.denominator);
    return Fraction.of(this.numerator * other.numerator, this.denominator * other.denominator);
  }

  dividedBy(other: Fraction | bigint): Fraction {
    if (typeof other === 'bigint') return Fraction.of(this.numerator, this.denominator * other);
    return Fraction.of(this.numerator * other.denominator, this.denominator * other.numerator);
  }

  compare(other: Fraction): -1 | 0 | 1 {
    const left = this.numerator * other.denominator;
    const right = other.numerator * this.denominator;
    return left < right ? -1 : left > right ? 1 : 0;
  }

  /** The largest integer ≤ this value. */
  floor(): bigint {
    const quotient = this.numerator / this.denominator;
    return this.numerator < 0n && this.numerator % this.denominator !== 0n ? quotient - 1n : quotient;
  }

  /** The smallest integer ≥ this value. */
  ceil(): bigint {
    return -Fraction.of(-this.numerator, this.denominator).floor();
  }

  /** Rounds to money with `decimals` (0–4) places: the one rounding step of a rule. */
  toMoney(decimals: number, mode: RoundingMode): Money {
    const places = assertDecimals(decimals);
    const step = 10n ** BigInt(MONEY_SCALE - places);
    // value in units = numerator * 10^4 / denominator; on the grid of `step` units.
    const onGrid = roundDivision(this.numerator * UNITS_PER_RUPEE, this.denominator * step, mode);
    return Money.ofUnits(onGrid * step);
  }

  /** True when this is a whole number of ten-thousandths (converts to Money without rounding). */
  isExactMoney(): boolean {
    return (this.numerator * UNITS_PER_RUPEE) % this.denominator === 0n;
  }

  toString(): string {
    return this.denominator === 1n ? `${this.numerator}` : `${this.numerator}/${this.denominator}`;
  }
}
