import { parseArgs } from 'node:util';
import {
  computeGst,
  computeGstInclusive,
  findState,
  type GstBreakdown,
  type GstState,
  Money,
  MoneyFormatError,
  parseStateCode,
  validateGstin,
} from '@khata/domain';
import { type CliCommand, type CliContext, EXIT_OK, UsageError } from '../command.ts';

export const taxCommand: CliCommand = {
  name: 'tax',
  summary: 'compute the GST heads (CGST, SGST/UTGST, IGST) of an amount',
  usage: `usage: khata tax --amount AMOUNT --supplier-state CODE --place-of-supply CODE [--gstin GSTIN] [--sez] [--inclusive]

Computes GST at 18% as an invoice line carries it (SPEC §10) and prints one JSON object:
  {"taxable": "3350.40", "cgst": "0.00", "sgst": "0.00", "utgst": "0.00", "igst": "603.07",
   "totalTax": "603.07", "total": "3953.47"}
AMOUNT is rupees excluding GST (e.g. 3350.40; up to four decimals, rounded half-up to paise), or with
--inclusive the GST-inclusive amount paid (a prepaid recharge, whole paise), split into taxable value and
GST. CODE is a two-digit GST state code (27 Maharashtra, 29 Karnataka, ...). Same state: CGST + SGST
(UTGST in 04, 26, 31, 35, 38, 97); different states, or --sez: IGST.
--gstin checks the customer's GSTIN; when its state is not the place of supply, a warning goes to stderr
and the place of supply still decides.
Exit 2, with the field named on stderr, for a bad amount, state code or GSTIN.`,
  async run(args, context) {
    const options = parseOptions(args);
    if (options.gstinState !== null && options.gstinState.code !== options.placeOfSupply.code) {
      warnPlaceOfSupply(context, options.gstin ?? '', options.gstinState, options.placeOfSupply);
    }
    const place = {
      supplierState: options.supplierState.code,
      placeOfSupply: options.placeOfSupply.code,
      sez: options.sez,
    };
    const result = options.inclusive
      ? computeGstInclusive({ total: options.amount, ...place })
      : computeGst({ taxable: options.amount, ...place });
    context.stdout(JSON.stringify(printable(result), null, 2));
    return EXIT_OK;
  },
};

interface TaxOptions {
  readonly amount: Money;
  readonly supplierState: GstState;
  readonly placeOfSupply: GstState;
  readonly gstin: string | null;
  readonly gstinState: GstState | null;
  readonly sez: boolean;
  readonly inclusive: boolean;
}

function parseOptions(args: readonly string[]): TaxOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        amount: { type: 'string' },
        'supplier-state': { type: 'string' },
        'place-of-supply': { type: 'string' },
        gstin: { type: 'string' },
        sez: { type: 'boolean', default: false },
        inclusive: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const inclusive = values.inclusive === true;
  const amount = parseAmount(required(values, 'amount'), inclusive);
  const supplierState = stateOption(values, 'supplier-state');
  const placeOfSupply = stateOption(values, 'place-of-supply');
  const gstinText = values.gstin;
  let gstin: string | null = null;
  let gstinState: GstState | null = null;
  if (typeof gstinText === 'string') {
    const checked = validateGstin(gstinText);
    if (!checked.ok) throw new UsageError(`--gstin: ${checked.reason}`);
    gstin = checked.gstin;
    // validateGstin has checked the state code against the same table.
    gstinState = findState(checked.stateCode) ?? null;
  }
  return { amount, supplierState, placeOfSupply, gstin, gstinState, sez: values.sez === true, inclusive };
}

function required(values: Record<string, string | boolean | undefined>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

function parseAmount(text: string, inclusive: boolean): Money {
  let amount: Money;
  try {
    amount = Money.parse(text);
  } catch (error) {
    if (error instanceof MoneyFormatError) {
      throw new UsageError(`--amount: not an amount in rupees (e.g. 3350.40): ${JSON.stringify(text)}`);
    }
    throw error;
  }
  if (amount.isNegative()) throw new UsageError('--amount must not be negative');
  if (inclusive && !amount.round(2, 'down').equals(amount)) {
    throw new UsageError('--amount: an amount paid (--inclusive) has at most two decimals');
  }
  return amount;
}

function stateOption(values: Record<string, string | boolean | undefined>, name: string): GstState {
  const result = parseStateCode(required(values, name).trim());
  if (!result.ok) throw new UsageError(`--${name}: ${result.reason}`);
  return result.state;
}

function warnPlaceOfSupply(context: CliContext, gstin: string, registered: GstState, place: GstState): void {
  context.stderr(
    `khata tax: warning: GSTIN ${gstin} is registered in ${registered.code} (${registered.name}) but the place of ` +
      `supply is ${place.code} (${place.name}); the place of supply decides the tax`,
  );
}

/** Amounts with exactly two decimals, in the order an invoice prints them. */
function printable(result: GstBreakdown): Record<string, string> {
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
