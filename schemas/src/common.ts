/**
 * Building blocks shared by the command, event and API schemas. Money is always a decimal string (never
 * a JSON number): JSON numbers are binary floats in most parsers.
 */
import Type from 'typebox';

/** A signed amount in rupees with at most four decimals, e.g. `"-12.50"`, `"0.0125"`. */
export const MoneyAmount = Type.String({
  pattern: '^-?\\d{1,15}(\\.\\d{1,4})?$',
  description: 'Amount in rupees as a decimal string (at most 4 decimals)',
  examples: ['349.00', '0.0125'],
});

/** A non-negative amount. */
export const NonNegativeMoneyAmount = Type.String({
  pattern: '^\\d{1,15}(\\.\\d{1,4})?$',
  description: 'Non-negative amount in rupees as a decimal string (at most 4 decimals)',
  examples: ['999.00'],
});

/** A positive amount of whole paise, as gateways and invoices take it. */
export const PositivePaiseAmount = Type.String({
  pattern: '^(?!0+(\\.0{1,2})?$)\\d{1,13}(\\.\\d{1,2})?$',
  description: 'Positive amount in rupees with at most 2 decimals',
  examples: ['500.00'],
});

export const Uuid = Type.String({ format: 'uuid', description: 'A UUID' });

/** An instant in ISO 8601 with a zone, e.g. `2026-11-25T10:00:00.000Z`. */
export const Instant = Type.String({ format: 'date-time' });

/** A calendar date in India Standard Time, `YYYY-MM-DD`. */
export const LocalDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Date (IST), YYYY-MM-DD' });

/** A GST state or union-territory code, `01`–`38` or `97`. */
export const StateCode = Type.String({ pattern: '^\\d{2}$', description: 'GST state code, e.g. 27 for Maharashtra' });

/** A GSTIN's shape; its check character is verified by the domain. */
export const Gstin = Type.String({ pattern: '^[0-9]{2}[0-9A-Z]{13}$', description: 'GSTIN (15 characters)' });

export const BillingMode = Type.Union([Type.Literal('prepaid'), Type.Literal('postpaid')]);
export const BillingCycle = Type.Union([Type.Literal('monthly'), Type.Literal('quarterly'), Type.Literal('annual')]);
export const NumberKind = Type.Union([Type.Literal('toll-free'), Type.Literal('extension')]);

/** Indian toll-free numbers: 1800 followed by 6 or 7 digits. */
export const TollFreeNumber = Type.String({ pattern: '^1800\\d{6,7}$' });
/** An extension within an account: 2 to 6 digits. */
export const Extension = Type.String({ pattern: '^\\d{2,6}$' });
/** A dialled number: digits, optionally led by `+`. */
export const DialledNumber = Type.String({ pattern: '^\\+?\\d{1,20}$' });

export const PlanId = Type.String({
  pattern: '^[a-z][a-z0-9-]{0,39}$',
  description: 'Catalog plan id, e.g. professional',
});
export const AddOnId = Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$', description: 'Catalog add-on id' });

export const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });

export const Contact = Type.Object(
  {
    name: Text(120),
    email: Type.String({ format: 'email', maxLength: 254 }),
    phone: Type.String({ pattern: '^\\+?[0-9 -]{6,20}$' }),
  },
  { additionalProperties: false },
);

export const BillingAddress = Type.Object(
  {
    line1: Text(200),
    line2: Type.Optional(Text(200)),
    city: Text(100),
    stateCode: StateCode,
    postalCode: Type.String({ pattern: '^\\d{6}$', description: 'Indian PIN code' }),
    country: Type.Literal('IN'),
  },
  { additionalProperties: false },
);
