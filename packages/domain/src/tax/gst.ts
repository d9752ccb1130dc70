import { Fraction, Money } from '../money/money.ts';
import { type GstState, parseStateCode } from './states.ts';

/**
 * GST on one invoice line (SPEC §10, research/billing.md §4).
 *
 * - Supplier's state = place of supply → CGST at half the rate + SGST (or UTGST where the territory has
 *   no legislature) at half the rate; otherwise, and always for a supply to an SEZ (IGST Act s.7(5)(b)),
 *   IGST at the full rate.
 * - Each head is computed from the taxable value and rounded half-up to paise on its own. CGST is never
 *   IGST / 2: 9% of ₹3,350.40 is 301.536 → 301.54 per head, so CGST + SGST is 603.08 while IGST is
 *   603.07. Both are what the law's per-head rounding gives.
 * - The taxable value of a line is printed in paise, so a taxable value with sub-paisa digits (a sum of
 *   rated calls at four decimals) is rounded half-up to paise first, here, once; every head is then
 *   computed from the printed value, and total = taxable + heads exactly on the printed invoice.
 */

/** GST on telecommunication services (SAC heading 9984). */
export const TELECOM_GST_RATE_PERCENT = 18;
/** Fixed telephony incl. IP voice and call management (SPEC §10 default; configuration may choose another). */
export const DEFAULT_SAC_CODE = '998412';

export type SupplyType = 'intra-state' | 'inter-state';

export interface GstBreakdown {
  readonly supply: SupplyType;
  readonly ratePercent: number;
  /** Taxable value in paise. */
  readonly taxable: Money;
  readonly cgst: Money;
  readonly sgst: Money;
  readonly utgst: Money;
  readonly igst: Money;
  readonly totalTax: Money;
  /** taxable + totalTax. */
  readonly total: Money;
}

export interface GstInput {
  /** Excluding GST, at least zero; sub-paisa digits are rounded half-up to paise (see above). */
  readonly taxable: Money;
  /** The supplier's registration state (two digits). */
  readonly supplierState: string;
  /** The customer's billing state on record (SPEC §10, IGST Act s.12(11)). */
  readonly placeOfSupply: string;
  /** The recipient is a Special Economic Zone unit or developer: always IGST. */
  readonly sez?: boolean;
  /** A whole percentage, 0–100; default 18. */
  readonly ratePercent?: number;
}

export interface GstInclusiveInput extends Omit<GstInput, 'taxable'> {
  /** What the customer pays, GST included, in whole paise. */
  readonly total: Money;
}

/** A caller passed something no invoice can carry; the edges (accounts, CLI, API) validate first. */
export class GstInputError extends Error {
  override readonly name = 'GstInputError';
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

const PAISA_DECIMALS = 2;
const PERCENT = 100n;

export function computeGst(input: GstInput): GstBreakdown {
  const ratePercent = checkRate(input.ratePercent);
  if (input.taxable.isNegative()) throw new GstInputError('taxable', 'must not be negative');
  const taxable = input.taxable.round(PAISA_DECIMALS, 'half-up');
  const { supply, state } = supplyOf(input);
  if (supply === 'inter-state') {
    return breakdown(supply, ratePercent, taxable, { igst: headOn(taxable, BigInt(ratePercent), PERCENT) });
  }
  // Each half-rate head is rounded on its own from the taxable value; both heads are therefore equal.
  const half = headOn(taxable, BigInt(ratePercent), 2n * PERCENT);
  return breakdown(
    supply,
    ratePercent,
    taxable,
    state.stateTax === 'utgst' ? { cgst: half, utgst: half } : { cgst: half, sgst: half },
  );
}

/**
 * Splits a GST-inclusive amount (a prepaid recharge, SPEC §6): taxable = total × 100 / (100 + rate),
 * rounded half-up to paise, and tax = total − taxable, so taxable + tax = total exactly.
 */
export function splitTaxInclusive(
  total: Money,
  ratePercent: number = TELECOM_GST_RATE_PERCENT,
): { readonly taxable: Money; readonly tax: Money } {
  const rate = BigInt(checkRate(ratePercent));
  if (total.isNegative()) throw new GstInputError('total', 'must not be negative');
  if (!total.round(PAISA_DECIMALS, 'down').equals(total)) {
    throw new GstInputError('total', `an amount paid is whole paise, got ${total.toString()}`);
  }
  const taxable = total
    .toFraction()
    .times(PERCENT)
    .dividedBy(PERCENT + rate)
    .toMoney(PAISA_DECIMALS, 'half-up');
  return { taxable, tax: total.minus(taxable) };
}

/**
 * The full head split of a GST-inclusive amount: the heads add up to exactly total − taxable, so the
 * invoice for a ₹X recharge totals ₹X.
 *
 * Inter-state, IGST is that whole tax. Intra-state the tax is halved and, when it is an odd number of
 * paise, the odd paisa goes to CGST: CGST = ⌈tax/2⌉, SGST/UTGST = ⌊tax/2⌋. At 18% each half is within
 * one paisa of what an ordinary invoice would show for the same taxable value (9% of it, half-up), and
 * one fixed, documented place for the residue keeps credit notes for recharges reproducible.
 */
export function computeGstInclusive(input: GstInclusiveInput): GstBreakdown {
  const ratePercent = checkRate(input.ratePercent);
  const { taxable, tax } = splitTaxInclusive(input.total, ratePercent);
  const { supply, state } = supplyOf(input);
  if (supply === 'inter-state') return breakdown(supply, ratePercent, taxable, { igst: tax });
  const taxPaise = tax.toPaise('down');
  const statePart = Money.ofPaise(taxPaise / 2n);
  const centralPart = tax.minus(statePart);
  return breakdown(
    supply,
    ratePercent,
    taxable,
    state.stateTax === 'utgst' ? { cgst: centralPart, utgst: statePart } : { cgst: centralPart, sgst: statePart },
  );
}

function headOn(taxable: Money, numerator: bigint, denominator: bigint): Money {
  return taxable.toFraction().times(Fraction.of(numerator, denominator)).toMoney(PAISA_DECIMALS, 'half-up');
}

function checkRate(ratePercent: number | undefined): number {
  const rate = ratePercent ?? TELECOM_GST_RATE_PERCENT;
  if (!Number.isInteger(rate) || rate < 0 || rate > 100) {
    throw new GstInputError('ratePercent', `must be a whole percentage from 0 to 100, got ${rate}`);
  }
  return rate;
}

function supplyOf(input: Omit<GstInput, 'taxable'>): { readonly supply: SupplyType; readonly state: GstState } {
  const supplier = parseStateCode(input.supplierState);
  if (!supplier.ok) throw new GstInputError('supplierState', supplier.reason);
  const place = parseStateCode(input.placeOfSupply);
  if (!place.ok) throw new GstInputError('placeOfSupply', place.reason);
  const intraState = supplier.state.code === place.state.code && input.sez !== true;
  return { supply: intraState ? 'intra-state' : 'inter-state', state: place.state };
}

function breakdown(
  supply: SupplyType,
  ratePercent: number,
  taxable: Money,
  heads: { readonly cgst?: Money; readonly sgst?: Money; readonly utgst?: Money; readonly igst?: Money },
): GstBreakdown {
  const cgst = heads.cgst ?? Money.zero;
  const sgst = heads.sgst ?? Money.zero;
  const utgst = heads.utgst ?? Money.zero;
  const igst = heads.igst ?? Money.zero;
  const totalTax = Money.sum([cgst, sgst, utgst, igst]);
  return Object.freeze({
    supply,
    ratePercent,
    taxable,
    cgst,
    sgst,
    utgst,
    igst,
    totalTax,
    total: taxable.plus(totalTax),
  });
}
