import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { computeGst, computeGstInclusive, type GstBreakdown, GstInputError, splitTaxInclusive } from './gst.ts';
import { GST_STATES } from './states.ts';

const currentCodes = GST_STATES.filter((entry) => entry.replacedBy === undefined).map((entry) => entry.code);
const stateCode = fc.constantFrom(...currentCodes);
/** Up to ₹1 crore with four decimals, the precision of rated usage. */
const taxableAmount = fc.bigInt({ min: 0n, max: 10n ** 11n }).map((units) => Money.ofUnits(units));
/** Up to ₹1 crore in whole paise, like an amount paid. */
const paidAmount = fc.bigInt({ min: 0n, max: 10n ** 9n }).map((paise) => Money.ofPaise(paise));
const onePaisa = Money.ofPaise(1n);

function printed(result: GstBreakdown): Record<string, string> {
  return {
    taxable: result.taxable.toFixedDecimals(2),
    cgst: result.cgst.toFixedDecimals(2),
    sgst: result.sgst.toFixedDecimals(2),
    utgst: result.utgst.toFixedDecimals(2),
    igst: result.igst.toFixedDecimals(2),
    totalTax: result.totalTax.toFixedDecimals(2),
    total: result.total.toFixedDecimals(2),
  };
}

function heads(result: GstBreakdown): Money[] {
  return [result.cgst, result.sgst, result.utgst, result.igst];
}

describe('computeGst', () => {
  const amount = Money.parse('3350.40');

  it('charges IGST 18% from Karnataka to Maharashtra', () => {
    const result = computeGst({ taxable: amount, supplierState: '29', placeOfSupply: '27' });
    expect(result.supply).toBe('inter-state');
    expect(printed(result)).toEqual({
      taxable: '3350.40',
      cgst: '0.00',
      sgst: '0.00',
      utgst: '0.00',
      igst: '603.07',
      totalTax: '603.07',
      total: '3953.47',
    });
  });

  it('rounds CGST and SGST separately within Karnataka, never halving IGST', () => {
    // 3350.40 × 9% = 301.536 → 301.54 each, so CGST + SGST is one paisa more than IGST for the same value.
    const result = computeGst({ taxable: amount, supplierState: '29', placeOfSupply: '29' });
    expect(result.supply).toBe('intra-state');
    expect(printed(result)).toEqual({
      taxable: '3350.40',
      cgst: '301.54',
      sgst: '301.54',
      utgst: '0.00',
      igst: '0.00',
      totalTax: '603.08',
      total: '3953.48',
    });
  });

  it('charges UTGST instead of SGST within a Union territory without a legislature', () => {
    for (const code of ['04', '26', '31', '35', '38']) {
      const result = computeGst({ taxable: Money.parse('1000'), supplierState: code, placeOfSupply: code });
      expect({ code, ...printed(result) }).toMatchObject({ code, cgst: '90.00', sgst: '0.00', utgst: '90.00' });
    }
    const delhi = computeGst({ taxable: Money.parse('1000'), supplierState: '07', placeOfSupply: '07' });
    expect(printed(delhi)).toMatchObject({ cgst: '90.00', sgst: '90.00', utgst: '0.00' });
  });

  it('charges IGST on a supply to an SEZ even within the supplier state', () => {
    const result = computeGst({ taxable: amount, supplierState: '29', placeOfSupply: '29', sez: true });
    expect(printed(result)).toMatchObject({ cgst: '0.00', sgst: '0.00', igst: '603.07', total: '3953.47' });
  });

  it('rounds a taxable value with sub-paisa digits to paise before taxing it', () => {
    const result = computeGst({ taxable: Money.parse('100.0050'), supplierState: '29', placeOfSupply: '27' });
    expect(printed(result)).toMatchObject({ taxable: '100.01', igst: '18.00', total: '118.01' });
    const below = computeGst({ taxable: Money.parse('100.0049'), supplierState: '29', placeOfSupply: '27' });
    expect(printed(below)).toMatchObject({ taxable: '100.00', igst: '18.00', total: '118.00' });
  });

  it('rounds each head to the nearest paisa, half a paisa up', () => {
    // 0.25 × 18% = 0.045 → 0.05; 0.25 × 9% = 0.0225 → 0.02 per head.
    const inter = computeGst({ taxable: Money.parse('0.25'), supplierState: '29', placeOfSupply: '27' });
    expect(inter.igst.toString()).toBe('0.05');
    const intra = computeGst({ taxable: Money.parse('0.25'), supplierState: '29', placeOfSupply: '29' });
    expect([intra.cgst.toString(), intra.sgst.toString()]).toEqual(['0.02', '0.02']);
  });

  it('applies another whole rate when asked', () => {
    const result = computeGst({
      taxable: Money.parse('200'),
      supplierState: '29',
      placeOfSupply: '29',
      ratePercent: 5,
    });
    expect(printed(result)).toMatchObject({ cgst: '5.00', sgst: '5.00', total: '210.00' });
  });

  it('refuses inputs no invoice can carry, naming the field', () => {
    const base = { taxable: amount, supplierState: '29', placeOfSupply: '27' };
    const field = (input: Parameters<typeof computeGst>[0]): string => {
      try {
        computeGst(input);
        return 'accepted';
      } catch (error) {
        return error instanceof GstInputError ? error.field : 'other error';
      }
    };
    expect(field({ ...base, supplierState: '25' })).toBe('supplierState');
    expect(field({ ...base, placeOfSupply: '40' })).toBe('placeOfSupply');
    expect(field({ ...base, taxable: Money.parse('-1') })).toBe('taxable');
    expect(field({ ...base, ratePercent: 12.5 })).toBe('ratePercent');
  });

  it('keeps every head non-negative and the total equal to taxable plus heads (property)', () => {
    fc.assert(
      fc.property(taxableAmount, stateCode, stateCode, fc.boolean(), (taxable, supplierState, placeOfSupply, sez) => {
        const result = computeGst({ taxable, supplierState, placeOfSupply, sez });
        for (const head of heads(result)) expect(head.isNegative()).toBe(false);
        expect(result.totalTax.equals(Money.sum(heads(result)))).toBe(true);
        expect(result.total.equals(result.taxable.plus(result.totalTax))).toBe(true);
        expect(result.taxable.equals(taxable.round(2, 'half-up'))).toBe(true);
        for (const amount of [result.taxable, ...heads(result)])
          expect(amount.round(2, 'down').equals(amount)).toBe(true);
      }),
    );
  });

  it('charges equal central and state halves within a state, and only IGST across states (property)', () => {
    fc.assert(
      fc.property(taxableAmount, stateCode, stateCode, (taxable, supplierState, placeOfSupply) => {
        const result = computeGst({ taxable, supplierState, placeOfSupply });
        if (supplierState === placeOfSupply) {
          expect(result.cgst.equals(Money.max(result.sgst, result.utgst))).toBe(true);
          expect(result.sgst.isZero() || result.utgst.isZero()).toBe(true);
          expect(result.igst.isZero()).toBe(true);
        } else {
          expect(Money.sum([result.cgst, result.sgst, result.utgst]).isZero()).toBe(true);
        }
      }),
    );
  });

  it('keeps CGST + SGST within one paisa of IGST for the same value (property)', () => {
    fc.assert(
      fc.property(taxableAmount, (taxable) => {
        const intra = computeGst({ taxable, supplierState: '27', placeOfSupply: '27' });
        const inter = computeGst({ taxable, supplierState: '29', placeOfSupply: '27' });
        const difference = intra.totalTax.minus(inter.igst);
        expect(difference.compare(onePaisa) <= 0 && difference.negate().compare(onePaisa) <= 0).toBe(true);
      }),
    );
  });
});

describe('splitTaxInclusive', () => {
  it('splits a ₹500 recharge into ₹423.73 taxable and ₹76.27 GST', () => {
    const { taxable, tax } = splitTaxInclusive(Money.parse('500'));
    expect([taxable.toString(), tax.toString()]).toEqual(['423.73', '76.27']);
  });

  it('refuses an amount paid with sub-paisa digits', () => {
    expect(() => splitTaxInclusive(Money.parse('10.005'))).toThrow(GstInputError);
  });

  it('gives back exactly what was paid, with taxable the nearest paisa to total / 1.18 (property)', () => {
    fc.assert(
      fc.property(paidAmount, (total) => {
        const { taxable, tax } = splitTaxInclusive(total);
        expect(taxable.plus(tax).equals(total)).toBe(true);
        expect(tax.isNegative()).toBe(false);
        // |taxable × 118 − total × 100| ≤ half a paisa × 118, in ten-thousandths.
        const error = taxable.units * 118n - total.units * 100n;
        expect(error <= 59n * 100n && error >= -59n * 100n).toBe(true);
      }),
    );
  });
});

describe('computeGstInclusive', () => {
  it('prints a ₹500 recharge within Maharashtra with heads adding up to what was paid', () => {
    // Tax 76.27 is odd in paise: the odd paisa goes to CGST.
    const result = computeGstInclusive({ total: Money.parse('500'), supplierState: '27', placeOfSupply: '27' });
    expect(printed(result)).toEqual({
      taxable: '423.73',
      cgst: '38.14',
      sgst: '38.13',
      utgst: '0.00',
      igst: '0.00',
      totalTax: '76.27',
      total: '500.00',
    });
  });

  it('puts the whole tax on IGST across states', () => {
    const result = computeGstInclusive({ total: Money.parse('500'), supplierState: '29', placeOfSupply: '27' });
    expect(printed(result)).toMatchObject({ igst: '76.27', cgst: '0.00', total: '500.00' });
  });

  it('sums heads to exactly total − taxable, each within a paisa of an ordinary invoice for that value (property)', () => {
    fc.assert(
      fc.property(paidAmount, stateCode, stateCode, fc.boolean(), (total, supplierState, placeOfSupply, sez) => {
        const result = computeGstInclusive({ total, supplierState, placeOfSupply, sez });
        expect(result.total.equals(total)).toBe(true);
        expect(result.taxable.plus(Money.sum(heads(result))).equals(total)).toBe(true);
        for (const head of heads(result)) expect(head.isNegative()).toBe(false);
        const ordinary = computeGst({ taxable: result.taxable, supplierState, placeOfSupply, sez });
        for (const [inclusive, exclusive] of [
          [result.cgst, ordinary.cgst],
          [result.sgst, ordinary.sgst],
          [result.utgst, ordinary.utgst],
        ] as const) {
          const gap = inclusive.minus(exclusive);
          expect(gap.compare(onePaisa) <= 0 && gap.negate().compare(onePaisa) <= 0).toBe(true);
        }
        const centralOverState = result.cgst.minus(Money.max(result.sgst, result.utgst));
        expect(centralOverState.isZero() || centralOverState.equals(onePaisa)).toBe(true);
      }),
    );
  });
});
